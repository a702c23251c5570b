"""The rows of evaluations: forms, automatic and human answers, their history,
acknowledgements and disputes, coaching notes and calibration sessions.

The rules are in :mod:`analytics.evaluations`. Every read of what a call's evaluation
says goes through :func:`analytics.store.policy.visible`: an objected, erased, expired
or private call's evaluation is never shown. :func:`delete_for_call` is called
wherever a call's derived data is deleted (objection, erasure, purge).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection

from analytics.models import QUALITY_MEASURES
from analytics.store.core import Store, iso
from analytics.store.policy import visible
from analytics.store.schema import (
    abuse,
    answer_history,
    calibration_answers,
    calibration_calls,
    calibration_sessions,
    call_evidence,
    calls,
    coaching_links,
    coaching_notes,
    disputes,
    evaluation_answers,
    evaluations,
    forms,
    quality,
)

FIGURE_COLUMNS = QUALITY_MEASURES  # what an automatic answer may rest on


# --- forms -----------------------------------------------------------------------------


def form_rows(conn: Connection) -> list[dict[str, Any]]:
    query = select(forms).order_by(forms.c.name, forms.c.version)
    return [dict(row) for row in conn.execute(query).mappings()]


def form_row(conn: Connection, name: str, version: int | None = None) -> dict[str, Any] | None:
    """A form by name and version (the latest version when None)."""
    query = select(forms).where(forms.c.name == name)
    if version is not None:
        query = query.where(forms.c.version == version)
    row = conn.execute(query.order_by(forms.c.version.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def active_form_row(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(forms).where(forms.c.active.is_(True)).limit(1)).mappings().first()
    return dict(row) if row else None


def insert_form(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(forms).values(**values))


def activate_form(conn: Connection, name: str, version: int) -> None:
    conn.execute(update(forms).values(active=False))
    conn.execute(
        update(forms).where(forms.c.name == name, forms.c.version == version).values(active=True)
    )


# --- automatic evaluations -------------------------------------------------------------


def save_call_evidence(conn: Connection, call_id: str, evidence: dict[str, list[int]]) -> None:
    conn.execute(delete(call_evidence).where(call_evidence.c.call_id == call_id))
    conn.execute(insert(call_evidence).values(call_id=call_id, evidence_json=json.dumps(evidence)))


def insert_evaluations(
    conn: Connection, rows: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]]
) -> None:
    """New current evaluations; the calls' earlier ones stay as history."""
    if not rows:
        return
    ids = [row["call_id"] for row in rows]
    conn.execute(
        update(evaluations)
        .where(evaluations.c.call_id.in_(ids), evaluations.c.current.is_(True))
        .values(current=False)
    )
    conn.execute(insert(evaluations), list(rows))
    if answers:
        conn.execute(insert(evaluation_answers), list(answers))


