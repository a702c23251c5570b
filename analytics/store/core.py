"""The workspace database: one SQLite file through SQLAlchemy Core.

WAL lets the dashboard read while ``process`` writes; the busy timeout makes
concurrent writers wait instead of failing; ``secure_delete`` overwrites deleted
content with zeros so a purge leaves no readable remains — once the write-ahead
log is checkpointed into the database file and truncated. A reader that holds a
transaction open keeps the old pages in the file until it ends: the checkpoint
never waits for it (short passive attempts), reports what is left
(:class:`Scrub`), and a marker file makes the next command or purge finish the job.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from analytics import clock
from analytics.config import Settings
from analytics.errors import CallqaError, DuplicateError, StoreError
from analytics.store.blobs import LocalBlobStore
from analytics.store.schema import migrate
from analytics.workspace import ensure_layout, init_lock, load_audit_key, load_key, make_private

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# Checkpoint attempts after a deletion: passive ones never wait for a reader nor
# block a writer; the pauses between them add up to about 1.5 s.
CHECKPOINT_ATTEMPTS = 6
CHECKPOINT_FIRST_PAUSE_S = 0.05
# In the workspace while deleted data may still be in the database files.
SCRUB_MARKER = "scrub-pending.json"
# Keys of Connection.info shared with analytics.store.rollups (which imports this module).
ON_COMMIT = "callqa.on_commit"
PENDING_ROLLUP = "callqa.rollup_keys"
# On PostgreSQL, vacuumed after a deletion: every table that holds what a call said.
VACUUMED_TABLES = (
    "segments",
    "abuse_events",
    "abuse",
    "quality",
    "pii_counts",
    "calls",
    "search_docs",
    "category_matches",
    # evaluations of calls: comments, reasons and notes may quote what was said
    "evaluations",
    "evaluation_answers",
    "answer_history",
    "disputes",
    "coaching_notes",
    "coaching_links",
    "calibration_answers",
)


@dataclass(frozen=True)
class Scrub:
    """What a checkpoint left behind: old page versions still in the database files.

    ``frames_left`` counts pages (WAL frames) not yet folded into the database file,
    or folded but still readable in a log that could not be truncated.
    """

    complete: bool
    frames_left: int = 0
    backend: str = "sqlite"

    def summary(self) -> str:
        if self.backend == "postgresql":
            return (
                "deleted; PostgreSQL has vacuumed the old row versions (their space is "
                "reused, not zeroed: keep the database on an encrypted disk)"
            )
        if self.complete:
            return "deleted; no old data left in the database files"
        return (
            f"deleted; {self.frames_left} pages of old data still in the write-ahead log "
            "because a reader is open (another process holds a read transaction); they "
            "will be overwritten at the next command or purge"
        )


def iso(moment: datetime) -> str:
    """UTC, second precision: the one text form of a time in the database."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def utcnow() -> datetime:
    """The product's clock (see :mod:`analytics.clock`)."""
    return clock.now()


POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def _make_engine(settings: Settings) -> Engine:
    # Password hashes and transcripts: the file exists, mode 0600, before SQLite opens it.
    make_private(settings)
    if settings.database_url:
        return _postgres_engine(settings.database_url)
    engine = create_engine(
        f"sqlite:///{settings.db_path}",
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: we emit BEGIN ourselves (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode = WAL",
            f"busy_timeout = {BUSY_TIMEOUT_MS}",
            "secure_delete = ON",
            "foreign_keys = ON",
            "synchronous = NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two writers queue on the busy timeout
        # instead of deadlocking when both upgrade a read lock.
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: str) -> Engine:
    """A PostgreSQL database through psycopg 3 (``database_url``)."""
    scheme = next((s for s in POSTGRES_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        raise StoreError("database_url: only postgresql://... URLs are supported")
    return create_engine(
        "postgresql+psycopg://" + url.removeprefix(scheme),
        pool_pre_ping=True,
        # Each statement is bounded: a lock held by a crashed client must not hang
        # every writer (the SQLite busy timeout's counterpart).
        connect_args={"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"},
    )


def _safe_url(url: str) -> str:
    """A database URL without its password (for messages and logs)."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"


class Store:
    """The database of one workspace. Build with :meth:`open`."""

    # The result of the last checkpoint in this process (None: none yet).
    last_scrub: Scrub | None = None
    # The run of `process` claiming calls through this store ("" outside a run).
    claimant: str = ""

    def __init__(self, settings: Settings, engine: Engine, key: bytes) -> None:
        # Search shards that lost documents: merged (SQLite FTS5) or rewritten
        # (PostgreSQL partitions) at the next checkpoint.
        self.search_dirty: set[int] = set()
        self.settings = settings
        self.engine = engine
        self.key = key

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open (creating on first use) the workspace: folders, key, database schema.

        Safe when several commands start at once on a new workspace: set-up runs under
        the workspace's init lock, and each step finds the work of another done.
        """
        with init_lock(settings):
            ensure_layout(settings)
            key = load_key(settings)
            engine = _make_engine(settings)
            store = cls(settings, engine, key)
            try:
                with store.write() as conn:
                    applied = migrate(conn)
            except OperationalError as exc:
                engine.dispose()
                where = (
                    _safe_url(settings.database_url) if settings.database_url else settings.db_path
                )
                raise StoreError(f"{where}: cannot open the database ({exc.orig})") from None
        if applied:
            log.info("database migrated to version %s", applied[-1])
        return store

    @property
    def blobs(self) -> LocalBlobStore:
        """The files at rest (recordings, redacted audio, access archives)."""
        blobs = self.__dict__.get("_blobs")
        if blobs is None:
            blobs = self.__dict__["_blobs"] = LocalBlobStore(self.settings)
        return blobs

    @property
    def audit_key(self) -> bytes:
        """The audit chain's key (``audit.key``), loaded (or created) once."""
        key = self.__dict__.get("_audit_key")
        if key is None:
            key = self.__dict__["_audit_key"] = load_audit_key(self.settings)
        return key

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (committed on exit, rolled back on error).

        BEGIN IMMEDIATE: the write lock is taken before anything is read, so what a
        writer reads (the audit chain's head, say) cannot change before it commits.
        """
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                conn.info["callqa.store"] = self
                # Work left for the end of the transaction (the dashboard rollups,
                # recomputed once for all the changes): see rollups.tracking.
                hooks: dict[str, Callable[[Connection], None]] = {}
                conn.info[ON_COMMIT] = hooks
                try:
                    yield conn
                    for hook in list(hooks.values()):
                        hook(conn)
                finally:
                    # info lives with the pooled DBAPI connection: leave nothing behind
                    conn.info.pop(ON_COMMIT, None)
                    conn.info.pop(PENDING_ROLLUP, None)
        except IntegrityError:
            # The statement is not repeated: it may hold values a log must not see.
            raise DuplicateError(f"{self.settings.db_path}: a row with this key exists") from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    def checkpoint(self, attempts: int = CHECKPOINT_ATTEMPTS) -> Scrub:
        """Fold the WAL into the database file and truncate it (after a deletion).

        Passive attempts with growing pauses: none waits for a reader or holds up a
        writer. When a reader keeps old pages alive past the last attempt, the result
        says how many, a marker is left in the workspace, and
        :meth:`finish_pending_scrub` (the next command, or a purge) completes it.
        """
        if self.backend != "sqlite":
            self.last_scrub = scrub = self._vacuum_postgres()
            return scrub
        self._merge_search_index()
        pause = CHECKPOINT_FIRST_PAUSE_S
        scrub = self._checkpoint_once()
        for _ in range(attempts - 1):
            if scrub.complete:
                break
            time.sleep(pause)
            pause *= 2
            scrub = self._checkpoint_once()
        self._mark_scrub(scrub)
        self.last_scrub = scrub
        if not scrub.complete:
            # info: the caller reports it (the CLI prints Scrub.summary())
            log.info("checkpoint incomplete: %d frames left (a reader is open)", scrub.frames_left)
        return scrub

    def _merge_search_index(self) -> None:
        """An FTS5 delete leaves the terms in older index segments until they are merged:
        merge the shards that lost documents now (one merge per shard for the whole
        command), so the freed pages (zeroed by secure_delete) hold no deleted word."""
        if not self.search_dirty:
            return
        from analytics.store.search import optimize  # search builds on this module

        with self.write() as conn:
            optimize(conn, self.search_dirty)
        self.search_dirty = set()

    def _vacuum_postgres(self) -> Scrub:
        """PostgreSQL keeps a deleted row's old version in its table file until VACUUM
        marks the space reusable (it is not zeroed) and in the WAL until the segment is
        recycled: vacuum the tables that hold text or figures of calls now, and rewrite
        the search partitions that lost documents (once each for the whole command), so
        that the deleted stems leave their heap and GIN files."""
        from analytics.store.search import rewrite_partitions  # search builds on this module

        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in VACUUMED_TABLES:
                conn.exec_driver_sql(f"VACUUM {table}")
            if self.search_dirty:
                rewrite_partitions(conn, self.search_dirty)
                self.search_dirty = set()
        return Scrub(complete=True, backend="postgresql")

    def _checkpoint_once(self) -> Scrub:
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames < 0:
                return Scrub(complete=True)  # not in WAL mode: nothing is left behind
            if busy or copied < frames:
                return Scrub(
                    complete=False, frames_left=frames - copied if copied < frames else frames
                )
            # Everything is in the database file; truncate the log, whose old frames may
            # still hold deleted text. No waiting: a reader that just started keeps it.
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                busy, frames, copied = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if busy or frames > 0:
                return Scrub(complete=False, frames_left=max(frames, 1))
            return Scrub(complete=True)

    @property
    def _scrub_marker(self) -> Path:
        return self.settings.home / SCRUB_MARKER

    def _mark_scrub(self, scrub: Scrub) -> None:
        marker = self._scrub_marker
        if scrub.complete:
            marker.unlink(missing_ok=True)
            return
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"since": iso(utcnow()), "frames_left": scrub.frames_left}, handle)
        os.replace(tmp, marker)

    def scrub_pending(self) -> bool:
        """Whether a deletion's old pages may still be in the database files."""
        return bool(self._scrub_marker.exists())

    def finish_pending_scrub(self, attempts: int = 3) -> Scrub | None:
        """Complete a checkpoint an open reader held up earlier; None if none is pending."""
        if not self.scrub_pending():
            return None
        scrub = self.checkpoint(attempts=attempts)
        if scrub.complete:
            log.info("old pages left by an earlier deletion are now overwritten")
        return scrub

    def vacuum(self) -> Scrub:
        if self.backend != "sqlite":
            return self.checkpoint()
        with self.engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
        return self.checkpoint()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- a full disk ---------------------------------------------------------------------------

_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_FULL = 13


def disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is the file system or SQLite out of space."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, CallqaError) and current.details.get("errno") in _DISK_FULL_ERRNOS:
            return True
        if isinstance(current, OperationalError):
            current = current.orig
            continue
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
