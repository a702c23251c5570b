"""What ingest asks the database about a recording before importing it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, or_, select

from analytics.store.core import Store
from analytics.store.rights import is_held
from analytics.store.schema import audit, calls, holds, objections


@dataclass(frozen=True)
class Gates:
    """What stands in the way of importing a recording under a call id."""

    clash: bool  # its call_id already names a recording
    clash_sha: str | None  # ...this one (the content hash of the call that has the id)
    objected: bool  # an objection names the call or its caller
    held: bool  # a litigation hold names it


# Built once: one statement answers the questions (ingest asks them per file).
_GATES_QUERY = select(
    exists().where(calls.c.call_id == bindparam("call_id")).label("clash"),
    select(calls.c.audio_sha256)
    .where(calls.c.call_id == bindparam("call_id"))
    .scalar_subquery()
    .label("clash_sha"),
    exists()
    .where(
        or_(
            objections.c.call_id == bindparam("call_id"),
            and_(
                objections.c.caller_hash.is_not(None),
                objections.c.caller_hash.in_(bindparam("caller_hashes", expanding=True)),
            ),
        )
    )
    .label("objected"),
    exists().where(holds.c.call_id == bindparam("call_id")).label("held"),
)


def gates(store: Store, call_id: str, caller_hashes: Sequence[str]) -> Gates:
    """``caller_hashes``: every stored form of the caller's id (empty when unknown)."""
    with store.read() as conn:
        found = conn.execute(
            _GATES_QUERY, {"call_id": call_id, "caller_hashes": list(caller_hashes)}
        ).one()
    return Gates(
        clash=bool(found.clash),
        clash_sha=found.clash_sha,
        objected=bool(found.objected),
        held=bool(found.held),
    )


def held_now(store: Store, call_id: str) -> bool:
    with store.read() as conn:
        return is_held(conn, call_id)


def was_released(store: Store, call_id: str) -> bool:
    """A hold on this call was released once (re-reading a CSV must not put it back)."""
    query = select(audit.c.id).where(audit.c.action == "release", audit.c.call_id == call_id)
    with store.read() as conn:
        return conn.execute(query.limit(1)).first() is not None
