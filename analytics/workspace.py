"""The workspace folder: database, recordings, redacted audio, model cache, secret key."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from analytics.config import Settings
from analytics.errors import UsageError

log = logging.getLogger(__name__)

_KEY_BYTES = 32


def ensure_layout(settings: Settings) -> None:
    """Create the workspace folders (idempotent)."""
    for folder in (
        settings.home,
        settings.recordings_dir,
        settings.redacted_audio_dir,
        settings.model_cache_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)


def load_key(settings: Settings) -> bytes:
    """The workspace's secret key, created once with mode 0600."""
    path = settings.key_path
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(_KEY_BYTES))
            log.info("created workspace key in %s", settings.home)
    text = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise UsageError(f"{path}: not a callqa key (64 hex digits expected)")
    return bytes.fromhex(text)


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
