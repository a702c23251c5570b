"""The work queue: which calls wait, and who works on which.

A call is claimed just before its audio is decoded, in one statement that re-checks
:func:`analytics.store.policy.processable` (not objected, within retention...), so
nothing slips between the check and the claim.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store, iso
from analytics.store.policy import processable
from analytics.store.schema import calls
from analytics.store.writes import set_state


def pending_rows(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Pending calls that may be processed: never interrupted first, in time order;
    then those interrupted fewest times."""
    query = (
        select(calls)
        .where(calls.c.state == "pending", *processable(store, now))
        .order_by(calls.c.attempts, calls.c.started_at, calls.c.call_id)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def interrupted_ids(store: Store) -> set[str]:
    """Pending calls an earlier run was interrupted on."""
    query = select(calls.c.call_id).where(calls.c.state == "pending", calls.c.attempts > 0)
    with store.read() as conn:
        return set(conn.execute(query).scalars())


def state_of(conn: Connection, call_id: str) -> str | None:
    return conn.execute(  # type: ignore[no-any-return]
        select(calls.c.state).where(calls.c.call_id == call_id)
    ).scalar_one_or_none()


def retry_failed(conn: Connection) -> int:
    """Failed calls go back to the queue with their attempts forgotten."""
    result = conn.execute(
        update(calls).where(calls.c.state == "failed").values(state="pending", attempts=0)
    )
    return result.rowcount


# A call a run was killed on this many times (out of memory, a crash in a decoder...) is
# marked failed, so the calls queued behind it go on.
MAX_ATTEMPTS = 3


def interrupted_reason(attempts: int) -> str:
    return (
        f"interrupted {attempts} times during processing (the run was killed while on "
        "this call, e.g. out of memory); not tried again: see max_duration_s, or "
        "'callqa process --retry-failed'"
    )


def claim(conn: Connection, store: Store, call_id: str, now: datetime) -> bool:
    """Move a pending call to processing and count the attempt.

    False if the call is no longer pending or may no longer be processed (objected,
    past retention...): checked in the same statement as the claim.
    """
    result = conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id, calls.c.state == "pending", *processable(store, now))
        .values(state="processing", attempts=calls.c.attempts + 1, updated_at=iso(now))
    )
    return result.rowcount == 1


def requeue_interrupted(conn: Connection, now: datetime) -> tuple[int, list[str]]:
    """Calls left in ``processing`` by a killed run go back to pending.

    Those interrupted MAX_ATTEMPTS times are marked failed instead.

    Returns:
        How many went back to pending, and the ids of those marked failed.
    """
    stuck = conn.execute(
        select(calls.c.call_id, calls.c.attempts).where(calls.c.state == "processing")
    ).all()
    gave_up = sorted(call_id for call_id, attempts in stuck if attempts >= MAX_ATTEMPTS)
    for call_id, attempts in stuck:
        if attempts >= MAX_ATTEMPTS:
            set_state(conn, call_id, "failed", now, error=interrupted_reason(attempts))
    result = conn.execute(
        update(calls)
        .where(calls.c.state == "processing")
        .values(state="pending", updated_at=iso(now))
    )
    return result.rowcount, gave_up


def release_claims(conn: Connection, now: datetime) -> int:
    """Give back the calls in ``processing`` without counting the attempt (the run
    stopped for a reason that is not theirs, e.g. a full disk)."""
    result = conn.execute(
        update(calls)
        .where(calls.c.state == "processing")
        .values(
            state="pending",
            attempts=case((calls.c.attempts > 0, calls.c.attempts - 1), else_=0),
            updated_at=iso(now),
        )
    )
    return result.rowcount
