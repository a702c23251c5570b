"""The rows behind callers' rights and retention: objections, holds, purge, erasure,
rectification. The rules are in :mod:`analytics.governance`; what counts as kept,
due or visible is :mod:`analytics.store.policy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store, iso
from analytics.store.policy import (
    due_for_purge,
    editable,
    held,
    retention_cutoff,
    tombstone_past_retention,
)
from analytics.store.rollups import tracking, tracking_call
from analytics.store.schema import calls, holds, objections, rejects

# --- ids ------------------------------------------------------------------------------


def rename_call(conn: Connection, old: str, new: str) -> None:
    """Give a call a new id in every table that names it (the audit log apart)."""
    for table in (calls, objections, holds):
        conn.execute(update(table).where(table.c.call_id == old).values(call_id=new))


def retirable_ids(conn: Connection, store: Store, now: datetime, opaque_prefix: str) -> list[str]:
    """Tombstones past retention whose id is not opaque yet."""
    query = select(calls.c.call_id).where(
        tombstone_past_retention(store, now), ~calls.c.call_id.startswith(opaque_prefix)
    )
    return list(conn.execute(query).scalars())


# --- objections -----------------------------------------------------------------------


def add_objection(
    conn: Connection, call_id: str | None, caller_hash: str | None, *, actor: str, now: datetime
) -> None:
    reached = [calls.c.call_id == call_id] if call_id else []
    if caller_hash:
        reached.append(calls.c.caller_hash == caller_hash)
    with tracking(conn, or_(*reached)):
        conn.execute(
            insert(objections).values(
                call_id=call_id, caller_hash=caller_hash, filed_at=iso(now), actor=actor
            )
        )


def objection_targets(
    conn: Connection, call_id: str | None, hashes: Sequence[str]
) -> list[dict[str, Any]]:
    """The calls an objection reaches (by id, or by any form of the caller's hash)
    that still hold data."""
    match = calls.c.call_id == call_id if call_id else calls.c.caller_hash.in_(list(hashes))
    rows = conn.execute(select(calls).where(match, calls.c.state != "expired")).mappings()
    return [dict(row) for row in rows]


def keep_recording_link(
    conn: Connection, call_id: str, audio_path: str, caller_hash: str | None
) -> None:
    """A tombstone whose recording a hold keeps stays linked to it and to its caller."""
    conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id)
        .values(audio_path=audio_path, caller_hash=caller_hash)
    )


def objection_rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(select(objections).order_by(objections.c.id.desc())).mappings()
        return [dict(row) for row in rows]


def caller_objected(conn: Connection, hashes: Sequence[str]) -> bool:
    query = select(exists().where(objections.c.caller_hash.in_(list(hashes))))
    return bool(conn.execute(query).scalar())


# --- holds ----------------------------------------------------------------------------


def is_held(conn: Connection, call_id: str) -> bool:
    query = select(holds.c.call_id).where(holds.c.call_id == call_id)
    return conn.execute(query).first() is not None


def remove_hold(conn: Connection, call_id: str) -> bool:
    return conn.execute(delete(holds).where(holds.c.call_id == call_id)).rowcount > 0


def hold_rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(select(holds).order_by(holds.c.held_at.desc())).mappings()
        return [dict(row) for row in rows]


# --- purge ----------------------------------------------------------------------------


def due_rows(conn: Connection, store: Store, now: datetime) -> list[dict[str, Any]]:
    """Calls past retention, not held, with data left."""
    rows = conn.execute(select(calls).where(due_for_purge(store, now))).mappings()
    return [dict(row) for row in rows]


def count_due(store: Store, now: datetime) -> int:
    with store.read() as conn:
        query = select(calls.c.call_id).where(due_for_purge(store, now))
        return len(conn.execute(query).all())


def unheld_objected_links(conn: Connection) -> list[tuple[str, str | None]]:
    """Objected calls still linked to a recording or a caller, whose hold was lifted."""
    query = select(calls.c.call_id, calls.c.audio_path).where(
        calls.c.state == "objected",
        or_(calls.c.audio_path.is_not(None), calls.c.caller_hash.is_not(None)),
        ~held(),
    )
    return [(call_id, path) for call_id, path in conn.execute(query).all()]


def unlink_recording(conn: Connection, call_id: str) -> None:
    conn.execute(
        update(calls).where(calls.c.call_id == call_id).values(audio_path=None, caller_hash=None)
    )


def delete_old_rejects(conn: Connection, store: Store, now: datetime) -> int:
    cutoff = retention_cutoff(store, now)
    return conn.execute(delete(rejects).where(rejects.c.last_seen < cutoff)).rowcount


def referenced_files(store: Store) -> set[str]:
    """Every recording and redacted audio file a row still points at (workspace-relative)."""
    with store.read() as conn:
        pairs = conn.execute(select(calls.c.audio_path, calls.c.redacted_audio_path)).all()
    return {path for pair in pairs for path in pair if path}


# --- subject rights -------------------------------------------------------------------


def caller_calls(conn: Connection, hashes: Sequence[str]) -> list[dict[str, Any]]:
    """A caller's calls not purged yet (past retention or not), oldest first."""
    rows = conn.execute(
        select(calls)
        .where(calls.c.caller_hash.in_(list(hashes)), calls.c.state != "expired")
        .order_by(calls.c.started_at, calls.c.call_id)
    ).mappings()
    return [dict(row) for row in rows]


def all_caller_calls(conn: Connection, hashes: Sequence[str]) -> list[dict[str, Any]]:
    rows = conn.execute(select(calls).where(calls.c.caller_hash.in_(list(hashes)))).mappings()
    return [dict(row) for row in rows]


def upgrade_caller_hash(conn: Connection, old: Sequence[str], new: str) -> None:
    """Hashes written by older versions become the current form, now the number is known."""
    with tracking(conn, calls.c.caller_hash.in_([*old, new])):
        conn.execute(
            update(calls).where(calls.c.caller_hash.in_(list(old))).values(caller_hash=new)
        )


def blank_fields(conn: Connection, call_id: str, names: Sequence[str]) -> None:
    conn.execute(
        update(calls).where(calls.c.call_id == call_id).values({name: None for name in names})
    )


# --- rectification --------------------------------------------------------------------


def is_editable(conn: Connection, store: Store, call_id: str, now: datetime) -> bool:
    query = select(calls.c.call_id).where(calls.c.call_id == call_id, editable(store, now))
    return conn.execute(query).first() is not None


def update_call(conn: Connection, call_id: str, values: dict[str, Any], now: datetime) -> None:
    with tracking_call(conn, call_id):
        conn.execute(
            update(calls).where(calls.c.call_id == call_id).values(updated_at=iso(now), **values)
        )
