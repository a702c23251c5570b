"""The workspace folder: database, recordings, redacted audio, model cache, secret key."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics.config import Settings
from analytics.errors import UsageError
from analytics.fields import national_form, parse_caller_id

log = logging.getLogger(__name__)

_KEY_BYTES = 32
EVIDENCE_KEY_FILE = "evidence.key"
AUDIT_KEY_FILE = "audit.key"


INIT_LOCK_FILE = "init.lock"


@contextmanager
def init_lock(settings: Settings) -> Iterator[None]:
    """Hold the workspace's set-up lock (an fcntl lock on ``init.lock``).

    Commands started at once on a new workspace would otherwise race to create its
    folders, keys and database schema; under the lock one does it and the others find
    it done. The lock is held only while opening, never while working.
    """
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 like every file of the workspace, whatever the caller's umask.
    fd = os.open(settings.home / INIT_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as handle:
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


# Files and folders the product creates: its owner's only (0600 files, 0700 folders).
PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def use_private_umask() -> int:
    """Make every file this process creates private to its user; returns the old umask.

    The commands call it first: the workspace holds password hashes, transcripts,
    recordings and subject-access archives, which the usual umask (022) would leave
    readable by every local account.
    """
    return os.umask(PRIVATE_UMASK)


@contextmanager
def private_umask() -> Iterator[None]:
    """Within the block, new files are 0600 and new folders 0700 (whatever the umask)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def _tighten(path: Path) -> None:
    """Take group and other permissions away (an old workspace, a copied file)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, current & 0o700)
            log.info("made %s private (was %o)", path.name, current)
    except FileNotFoundError:
        pass
    except OSError as exc:  # not ours to change: status reports it
        log.warning("cannot make %s private (%s)", path, exc.strerror)


def make_private(settings: Settings) -> None:
    """The workspace folders 0700 and the database files 0600 (also in old workspaces).

    The database file is created empty with mode 0600 before SQLite opens it: SQLite
    gives its ``-wal`` and ``-shm`` files the mode of the database file.
    """
    for folder in (
        settings.home,
        settings.recordings_dir,
        settings.redacted_audio_dir,
        settings.model_cache_dir,
    ):
        _tighten(folder)
    db = settings.db_path
    if not db.exists():
        fd = os.open(db, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        os.close(fd)
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        _tighten(path)


def loose_permissions(settings: Settings) -> list[tuple[Path, int]]:
    """Everything in the workspace that other local users may read or enter, with its mode."""
    found: list[tuple[Path, int]] = []
    home = settings.home
    if not home.is_dir():
        return found
    for folder, dirs, files in os.walk(home):
        for name in [".", *dirs, *files]:
            path = Path(folder) / name if name != "." else Path(folder)
            try:
                mode = stat.S_IMODE(path.lstat().st_mode)
            except OSError:
                continue
            if not path.is_symlink() and mode & 0o077:
                found.append((path, mode))
    return found


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


def audit_key_path(settings: Settings) -> Path:
    return settings.home / AUDIT_KEY_FILE


def load_audit_key(settings: Settings) -> bytes:
    """The key of the audit chain's HMACs and checkpoints, apart from the other two.

    Not ``secret.key``: whoever checks the audit log (an auditor, the DPO on another
    machine) needs this key, and with the pseudonym key they could hash candidate
    phone numbers and find a caller's calls. Not ``evidence.key``: that one is handed
    to a court's expert with a pack, and with it they could rewrite the audit chain
    that settles disputes over packs. Each key also rotates apart from the others.
    It lives outside the database, so that write access to the database alone (a
    copied file, an injected statement) cannot re-hash a rewritten chain.
    """
    return _load_or_create_key(settings, audit_key_path(settings))


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


# Hashes written before caller ids were normalised to E.164 (schema version 3) are
# kept with this prefix: the number they came from cannot be recovered from them, so
# they are matched by recomputing the old form from a number given again.
LEGACY_PREFIX = "v1:"


def normalise_caller_id(number: str, region: str = "FR") -> str:
    """Canonical form of a phone number: E.164, so '+33 6 12…', '06 12…' and
    '33612…' hash alike. ValueError when it is not a phone number."""
    return parse_caller_id(number, region)


def hash_caller(key: bytes, number: str, region: str = "FR") -> str:
    """Keyed hash (HMAC-SHA256) of a caller id in E.164: the only form that is stored.

    Raises:
        ValueError: the caller id is not a phone number (the reason never repeats it).
    """
    return _hmac(key, parse_caller_id(number, region))


def caller_hashes(key: bytes, number: str, region: str = "FR") -> tuple[str, ...]:
    """Every stored form that may stand for this caller: the E.164 hash first, then
    the hashes the first versions wrote (marked :data:`LEGACY_PREFIX`), recomputed
    from the spellings of the number the old normalisation knew."""
    e164 = parse_caller_id(number, region)
    spellings = {number, e164, national_form(e164), e164.lstrip("+"), "00" + e164[1:]}
    legacy = sorted({LEGACY_PREFIX + _hmac(key, _legacy_canonical(s)) for s in spellings})
    return (_hmac(key, e164), *legacy)


def _legacy_canonical(number: str) -> str:
    """The normalisation of schema versions 1-2 (digits, French numbers in national form)."""
    digits = re.sub(r"[^\d+]", "", number.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    return digits.lstrip("+") or number.strip().lower()


def _hmac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def opaque_call_id(key: bytes, call_id: str) -> str:
    """The id an erased or purged call keeps: a keyed hash of its old id, which may have
    held the caller's number. Stable (the same id always gives the same one) and itself
    a valid call id; an id already opaque is returned as is."""
    if call_id.startswith(OPAQUE_PREFIX):
        return call_id
    return OPAQUE_PREFIX + _hmac(key, "call-id:" + call_id)[:32]


OPAQUE_PREFIX = "gone-"


def relative_to_home(settings: Settings, path: Path) -> str:
    return str(path.relative_to(settings.home))
