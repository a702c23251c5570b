"""The work queue: which calls wait, and who works on which.

A call is claimed just before its audio is decoded, in one statement that re-checks
:func:`analytics.store.policy.processable` (not objected, within retention...), so
nothing slips between the check and the claim. On PostgreSQL, where several runs
share the queue, claims lock their rows with ``FOR UPDATE SKIP LOCKED``
(:func:`claim_batch`): concurrent claimers never get the same call, nor wait.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store, iso
from analytics.store.policy import processable
from analytics.store.schema import calls, runs
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


def is_mine(conn: Connection, call_id: str, run_id: str) -> bool:
    """Whether the call is in processing, claimed by ``run_id`` ("" : by no run)."""
    found = conn.execute(
        select(calls.c.call_id).where(
            calls.c.call_id == call_id,
            calls.c.state == "processing",
            calls.c.claimed_by == (run_id or None),
        )
    ).first()
    return found is not None


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


# --- runs and their leases ---------------------------------------------------------------

# A run says it lives this often; one silent for LEASE_S is dead and its calls go back
# to the queue. Several runs may share one PostgreSQL queue (several machines).
HEARTBEAT_S = 10.0
LEASE_S = 60.0


def start_run(store: Store, run_id: str, *, host: str, pid: int, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            insert(runs).values(
                run_id=run_id, host=host, pid=pid, started_at=iso(now), heartbeat_s=time.time()
            )
        )


def beat(store: Store, run_id: str) -> None:
    with store.write() as conn:
        conn.execute(update(runs).where(runs.c.run_id == run_id).values(heartbeat_s=time.time()))


def end_run(store: Store, run_id: str) -> None:
    with store.write() as conn:
        conn.execute(delete(runs).where(runs.c.run_id == run_id))


def _live_runs(lease_s: float | None, run_id: str) -> Any:
    """The runs whose claims stand: this one, and (with a lease) those heard from
    within it. Without a lease only this run lives (one run per workspace, locked)."""
    if lease_s is None:
        return select(runs.c.run_id).where(runs.c.run_id == run_id)
    fresh = time.time() - lease_s
    return select(runs.c.run_id).where(or_(runs.c.run_id == run_id, runs.c.heartbeat_s >= fresh))


# --- claims -------------------------------------------------------------------------------


def claim(conn: Connection, store: Store, call_id: str, now: datetime, run_id: str = "") -> bool:
    """Move a pending call to processing for ``run_id`` and count the attempt.

    False if the call is no longer pending or may no longer be processed (objected,
    past retention...): checked in the same statement as the claim, so of two runs
    claiming one call only one succeeds. On PostgreSQL through :func:`claim_batch`
    (a call another run is claiming at this instant is skipped, not waited for).
    """
    if conn.dialect.name == "postgresql":
        return claim_batch(conn, store, now, run_id, call_ids=[call_id], limit=1) == [call_id]
    result = conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id, calls.c.state == "pending", *processable(store, now))
        .values(
            state="processing",
            attempts=calls.c.attempts + 1,
            updated_at=iso(now),
            claimed_by=run_id or None,
        )
    )
    return result.rowcount == 1


def claim_batch(
    conn: Connection,
    store: Store,
    now: datetime,
    run_id: str = "",
    *,
    call_ids: list[str] | None = None,
    limit: int = 1,
) -> list[str]:
    """Claim up to ``limit`` pending calls (among ``call_ids`` if given), queue order.

    On PostgreSQL the candidates are locked with ``SELECT ... FOR UPDATE SKIP
    LOCKED``: several runs (machines) claiming at once each get other calls, and
    none waits for another's claim. On SQLite the transaction already holds the
    write lock (``BEGIN IMMEDIATE``): claims are serialised. Returns the ids claimed.
    """
    query = (
        select(calls.c.call_id)
        .where(calls.c.state == "pending", *processable(store, now))
        .order_by(calls.c.attempts, calls.c.started_at, calls.c.call_id)
        .limit(limit)
    )
    if call_ids is not None:
        query = query.where(calls.c.call_id.in_(call_ids))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=calls)
    chosen = list(conn.execute(query).scalars())
    if not chosen:
        return []
    conn.execute(
        update(calls)
        .where(calls.c.call_id.in_(chosen), calls.c.state == "pending")
        .values(
            state="processing",
            attempts=calls.c.attempts + 1,
            updated_at=iso(now),
            claimed_by=run_id or None,
        )
    )
    return chosen


def requeue_interrupted(
    conn: Connection, now: datetime, run_id: str = "", lease_s: float | None = None
) -> tuple[int, list[str]]:
    """Calls left in ``processing`` by a dead run go back to pending.

    A run is dead when it is not in the live runs (see :func:`_live_runs`). Those
    interrupted MAX_ATTEMPTS times are marked failed instead.

    Returns:
        How many went back to pending, and the ids of those marked failed.
    """
    orphaned = and_(
        calls.c.state == "processing",
        or_(calls.c.claimed_by.is_(None), calls.c.claimed_by.not_in(_live_runs(lease_s, run_id))),
    )
    stuck = dict(conn.execute(select(calls.c.call_id, calls.c.attempts).where(orphaned)).all())
    gave_up = sorted(call_id for call_id, attempts in stuck.items() if attempts >= MAX_ATTEMPTS)
    for call_id in gave_up:
        set_state(conn, call_id, "failed", now, error=interrupted_reason(stuck[call_id]))
    back = [call_id for call_id, attempts in stuck.items() if attempts < MAX_ATTEMPTS]
    if back:
        conn.execute(
            update(calls)
            .where(calls.c.call_id.in_(back))
            .values(state="pending", updated_at=iso(now), claimed_by=None)
        )
    if lease_s is not None:  # forget runs long dead
        conn.execute(delete(runs).where(runs.c.heartbeat_s < time.time() - 10 * lease_s))
    return len(back), gave_up


def give_back(conn: Connection, call_id: str, now: datetime, run_id: str) -> str | None:
    """This run's worker on a call died (a lost Ray node): the call goes back to pending,
    its attempt counted (it may have caused it), or failed after MAX_ATTEMPTS.

    Returns the call's new state, or None when it was not this run's call in processing.
    """
    attempts = conn.execute(
        select(calls.c.attempts).where(
            calls.c.call_id == call_id,
            calls.c.state == "processing",
            calls.c.claimed_by == (run_id or None),
        )
    ).scalar_one_or_none()
    if attempts is None:
        return None
    if attempts >= MAX_ATTEMPTS:
        set_state(conn, call_id, "failed", now, error=interrupted_reason(attempts))
        return "failed"
    conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id)
        .values(state="pending", updated_at=iso(now), claimed_by=None)
    )
    return "pending"


def release_claims(conn: Connection, now: datetime, run_id: str = "") -> int:
    """Give back this run's calls in ``processing`` without counting the attempt (the
    run stopped for a reason that is not theirs, e.g. a full disk)."""
    mine = calls.c.claimed_by == run_id if run_id else calls.c.claimed_by.is_(None)
    result = conn.execute(
        update(calls)
        .where(calls.c.state == "processing", or_(mine, calls.c.claimed_by.is_(None)))
        .values(
            state="pending",
            attempts=case((calls.c.attempts > 0, calls.c.attempts - 1), else_=0),
            updated_at=iso(now),
            claimed_by=None,
        )
    )
    return result.rowcount
