"""The workspace database: one SQLite file through SQLAlchemy Core.

WAL lets the dashboard read while ``process`` writes; the busy timeout makes
concurrent writers wait instead of failing; ``secure_delete`` overwrites deleted
content with zeros so a purge leaves no readable remains.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from analytics import clock
from analytics.config import Settings
from analytics.errors import StoreError
from analytics.store.schema import migrate
from analytics.workspace import ensure_layout, init_lock, load_key

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000


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


def _make_engine(settings: Settings) -> Engine:
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


class Store:
    """The database of one workspace. Build with :meth:`open`."""

    def __init__(self, settings: Settings, engine: Engine, key: bytes) -> None:
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
                raise StoreError(
                    f"{settings.db_path}: cannot open the database ({exc.orig})"
                ) from None
        if applied:
            log.info("database migrated to version %s", applied[-1])
        return store

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (committed on exit, rolled back on error)."""
        with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it (after a purge)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def vacuum(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
