"""One error base class with specific subclasses; the CLI maps them to exit codes.

Messages name files, rows, call ids and reasons, never transcript text or a
personal value.
"""

from __future__ import annotations

from typing import Any


class CallqaError(Exception):
    """Base class for every error callqa raises on purpose."""

    exit_code = 3

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class UsageError(CallqaError):
    """The command was called wrongly (bad option, unknown call id...)."""

    exit_code = 2


class ConfigError(UsageError):
    """config.toml or a CALLQA_* variable is invalid."""


class InputError(CallqaError):
    """One input (file or CSV row) cannot be imported; the others go on."""

    exit_code = 1

    def __init__(self, source: str, reason: str, row: int | None = None) -> None:
        where = f"{source}:{row}" if row is not None else source
        super().__init__(f"{where}: {reason}", source=source, reason=reason, row=row)
        self.source = source
        self.reason = reason
        self.row = row


class AudioError(CallqaError):
    """A recording cannot be decoded."""


class ModelError(CallqaError):
    """A model cannot be found, assembled or loaded."""


class StoreError(CallqaError):
    """The workspace database refused an operation."""


class DuplicateError(StoreError):
    """A row already exists with this key (another process wrote it first)."""


class UnredactedTextError(StoreError):
    """Something tried to store a transcript that did not come out of redaction."""


class NotFoundError(UsageError):
    """A call, user or other named thing does not exist (or is not visible)."""


class GovernanceError(CallqaError):
    """A governance rule forbids the operation (objected, expired, held...)."""


class AuthError(CallqaError):
    """Login failed or the role may not do this."""


class NotHeldError(GovernanceError):
    """An evidence pack is made only for a call under a litigation hold."""

    exit_code = 3


class RoleError(AuthError):
    """The user's role may not do this; the attempt is audited."""


class DiskFullError(StoreError):
    """The disk filled up while writing; what was in progress is pending again."""


class ClusterError(CallqaError):
    """The Ray cluster cannot be joined, or lost every worker (calls stay pending)."""


class FormError(InputError):
    """An evaluation form file is invalid: names the file and the field."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        super().__init__(source, f"{field}: {reason}" if field else reason)
        self.field = field
