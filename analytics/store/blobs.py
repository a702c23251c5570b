"""Files at rest — recordings, redacted audio, subject-access archives — and their one owner.

Every module that writes, reads or deletes such a file asks a :class:`BlobStore`
(``store.blobs``). A blob is named by a key, the path relative to the workspace
(``recordings/ab/ab12….wav``), which is what the database stores. The local folder
store is the default; an S3-compatible store would implement the same methods (a
local path for decoders is then a downloaded temporary copy).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from analytics.config import Settings
from analytics.errors import InputError

log = logging.getLogger(__name__)

BlobKind = Literal["recordings", "redacted-audio", "subject-requests"]
KINDS: tuple[BlobKind, ...] = ("recordings", "redacted-audio", "subject-requests")

TEMP_PREFIX = ".import-"
_STALE_TEMP_S = 3600.0  # a temp copy without a writer's pid is stale after this


class BlobStore(ABC):
    """Where the files at rest live."""

    @staticmethod
    def key(kind: BlobKind, name: str) -> str:
        """The key of blob ``name`` of ``kind`` (what the database stores)."""
        return f"{kind}/{name}"

    @abstractmethod
    def put(self, kind: BlobKind, name: str, source: Path, sha256: str) -> str:
        """Copy ``source`` in as ``kind/name`` (atomic), checking its content hash.

        Returns the key. A blob already there is kept (a killed run left it whole).

        Raises:
            InputError: the file's content no longer has that hash (it changed).
        """

    @abstractmethod
    def flush(self, keys: Iterable[str]) -> None:
        """Make these blobs durable before any row names them."""

    @abstractmethod
    @contextmanager
    def writing(self, kind: BlobKind, name: str) -> Iterator[Path]:
        """A local path to write a new blob at; it appears under its key, whole, on exit."""

    @abstractmethod
    def local_path(self, key: str, kind: BlobKind | None = None) -> Path | None:
        """A readable local file for the key, or None when there is no such blob (or
        when the key would lead outside ``kind``'s folder)."""

    @abstractmethod
    def read(self, key: str, kind: BlobKind | None = None) -> bytes | None: ...

    @abstractmethod
    def delete(self, key: str | None) -> bool:
        """Delete a blob; True if it existed."""

    @abstractmethod
    def sweep(self, kind: BlobKind, keep: set[str], older_than_s: float) -> int:
        """Delete the blobs of ``kind`` not in ``keep`` and older than the grace time."""

    @abstractmethod
    def sweep_before(self, kind: BlobKind, moment: datetime) -> int:
        """Delete the blobs of ``kind`` last written before ``moment``."""


class LocalBlobStore(BlobStore):
    """Blobs as files under the workspace, mode 0600 (the workspace is 0700)."""

    def __init__(self, settings: Settings) -> None:
        self.home = settings.home

    def folder(self, kind: BlobKind) -> Path:
        return self.home / kind

    def key_of(self, path: Path) -> str:
        return str(path.relative_to(self.home))

    # --- writing -----------------------------------------------------------------------

    def put(self, kind: BlobKind, name: str, source: Path, sha256: str) -> str:
        target = self.folder(kind) / name
        key = self.key_of(target)
        if target.exists():  # a run killed after the rename left it; the rename made it whole
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # the pid in the name lets a later run tell a dead writer's leftovers from a live one's
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha256:
                raise InputError(str(source), "the file changed while it was being imported")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def flush(self, keys: Iterable[str]) -> None:
        files = [self.home / key for key in keys]
        if not files:
            return
        syncfs = _syncfs()
        if syncfs is not None:
            fd = os.open(self.home, os.O_RDONLY)
            try:
                if syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
        for path in [*files, *{f.parent for f in files}]:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @contextmanager
    def writing(self, kind: BlobKind, name: str) -> Iterator[Path]:
        target = self.folder(kind) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        yield target

    # --- reading -----------------------------------------------------------------------

    def local_path(self, key: str | None, kind: BlobKind | None = None) -> Path | None:
        if not key:
            return None
        path = (self.home / key).resolve()
        root = (self.folder(kind) if kind else self.home).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def read(self, key: str | None, kind: BlobKind | None = None) -> bytes | None:
        path = self.local_path(key, kind)
        return path.read_bytes() if path else None

    # --- deleting ----------------------------------------------------------------------

    def delete(self, key: str | None) -> bool:
        if not key:
            return False
        path = self.home / key
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def sweep(self, kind: BlobKind, keep: set[str], older_than_s: float) -> int:
        folder = self.folder(kind)
        if not folder.is_dir():
            return 0
        cutoff = self.file_system_now().timestamp() - older_than_s
        removed = 0
        for path in folder.rglob("*"):
            if not path.is_file() or self.key_of(path) in keep:
                continue
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def sweep_before(self, kind: BlobKind, moment: datetime) -> int:
        folder = self.folder(kind)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.glob("*.zip"):
            if path.stat().st_mtime < moment.timestamp():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def sweep_stale_temps(self) -> int:
        """Delete temp copies left by ingests killed mid-copy; returns the count."""
        removed = 0
        now = time.time()
        folder = self.folder("recordings")
        for tmp in [*folder.glob(f"{TEMP_PREFIX}*"), *folder.glob(f"*/{TEMP_PREFIX}*")]:
            alive = _writer_alive(tmp.name)
            try:
                age = now - tmp.stat().st_mtime
            except FileNotFoundError:
                continue
            if alive is False or (alive is None and age > _STALE_TEMP_S):
                tmp.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d temp files left by an interrupted ingest", removed)
        return removed

    def file_system_now(self) -> datetime:
        """The file system's clock, read from a file created now in the workspace.

        A file's age is judged on the clock that dated it (the kernel's), not on the
        process clock, which may run elsewhere (a test's, or a host's skewed clock).
        """
        folder = self.folder("recordings")
        folder.mkdir(parents=True, exist_ok=True)
        # named like a temp copy (pid inside): one a kill leaves is swept at the next run
        prefix = f"{TEMP_PREFIX}{os.getpid()}-clock-"
        with tempfile.NamedTemporaryFile(dir=folder, prefix=prefix) as probe:
            return datetime.fromtimestamp(os.fstat(probe.fileno()).st_mtime, UTC)

    def set_time(self, key: str, moment: datetime) -> None:
        """Date a blob (an access archive's age is counted on the product's clock)."""
        os.utime(self.home / key, (moment.timestamp(), moment.timestamp()))


def _writer_alive(name: str) -> bool | None:
    """Whether the process that wrote a temp file still runs (None: name has no pid)."""
    pid_text = name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _syncfs() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None
