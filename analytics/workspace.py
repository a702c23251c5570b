"""The workspace folder: database, recordings, redacted audio, model cache, secret key."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics.config import Settings
from analytics.errors import UsageError

log = logging.getLogger(__name__)

_KEY_BYTES = 32
EVIDENCE_KEY_FILE = "evidence.key"


INIT_LOCK_FILE = "init.lock"


@contextmanager
def init_lock(settings: Settings) -> Iterator[None]:
    """Hold the workspace's set-up lock (an fcntl lock on ``init.lock``).

    Commands started at once on a new workspace would otherwise race to create its
    folders, keys and database schema; under the lock one does it and the others find
    it done. The lock is held only while opening, never while working.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    with (settings.home / INIT_LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_layout(settings: Settings) -> None:
    """Create the workspace folders (idempotent, safe to run from several processes)."""
    for folder in (
        settings.home,
        settings.recordings_dir,
        settings.redacted_audio_dir,
        settings.model_cache_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)


def load_key(settings: Settings) -> bytes:
    """The workspace's secret key (caller-id pseudonyms), created once with mode 0600."""
    return _load_or_create_key(settings, settings.key_path)


def evidence_key_path(settings: Settings) -> Path:
    return settings.home / EVIDENCE_KEY_FILE


def load_evidence_key(settings: Settings, *, create: bool = True) -> bytes:
    """The key that signs evidence packs (HMAC-SHA256), apart from the pseudonym key.

    It is meant to be shown to whoever checks a pack (a court's expert), which the
    pseudonym key must never be: with that one, anyone can hash candidate phone
    numbers and find a caller's calls. Two keys also rotate apart.

    Raises:
        UsageError: ``create`` is False and the workspace has no evidence key yet,
            or the file is not a key.
    """
    path = evidence_key_path(settings)
    if not create and not path.exists():
        raise UsageError(f"{path}: no evidence key in this workspace (no pack was exported)")
    return _load_or_create_key(settings, path)


def read_key_file(path: Path) -> bytes:
    """A key file of 64 hex digits (a workspace key, or one handed to a verifier)."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the key ({exc.strerror})") from None
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise UsageError(f"{path}: not a callqa key (64 hex digits expected)")
    return bytes.fromhex(text)


def _load_or_create_key(settings: Settings, path: Path) -> bytes:
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        _create_key(path)
    return read_key_file(path)


def _create_key(path: Path) -> None:
    """Write a new key whole, then link it into place: the key file appears complete or
    not at all, and if two processes race, the first link wins and both read it."""
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(_KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(staging, path)  # fails if the key exists: never replaces one
        except FileExistsError:
            return
        log.info("created %s in %s", path.name, path.parent)
    finally:
        os.unlink(staging)


def normalise_caller_id(number: str) -> str:
    """Canonical form of a phone number, so '+33 6 12…' and '06 12…' hash alike."""
    digits = re.sub(r"[^\d+]", "", number.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    return digits.lstrip("+") or number.strip().lower()


def hash_caller(key: bytes, number: str) -> str:
    """Keyed hash (HMAC-SHA256) of a caller id: the only form that is stored."""
    canonical = normalise_caller_id(number)
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def relative_to_home(settings: Settings, path: Path) -> str:
    return str(path.relative_to(settings.home))