def human_answer_rows(conn: Connection, call_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The human answers of these calls' current evaluations (before a rescore), each
    with the reason of its latest history row (rescore carries them)."""
    if not call_ids:
        return []
    earlier = answer_history.alias("earlier")
    latest = (
        select(func.max(earlier.c.id))
        .where(
            earlier.c.evaluation_id == evaluation_answers.c.evaluation_id,
            earlier.c.question_id == evaluation_answers.c.question_id,
        )
        .correlate(evaluation_answers)
        .scalar_subquery()
    )
    query = (
        select(
            evaluations.c.call_id,
            evaluations.c.form_name,
            evaluations.c.form_version,
            evaluation_answers.c.question_id,
            evaluation_answers.c.final_value,
            evaluation_answers.c.answered_by,
            evaluation_answers.c.answered_at,
            answer_history.c.reason,
        )
        .select_from(
            evaluations.join(
                evaluation_answers,
                evaluation_answers.c.evaluation_id == evaluations.c.evaluation_id,
            ).outerjoin(answer_history, answer_history.c.id == latest)
        )
        .where(
            evaluations.c.call_id.in_(list(call_ids)),
            evaluations.c.current.is_(True),
            evaluation_answers.c.answered_by.is_not(None),
        )
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def add_history_rows(conn: Connection, values: Sequence[dict[str, Any]]) -> None:
    if values:
        conn.execute(insert(answer_history), list(values))


def still_visible(
    conn: Connection, store: Store, call_ids: Sequence[str], now: datetime
) -> set[str]:
    query = select(calls.c.call_id).where(calls.c.call_id.in_(list(call_ids)), visible(store, now))
    return set(conn.execute(query).scalars())


def count_visible(store: Store, now: datetime) -> int:
    with store.read() as conn:
        query = select(func.count()).select_from(calls).where(visible(store, now))
        return int(conn.execute(query).scalar_one())


def figure_batches(
    store: Store, now: datetime, batch_size: int = 2000
) -> Iterator[list[dict[str, Any]]]:
    """The stored figures of every visible call, in batches (keyset on call id), each
    read in a short transaction of its own."""
    after = ""
    base = (
        select(
            calls.c.call_id,
            quality.c.breakdown_json,
            *[quality.c[name] for name in FIGURE_COLUMNS],
            abuse.c.flagged.label("abuse_flagged"),
            call_evidence.c.evidence_json,
        )
        .select_from(
            calls.join(quality, quality.c.call_id == calls.c.call_id)
            .outerjoin(abuse, abuse.c.call_id == calls.c.call_id)
            .outerjoin(call_evidence, call_evidence.c.call_id == calls.c.call_id)
        )
        .where(visible(store, now))
        .order_by(calls.c.call_id)
        .limit(batch_size)
    )
    while True:
        with store.read() as conn:
            rows = [dict(r) for r in conn.execute(base.where(calls.c.call_id > after)).mappings()]
        if not rows:
            return
        yield rows
        after = rows[-1]["call_id"]


def visible_id_batches(
    store: Store, now: datetime, batch_size: int = 20_000
) -> Iterator[list[str]]:
    """The ids of every visible call in call id order, in batches (keyset), each read
    in a short transaction (a calibration sample draws from them)."""
    after = ""
    base = select(calls.c.call_id).where(visible(store, now)).order_by(calls.c.call_id)
    while True:
        with store.read() as conn:
            query = base.where(calls.c.call_id > after).limit(batch_size)
            ids = list(conn.execute(query).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


# --- reading one call's evaluation -----------------------------------------------------


def _visible_evaluation(store: Store, now: datetime) -> Select[Any]:
    return (
        select(evaluations, calls.c.agent_id, calls.c.team, calls.c.started_at)
        .select_from(evaluations.join(calls, calls.c.call_id == evaluations.c.call_id))
        .where(visible(store, now))
    )


def evaluation_row(
    conn: Connection, store: Store, evaluation_id: str, now: datetime
) -> dict[str, Any] | None:
    query = _visible_evaluation(store, now).where(evaluations.c.evaluation_id == evaluation_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def current_evaluation_row(
    conn: Connection, store: Store, call_id: str, now: datetime
) -> dict[str, Any] | None:
    query = _visible_evaluation(store, now).where(
        evaluations.c.call_id == call_id, evaluations.c.current.is_(True)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def call_evaluation_rows(
    conn: Connection, store: Store, call_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Every evaluation of a visible call, newest first (the history of rescoring)."""
    query = _visible_evaluation(store, now).where(evaluations.c.call_id == call_id)
    order = (evaluations.c.created_at.desc(), evaluations.c.current.desc())
    return [dict(row) for row in conn.execute(query.order_by(*order)).mappings()]


def answer_rows(conn: Connection, evaluation_id: str) -> list[dict[str, Any]]:
    """The answers of an evaluation the caller has already read through the policy."""
    query = select(evaluation_answers).where(evaluation_answers.c.evaluation_id == evaluation_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def history_rows(conn: Connection, evaluation_id: str) -> list[dict[str, Any]]:
    query = (
        select(answer_history)
        .where(answer_history.c.evaluation_id == evaluation_id)
        .order_by(answer_history.c.id)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def previous_evaluation_ref(conn: Connection, call_id: str, evaluation_id: str) -> str | None:
    """The "NAME@N" of the call's evaluation created just before this one (rescore
    carries human answers from it), for a call the caller has read through the policy."""
    this = evaluations.alias("this")
    created = select(this.c.created_at).where(this.c.evaluation_id == evaluation_id)
    query = (
        select(evaluations.c.form_name, evaluations.c.form_version)
        .where(
            evaluations.c.call_id == call_id,
            evaluations.c.evaluation_id != evaluation_id,
            evaluations.c.created_at <= created.scalar_subquery(),
        )
        .order_by(evaluations.c.created_at.desc(), evaluations.c.evaluation_id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return f"{row[0]}@{int(row[1])}" if row else None


def set_answer(
    conn: Connection, evaluation_id: str, question_id: str, value: str, *, by: str, at: datetime
) -> None:
    conn.execute(
        update(evaluation_answers)
        .where(
            evaluation_answers.c.evaluation_id == evaluation_id,
            evaluation_answers.c.question_id == question_id,
        )
        # answered in this version: no longer the answer rescore carried
        .values(final_value=value, answered_by=by, answered_at=iso(at), carried_from=None)
    )


def add_history(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(answer_history).values(**values))


def update_evaluation(conn: Connection, evaluation_id: str, **values: Any) -> None:
    conn.execute(
        update(evaluations).where(evaluations.c.evaluation_id == evaluation_id).values(**values)
    )


# --- disputes --------------------------------------------------------------------------


def insert_dispute(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(disputes).values(**values).returning(disputes.c.id))
    return int(result.scalar_one())


def dispute_rows(
    conn: Connection,
    store: Store,
    now: datetime,
    *,
    status: str | None = None,
    evaluation_id: str | None = None,
    agent_id: str | None = None,
) -> list[dict[str, Any]]:
    """Disputes of visible calls, oldest first."""
    query = (
        select(disputes, calls.c.agent_id, calls.c.team)
        .select_from(disputes.join(calls, calls.c.call_id == disputes.c.call_id))
        .where(visible(store, now))
        .order_by(disputes.c.filed_at, disputes.c.id)
    )
    if status is not None:
        query = query.where(disputes.c.status == status)
    if evaluation_id is not None:
        query = query.where(disputes.c.evaluation_id == evaluation_id)
    if agent_id is not None:
        query = query.where(calls.c.agent_id == agent_id)
    return [dict(row) for row in conn.execute(query).mappings()]


def resolve_dispute(conn: Connection, dispute_id: int, **values: Any) -> None:
    conn.execute(update(disputes).where(disputes.c.id == dispute_id).values(**values))


# --- coaching --------------------------------------------------------------------------


def insert_note(conn: Connection, values: dict[str, Any], links: Sequence[tuple[str, int]]) -> int:
    note_id = int(
        conn.execute(
            insert(coaching_notes).values(**values).returning(coaching_notes.c.id)
        ).scalar_one()
    )
    if links:
        conn.execute(
            insert(coaching_links),
            [{"note_id": note_id, "call_id": c, "segment_idx": s} for c, s in links],
        )
    return note_id


def note_rows(
    conn: Connection, store: Store, now: datetime, agent_id: str | None = None
) -> list[dict[str, Any]]:
    """Coaching notes, newest first, each with its links to calls still visible."""
    query = select(coaching_notes).order_by(coaching_notes.c.created_at.desc())
    if agent_id is not None:
        query = query.where(coaching_notes.c.agent_id == agent_id)
    notes = [dict(row) for row in conn.execute(query).mappings()]
    if not notes:
        return []
    links = conn.execute(
        select(coaching_links.c.note_id, coaching_links.c.call_id, coaching_links.c.segment_idx)
        .select_from(coaching_links.join(calls, calls.c.call_id == coaching_links.c.call_id))
        .where(coaching_links.c.note_id.in_([n["id"] for n in notes]), visible(store, now))
        .order_by(coaching_links.c.call_id, coaching_links.c.segment_idx)
    ).all()
    for note in notes:
        note["links"] = [(c, s) for n, c, s in links if n == note["id"]]
    return notes


def note_row(conn: Connection, note_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(coaching_notes).where(coaching_notes.c.id == note_id)).mappings()
    found = row.first()
    return dict(found) if found else None


def update_note(conn: Connection, note_id: int, **values: Any) -> None:
    conn.execute(update(coaching_notes).where(coaching_notes.c.id == note_id).values(**values))


# --- calibration -----------------------------------------------------------------------


def insert_session(conn: Connection, values: dict[str, Any], call_ids: Sequence[str]) -> int:
    session_id = int(
        conn.execute(
            insert(calibration_sessions).values(**values).returning(calibration_sessions.c.id)
        ).scalar_one()
    )
    conn.execute(
        insert(calibration_calls), [{"session_id": session_id, "call_id": c} for c in call_ids]
    )
    return session_id


def session_rows(conn: Connection) -> list[dict[str, Any]]:
    query = select(calibration_sessions).order_by(calibration_sessions.c.id.desc())
    return [dict(row) for row in conn.execute(query).mappings()]


def session_row(conn: Connection, session_id: int) -> dict[str, Any] | None:
    query = select(calibration_sessions).where(calibration_sessions.c.id == session_id)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def session_call_ids(conn: Connection, store: Store, session_id: int, now: datetime) -> list[str]:
    """The session's calls that are still visible."""
    query = (
        select(calibration_calls.c.call_id)
        .select_from(calibration_calls.join(calls, calls.c.call_id == calibration_calls.c.call_id))
        .where(calibration_calls.c.session_id == session_id, visible(store, now))
        .order_by(calibration_calls.c.call_id)
    )
    return list(conn.execute(query).scalars())


def save_calibration_answers(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(
            delete(calibration_answers).where(
                calibration_answers.c.session_id == row["session_id"],
                calibration_answers.c.call_id == row["call_id"],
                calibration_answers.c.evaluator == row["evaluator"],
                calibration_answers.c.question_id == row["question_id"],
            )
        )
    if rows:
        conn.execute(insert(calibration_answers), list(rows))


def calibration_answer_rows(
    conn: Connection, store: Store, session_id: int, now: datetime, evaluator: str | None = None
) -> list[dict[str, Any]]:
    query = (
        select(calibration_answers)
        .select_from(
            calibration_answers.join(calls, calls.c.call_id == calibration_answers.c.call_id)
        )
        .where(calibration_answers.c.session_id == session_id, visible(store, now))
    )
    if evaluator is not None:
        query = query.where(calibration_answers.c.evaluator == evaluator)
    return [dict(row) for row in conn.execute(query).mappings()]


def automatic_answer_rows(
    conn: Connection,
    store: Store,
    call_ids: Sequence[str],
    form_name: str,
    form_version: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The latest automatic evaluation of these calls under one form version."""
    query = (
        select(
            evaluations.c.call_id,
            evaluations.c.automatic_score,
            evaluations.c.created_at,
            evaluation_answers.c.question_id,
            evaluation_answers.c.automatic_value,
        )
        .select_from(
            evaluations.join(calls, calls.c.call_id == evaluations.c.call_id).join(
                evaluation_answers,
                evaluation_answers.c.evaluation_id == evaluations.c.evaluation_id,
            )
        )
        .where(
            evaluations.c.call_id.in_(list(call_ids)),
            evaluations.c.form_name == form_name,
            evaluations.c.form_version == form_version,
            visible(store, now),
        )
        .order_by(evaluations.c.created_at)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


# --- finding calls ---------------------------------------------------------------------


@dataclass(frozen=True)
class CallQuery:
    """A page of the call list: filters (None: any), sort and position."""

    agent: str | None = None
    team: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    max_score: float | None = None
    flagged: bool | None = None
    status: str | None = None  # evaluation status; "none": not evaluated
    disputed: bool | None = None
    sort: str = "started_at"  # started_at | score | final_score | agent_id
    descending: bool = True
    limit: int = 50
    offset: int = 0


SORTS = ("started_at", "score", "final_score", "agent_id")


def _open_dispute() -> ColumnElement[bool]:
    return exists(
        select(disputes.c.id).where(
            disputes.c.evaluation_id == evaluations.c.evaluation_id, disputes.c.status == "open"
        )
    )


def _call_list(store: Store, now: datetime, q: CallQuery, *, walk: bool = False) -> Select[Any]:
    """The governed call list of ``q``, unsorted. ``walk``: a walk's chunk query,
    whose calls come from a list of ids: SQLite is told that the status condition is
    usually true, so that, without statistics, it never reads every call of that
    status from ix_evaluations_status for each chunk instead of the ids' rows."""
    current = and_(evaluations.c.call_id == calls.c.call_id, evaluations.c.current.is_(True))
    query = (
        select(
            calls.c.call_id,
            calls.c.started_at,
            calls.c.agent_id,
            calls.c.team,
            calls.c.duration_s,
            quality.c.score,
            abuse.c.flagged,
            abuse.c.severity,
            evaluations.c.evaluation_id,
            evaluations.c.form_name,
            evaluations.c.form_version,
            evaluations.c.automatic_score,
            evaluations.c.final_score,
            evaluations.c.status,
        )
        .select_from(
            # every visible (done) call has its quality row: an inner join lets a sort
            # by score walk the score index
            calls.join(quality, quality.c.call_id == calls.c.call_id)
            .outerjoin(abuse, abuse.c.call_id == calls.c.call_id)
            .outerjoin(evaluations, current)
        )
        .where(visible(store, now))
    )
    conditions: list[ColumnElement[bool]] = []
    if q.agent:
        conditions.append(calls.c.agent_id == q.agent)
    if q.team:
        conditions.append(calls.c.team == q.team)
    if q.since is not None:
        conditions.append(calls.c.started_at >= iso(q.since))
    if q.until is not None:
        conditions.append(calls.c.started_at < iso(q.until))
    score = func.coalesce(evaluations.c.final_score, quality.c.score)
    if q.min_score is not None:
        conditions.append(score >= q.min_score)
    if q.max_score is not None:
        conditions.append(score <= q.max_score)
    if q.flagged is not None:
        # "=", not "IS": a condition that rejects NULL turns the outer join inner, so
        # the count may read the flagged calls from the abuse index
        conditions.append(abuse.c.flagged == (true() if q.flagged else false()))
    if q.status == "none":
        conditions.append(evaluations.c.evaluation_id.is_(None))
    elif q.status:
        status = evaluations.c.status == q.status
        hinted = walk and store.backend == "sqlite"
        conditions.append(func.likely(status) if hinted else status)
    if q.disputed is not None:
        conditions.append(_open_dispute() if q.disputed else ~_open_dispute())
    return query.where(*conditions)


# The match count stops here: counting two million governed rows for a page header
# would cost more than the page itself.
MAX_COUNT = 1_000


# A page walks the index of its sort (keyset: the sort key, then call id) in
# chunks, checking each chunk's calls through the governed query, and stops once the
# page is full: newest first walks the start times (a team's own when a team is
# asked), the score sorts an index on that score. A filter the index does not hold
# (a score range, the abuse flag, a status, a dispute) then costs the rows walked
# until the page is full, never a sort of every match. A walk that reads this many
# index entries without filling the page (a rare filter) gives way to the plain
# sorted query.
WALK_FIRST = 200
WALK_CHUNK_MAX = 4_000
WALK_MAX = 20_000


def _walk_source(q: CallQuery) -> tuple[Any, Any, list[ColumnElement[bool]]]:
    """The index a sort walks: (sort column, call id column, conditions)."""
    if q.sort == "score":
        return quality.c.score, quality.c.call_id, []
    if q.sort == "final_score":
        return evaluations.c.final_score, evaluations.c.call_id, [evaluations.c.current.is_(True)]
    # started_at: ix_calls_started_walk, or ix_calls_team_started for one team
    where: list[ColumnElement[bool]] = []
    if q.team:
        where.append(calls.c.team == q.team)
    if q.since is not None:
        where.append(calls.c.started_at >= iso(q.since))
    if q.until is not None:
        where.append(calls.c.started_at < iso(q.until))
    return calls.c.started_at, calls.c.call_id, where


def _walkable(conn: Connection, store: Store, q: CallQuery) -> bool:
    """Whether to walk: an agent's calls are few and indexed (sorting them beats
    walking). Newest first, the plain query already reads the start-time index in
    order unless a filter outside it (score range, flag, status, dispute) makes
    SQLite's planner read another table first and sort every match (PostgreSQL's
    walks the index itself under the LIMIT: there the walk measured 2-3x slower);
    calls without a start time sort apart on each backend, so their presence (rare:
    held calls only) leaves the page to the plain query."""
    if q.agent or q.sort not in ("started_at", "score", "final_score"):
        return False
    if q.sort != "started_at":
        return True
    if store.backend != "sqlite":
        return False
    outside = (q.min_score, q.max_score, q.flagged, q.status, q.disputed)
    if all(value is None for value in outside):
        return False
    if q.since is not None or q.until is not None:
        return True
    unstarted = select(calls.c.call_id).where(calls.c.started_at.is_(None))
    if q.team:
        unstarted = unstarted.where(calls.c.team == q.team)
    return conn.execute(unstarted.limit(1)).first() is None


def _walk(
    conn: Connection, store: Store, now: datetime, q: CallQuery
) -> list[dict[str, Any]] | None:
    """One page in its sort's order, walking that sort's index; None: give up."""
    key, call_id, where = _walk_source(q)
    sort_key = {
        "score": quality.c.score,
        "final_score": evaluations.c.final_score,
        "started_at": calls.c.started_at,
    }[q.sort]
    need = q.offset + q.limit
    if q.descending:
        order = (key.desc(), call_id.desc())
        page_order = (sort_key.desc(), calls.c.call_id.desc())
    else:
        order = (key.asc(), call_id.asc())
        page_order = (sort_key.asc(), calls.c.call_id.asc())
    governed = _call_list(store, now, q, walk=True)
    found: list[dict[str, Any]] = []
    after: tuple[Any, Any] | None = None
    size, walked = max(WALK_FIRST, 2 * need), 0
    while walked < WALK_MAX:
        candidates = select(key, call_id).where(key.is_not(None), *where)
        if after is not None:
            position = tuple_(key, call_id)
            beyond = position < tuple_(*after) if q.descending else position > tuple_(*after)
            candidates = candidates.where(beyond)
        chunk = conn.execute(candidates.order_by(*order).limit(size)).all()
        if chunk:
            ids = [row[1] for row in chunk]
            rows = conn.execute(
                governed.where(calls.c.call_id.in_(ids)).order_by(*page_order)
            ).mappings()
            found += [dict(row) for row in rows]
        if len(found) >= need:
            return found[q.offset : need]
        if len(chunk) < size:  # the index is read: the calls without that score last
            rest = governed.where(sort_key.is_(None)).order_by(*page_order[1:])
            rows = conn.execute(rest.limit(need - len(found))).mappings()
            found += [dict(row) for row in rows]
            return found[q.offset : need]
        after = (chunk[-1][0], chunk[-1][1])
        walked += size
        size = min(2 * size, WALK_CHUNK_MAX)
    return None


def find_calls(store: Store, now: datetime, q: CallQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of visible calls and how many match in all, up to :data:`MAX_COUNT`
    (``MAX_COUNT + 1``: more than that).

    Sorted by a score, calls without one come last either way (on both backends).
    """
    column = {
        "started_at": calls.c.started_at,
        "score": quality.c.score,
        "final_score": evaluations.c.final_score,
        "agent_id": calls.c.agent_id,
    }[q.sort]
    by_score = q.sort in ("score", "final_score")
    ordered = column.desc() if q.descending else column.asc()
    if by_score:
        ordered = ordered.nulls_last()
    tie = calls.c.call_id.desc() if q.descending else calls.c.call_id.asc()
    query = _call_list(store, now, q)
    with store.read() as conn:
        page = _walk(conn, store, now, q) if _walkable(conn, store, q) else None
        if page is None:
            rows = conn.execute(query.order_by(ordered, tie).limit(q.limit).offset(q.offset))
            page = [dict(row) for row in rows.mappings()]
        capped = query.with_only_columns(calls.c.call_id).limit(MAX_COUNT + 1).subquery()
        total = conn.execute(select(func.count()).select_from(capped)).scalar_one()
    return page, int(total)


# --- data science and subject access ---------------------------------------------------


def evaluation_answer_rows(
    store: Store, now: datetime, call_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """One row per visible call × evaluation × question, oldest call first."""
    query = (
        select(
            evaluations.c.call_id,
            calls.c.started_at,
            calls.c.agent_id,
            calls.c.team,
            calls.c.language,
            evaluations.c.evaluation_id,
            evaluations.c.form_name,
            evaluations.c.form_version,
            evaluations.c.current,
            evaluations.c.status,
            evaluations.c.created_at.label("evaluated_at"),
            evaluations.c.automatic_score,
            evaluations.c.final_score,
            evaluation_answers.c.question_id,
            evaluation_answers.c.automatic_value,
            evaluation_answers.c.final_value,
            evaluation_answers.c.answered_by,
            evaluation_answers.c.answered_at,
        )
        .select_from(
            evaluations.join(calls, calls.c.call_id == evaluations.c.call_id).join(
                evaluation_answers,
                evaluation_answers.c.evaluation_id == evaluations.c.evaluation_id,
            )
        )
        .where(visible(store, now))
        .order_by(
            calls.c.started_at,
            evaluations.c.call_id,
            evaluations.c.created_at,
            evaluation_answers.c.question_id,
        )
    )
    if call_ids is not None:
        query = query.where(evaluations.c.call_id.in_(list(call_ids)))
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


# --- deletion with the call ------------------------------------------------------------


def delete_for_call(conn: Connection, call_id: str) -> None:
    """Delete every evaluation row about a call: its evaluations, answers, history,
    disputes, the coaching notes linked to it, its calibration answers and evidence.

    What may stay: forms, calibration sessions (name, evaluators) and the audit log's
    counts, none of which says anything about the call.
    """
    ids = select(evaluations.c.evaluation_id).where(evaluations.c.call_id == call_id)
    notes = select(coaching_links.c.note_id).where(coaching_links.c.call_id == call_id)
    note_ids = list(conn.execute(notes).scalars())
    if note_ids:
        conn.execute(delete(coaching_links).where(coaching_links.c.note_id.in_(note_ids)))
        conn.execute(delete(coaching_notes).where(coaching_notes.c.id.in_(note_ids)))
    conn.execute(delete(disputes).where(disputes.c.call_id == call_id))
    conn.execute(delete(answer_history).where(answer_history.c.evaluation_id.in_(ids)))
    conn.execute(delete(evaluation_answers).where(evaluation_answers.c.evaluation_id.in_(ids)))
    conn.execute(delete(evaluations).where(evaluations.c.call_id == call_id))
    for table in (calibration_answers, calibration_calls, call_evidence):
        conn.execute(delete(table).where(table.c.call_id == call_id))


def call_owner(conn: Connection, call_id: str) -> dict[str, Any] | None:
    """A call's agent and state, whatever the state (for an agent's own-call checks)."""
    query = select(calls.c.call_id, calls.c.agent_id, calls.c.state).where(
        calls.c.call_id == call_id
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def current_evaluations(
    store: Store, call_ids: Sequence[str], now: datetime
) -> dict[str, dict[str, Any]]:
    """The current evaluation of each of these visible calls, with its answers (export)."""
    if not call_ids:
        return {}
    query = (
        select(
            evaluations.c.call_id,
            evaluations.c.form_name,
            evaluations.c.form_version,
            evaluations.c.status,
            evaluations.c.automatic_score,
            evaluations.c.final_score,
            evaluation_answers.c.question_id,
            evaluation_answers.c.automatic_value,
            evaluation_answers.c.final_value,
            evaluation_answers.c.answered_by,
        )
        .select_from(
            evaluations.join(calls, calls.c.call_id == evaluations.c.call_id).outerjoin(
                evaluation_answers,
                evaluation_answers.c.evaluation_id == evaluations.c.evaluation_id,
            )
        )
        .where(
            evaluations.c.call_id.in_(list(call_ids)),
            evaluations.c.current.is_(True),
            visible(store, now),
        )
        .order_by(evaluations.c.call_id, evaluation_answers.c.question_id)
    )
    found: dict[str, dict[str, Any]] = {}
    with store.read() as conn:
        for row in conn.execute(query).mappings():
            record = found.setdefault(
                row["call_id"],
                {
                    "form": row["form_name"],
                    "version": int(row["form_version"]),
                    "status": row["status"],
                    "automatic_score": row["automatic_score"],
                    "final_score": row["final_score"],
                    "answers": [],
                },
            )
            if row["question_id"] is not None:
                record["answers"].append(
                    {
                        "question": row["question_id"],
                        "automatic": row["automatic_value"],
                        "final": row["final_value"],
                        "by": row["answered_by"],
                    }
                )
    return found


def subject_records(
    store: Store, call_ids: Sequence[str], now: datetime
) -> dict[str, dict[str, Any]]:
    """Everything the evaluations hold about these calls (subject access): every
    evaluation with its answers and their history, the disputes and coaching notes."""
    out: dict[str, dict[str, Any]] = {c: {"evaluations": [], "coaching": []} for c in call_ids}
    if not call_ids:
        return out
    with store.read() as conn:
        for call_id in call_ids:
            for row in call_evaluation_rows(conn, store, call_id, now):
                evaluation_id = row["evaluation_id"]
                out[call_id]["evaluations"].append(
                    {
                        "form": row["form_name"],
                        "version": int(row["form_version"]),
                        "current": bool(row["current"]),
                        "created_at": row["created_at"],
                        "status": row["status"],
                        "automatic_score": row["automatic_score"],
                        "final_score": row["final_score"],
                        "answers": [
                            {
                                k: a[k]
                                for k in (
                                    "question_id",
                                    "automatic_value",
                                    "final_value",
                                    "answered_by",
                                    "answered_at",
                                )
                            }
                            for a in answer_rows(conn, evaluation_id)
                        ],
                        "history": [
                            {
                                k: h[k]
                                for k in (
                                    "question_id",
                                    "kind",
                                    "previous_value",
                                    "value",
                                    "evaluator",
                                    "reason",
                                    "at",
                                )
                            }
                            for h in history_rows(conn, evaluation_id)
                        ],
                        "disputes": [
                            {
                                k: d[k]
                                for k in (
                                    "comment",
                                    "status",
                                    "filed_at",
                                    "resolution",
                                    "resolved_at",
                                )
                            }
                            for d in dispute_rows(conn, store, now, evaluation_id=evaluation_id)
                        ],
                    }
                )
        links = conn.execute(
            select(
                coaching_links.c.call_id,
                coaching_notes.c.note,
                coaching_notes.c.status,
                coaching_notes.c.created_at,
            )
            .select_from(
                coaching_links.join(coaching_notes, coaching_notes.c.id == coaching_links.c.note_id)
            )
            .where(coaching_links.c.call_id.in_(list(call_ids)))
        ).mappings()
        for link in links:
            out[link["call_id"]]["coaching"].append(
                {"note": link["note"], "status": link["status"], "created_at": link["created_at"]}
            )
    return out
