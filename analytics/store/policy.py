"""The one retention and visibility policy: what may be kept, and what may be seen.

Every rule the product promised its callers about time, holds and objections is
here, once: the governed reads (:mod:`analytics.store.reads`), the aggregates, the
ingest gate, the work queue, purge, holds and rectification all ask these functions.

- A call is **kept** while it started less than ``retention_days`` ago, or while a
  litigation hold is on it. Past that it is gone in law, whether or not ``purge``
  has deleted its files yet.
- A call is **objected** when its state says so, or an objection names it or its
  caller (the tables are checked as well as the state, so a read that races an
  objection still never shows it).
- A call is **visible** when it is processed, not objected and kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from analytics.store.core import Store, iso
from analytics.store.schema import calls, holds, objections

# States whose data is already deleted (only a tombstone row is left).
DELETED_STATES = ("expired", "objected")


def retention_start(store: Store, now: datetime) -> datetime:
    """The earliest start a call may have and still be kept without a hold."""
    return now - timedelta(days=store.settings.retention_days)


def retention_cutoff(store: Store, now: datetime) -> str:
    """:func:`retention_start` as stored (ISO text, which sorts as time does)."""
    return iso(retention_start(store, now))


def is_past_retention(store: Store, started_at: str | None, now: datetime) -> bool:
    """A stored start (ISO text) older than retention; a hold is not considered."""
    return bool(started_at) and str(started_at) < retention_cutoff(store, now)


def started_past_retention(store: Store, started_at: datetime, now: datetime) -> bool:
    """The same rule for a start not stored yet (the ingest gate)."""
    return started_at < retention_start(store, now)


def held(call_id_column: Any = calls.c.call_id) -> ColumnElement[bool]:
    """A litigation hold names the call."""
    return exists(select(holds.c.call_id).where(holds.c.call_id == call_id_column))


def kept(store: Store, now: datetime) -> ColumnElement[bool]:
    """Within retention, or held."""
    return or_(calls.c.started_at >= retention_cutoff(store, now), held())


def not_objected() -> ColumnElement[bool]:
    by_call = exists(select(objections.c.id).where(objections.c.call_id == calls.c.call_id))
    by_caller = exists(
        select(objections.c.id).where(
            objections.c.caller_hash.is_not(None), objections.c.caller_hash == calls.c.caller_hash
        )
    )
    return and_(calls.c.state != "objected", ~by_call, ~by_caller)


class _Usually(FunctionElement[bool]):
    """A condition true of most rows: SQLite is told (``likely``), so that it never
    drives a read from the index of that column (``state = 'done'`` holds for nearly
    every call: the range of start times is the index to read). Elsewhere: as is."""

    type = Boolean()
    name = "usually"
    inherit_cache = True


@compiles(_Usually)
def _usually_default(element: _Usually, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_Usually, "sqlite")
def _usually_sqlite(element: _Usually, compiler: Any, **kw: Any) -> str:
    return f"likely({compiler.process(element.clauses, **kw)})"


def visible(store: Store, now: datetime) -> ColumnElement[bool]:
    """The one read predicate: processed, not objected, kept."""
    done: ColumnElement[bool] = _Usually(calls.c.state == "done")  # type: ignore[assignment]
    return and_(done, not_objected(), kept(store, now))


def processable(store: Store, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What a pending call must still satisfy when a worker claims it."""
    return (calls.c.audio_path.is_not(None), not_objected(), kept(store, now))


def editable(store: Store, now: datetime) -> ColumnElement[bool]:
    """Rectification: data left (not a tombstone) and kept."""
    return and_(calls.c.state.not_in(DELETED_STATES), kept(store, now))


def due_for_purge(store: Store, now: datetime) -> ColumnElement[bool]:
    """Calls with data left, past retention and not held.

    Objected calls are already tombstones (a recording a hold keeps is handled apart).
    """
    return and_(
        calls.c.state.not_in(DELETED_STATES),
        calls.c.started_at < retention_cutoff(store, now),
        ~held(),
    )


def tombstone_past_retention(store: Store, now: datetime) -> ColumnElement[bool]:
    """Tombstones past retention and not held: their id is retired at purge."""
    return and_(
        calls.c.state.in_(DELETED_STATES),
        calls.c.started_at < retention_cutoff(store, now),
        ~held(),
    )


def access_as_of(store: Store, starts: list[datetime], now: datetime) -> datetime:
    """The moment at which every one of these calls was still kept.

    Subject access reads a caller's calls past retention too (they are still held
    until purge runs); the governed reads are asked as of this moment, read-only.
    """
    span = timedelta(days=store.settings.retention_days)
    return min([now, *(start + span for start in starts)])
