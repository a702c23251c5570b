"""The governed query layer: the one path from the tables to any reader.

Every read of call data (export, dashboard, notebooks, subject access) goes
through :func:`visible_calls`, which admits only processed calls that are not
objected and not past retention (unless held) — whether or not ``purge`` has run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, select
from sqlalchemy.engine import Connection

from analytics.errors import NotFoundError
from analytics.models import QUALITY_CHECKS, QualityReport
from analytics.store.core import Store, iso
from analytics.store.policy import due_for_purge, visible
from analytics.store.schema import (
    abuse,
    abuse_events,
    audit,
    calls,
    category_definitions,
    category_matches,
    holds,
    pii_counts,
    quality,
    rejects,
    segments,
)

# The per-call quality figures: the fields of QualityReport (declared once, in
# analytics.models), the rubric breakdown apart (stored as JSON beside them).
QUALITY_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(QualityReport) if f.name != "breakdown"
)
CALL_FIELDS = (
    "call_id",
    "started_at",
    "agent_id",
    "team",
    "language",
    "duration_s",
    "channel_layout",
)


@dataclass(frozen=True)
class CallFilter:
    """What a reader asks for; every field narrows, None means any."""

    since: datetime | None = None
    until: datetime | None = None
    team: str | Sequence[str] | None = None
    agent: str | Sequence[str] | None = None
    language: str | Sequence[str] | None = None
    call_ids: Sequence[str] | None = None
    flagged: bool | None = None
    # Calls with a current match of this category (or of any of these).
    category: str | Sequence[str] | None = None


def _one_or_many(column: Any, value: str | Sequence[str]) -> ColumnElement[bool]:
    if isinstance(value, str):
        return column == value  # type: ignore[no-any-return]
    return column.in_(list(value))  # type: ignore[no-any-return]


def apply_filter(query: Select[Any], flt: CallFilter) -> Select[Any]:
    if flt.since is not None:
        query = query.where(calls.c.started_at >= iso(flt.since))
    if flt.until is not None:
        query = query.where(calls.c.started_at < iso(flt.until))
    if flt.team:
        query = query.where(_one_or_many(calls.c.team, flt.team))
    if flt.agent:
        query = query.where(_one_or_many(calls.c.agent_id, flt.agent))
    if flt.language:
        query = query.where(_one_or_many(calls.c.language, flt.language))
    if flt.call_ids is not None:
        query = query.where(calls.c.call_id.in_(list(flt.call_ids)))
    if flt.flagged is not None:
        query = query.where(abuse.c.flagged == flt.flagged)
    if flt.category:
        query = query.where(in_category(flt.category))
    return query


def current_match() -> ColumnElement[bool]:
    """A category match computed with the active version of its category."""
    return exists(
        select(category_definitions.c.name).where(
            category_definitions.c.name == category_matches.c.name,
            category_definitions.c.version == category_matches.c.version,
            category_definitions.c.active.is_(True),
        )
    )


def in_category(name: str | Sequence[str]) -> ColumnElement[bool]:
    """A call has a current match of this category (or of any of these)."""
    names = [name] if isinstance(name, str) else list(name)
    return exists(
        select(category_matches.c.call_id).where(
            category_matches.c.call_id == calls.c.call_id,
            category_matches.c.name.in_(names),
            current_match(),
        )
    )


def matches_by_call(conn: Connection, call_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The current category matches of calls (the caller governs which calls it asks)."""
    found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in call_ids}
    if not call_ids:
        return found
    rows = conn.execute(
        select(category_matches.c.call_id, category_matches.c.name, category_matches.c.evidence)
        .where(category_matches.c.call_id.in_(list(call_ids)), current_match())
        .order_by(category_matches.c.call_id, category_matches.c.name)
    )
    for call_id, name, evidence in rows:
        found[call_id].append({"name": name, "evidence": json.loads(evidence)})
    return found


def visible_calls(store: Store, now: datetime, flt: CallFilter | None = None) -> Select[Any]:
    """Calls joined with their quality and abuse summary, governed and filtered."""
    query = (
        select(
            *[calls.c[name] for name in CALL_FIELDS],
            calls.c.language_probability,
            calls.c.redacted_audio_path,
            *[quality.c[name] for name in QUALITY_FIELDS],
            quality.c.breakdown_json,
            abuse.c.flagged.label("abuse_flagged"),
            abuse.c.severity.label("abuse_severity"),
            abuse.c.reviewed.label("abuse_reviewed"),
        )
        .select_from(
            calls.outerjoin(quality, quality.c.call_id == calls.c.call_id).outerjoin(
                abuse, abuse.c.call_id == calls.c.call_id
            )
        )
        .where(visible(store, now))
    )
    return apply_filter(query, flt or CallFilter()).order_by(calls.c.started_at, calls.c.call_id)


def _segments_by_call(conn: Connection, call_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in call_ids}
    rows = conn.execute(
        select(segments)
        .where(segments.c.call_id.in_(call_ids))
        .order_by(segments.c.call_id, segments.c.idx)
    ).mappings()
    for row in rows:
        found[row["call_id"]].append(
            {
                "speaker": row["speaker"],
                "start": row["start_s"],
                "end": row["end_s"],
                "text": row["text"],
                "speaker_confidence": row["speaker_confidence"],
            }
        )
    return found


def _pii_by_call(conn: Connection, call_ids: list[str]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {cid: {} for cid in call_ids}
    for row in conn.execute(
        select(pii_counts).where(pii_counts.c.call_id.in_(call_ids))
    ).mappings():
        found[row["call_id"]][row["entity_type"]] = row["count"]
    return found


def _events_by_call(conn: Connection, call_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {cid: [] for cid in call_ids}
    rows = conn.execute(
        select(abuse_events)
        .where(abuse_events.c.call_id.in_(call_ids))
        .order_by(abuse_events.c.call_id, abuse_events.c.idx)
    ).mappings()
    for row in rows:
        found[row["call_id"]].append(
            {
                "speaker": row["speaker"],
                "start": row["start_s"],
                "end": row["end_s"],
                "category": row["category"],
                "severity": row["severity"],
                "text": row["text"],
            }
        )
    return found


def _record(
    row: Any,
    segs: list[Any],
    pii: dict[str, int],
    events: list[Any],
    categories: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {name: row[name] for name in CALL_FIELDS}
    record["segments"] = segs
    record["pii"] = pii
    record["quality"] = {name: row[name] for name in QUALITY_FIELDS}
    for flag in QUALITY_CHECKS:
        if record["quality"][flag] is not None:
            record["quality"][flag] = bool(record["quality"][flag])
    record["quality"]["breakdown"] = json.loads(row["breakdown_json"] or "[]")
    record["abuse"] = {
        "flagged": bool(row["abuse_flagged"]),
        "severity": row["abuse_severity"] or "none",
        "events": events,
    }
    record["categories"] = categories or []
    return record


def iter_call_records(
    store: Store, now: datetime, flt: CallFilter | None = None, batch_size: int = 500
) -> Iterator[dict[str, Any]]:
    """One nested record per visible call, in the export schema of DESIGN.md.

    Each batch is read in a short transaction of its own, never held open while the
    consumer (an export, a notebook) works: an open read keeps a deletion's old
    pages in the database file. A call that stops being visible meanwhile (objected,
    say) is left out of the batches not yet read.
    """
    query = visible_calls(store, now, flt)
    with store.read() as conn:
        all_ids = list(conn.execute(query.with_only_columns(calls.c.call_id)).scalars())
    for start in range(0, len(all_ids), batch_size):
        wanted = all_ids[start : start + batch_size]
        with store.read() as conn:
            batch = conn.execute(query.where(calls.c.call_id.in_(wanted))).mappings().all()
            ids = [row["call_id"] for row in batch]
            segs = _segments_by_call(conn, ids)
            pii = _pii_by_call(conn, ids)
            events = _events_by_call(conn, ids)
            cats = matches_by_call(conn, ids)
        for row in batch:
            cid = row["call_id"]
            yield _record(row, segs[cid], pii[cid], events[cid], cats[cid])


def get_call(store: Store, call_id: str, now: datetime) -> dict[str, Any]:
    """One visible call with everything about it; NotFoundError when not visible."""
    records = list(iter_call_records(store, now, CallFilter(call_ids=[call_id])))
    if not records:
        raise NotFoundError(
            f"call {call_id}: no such call visible (unknown, objected, expired or unprocessed)"
        )
    return records[0]


def call_rows(store: Store, now: datetime, flt: CallFilter | None = None) -> list[dict[str, Any]]:
    """Flat rows (one per visible call) for tables and DataFrames."""
    with store.read() as conn:
        return [dict(row) for row in conn.execute(visible_calls(store, now, flt)).mappings()]


def segment_rows(
    store: Store, now: datetime, flt: CallFilter | None = None
) -> list[dict[str, Any]]:
    """One row per redacted segment of the visible calls."""
    ids = (
        select(calls.c.call_id)
        .select_from(calls.outerjoin(abuse, abuse.c.call_id == calls.c.call_id))
        .where(visible(store, now))
    )
    ids = apply_filter(ids, flt or CallFilter())
    query = (
        select(
            segments.c.call_id,
            calls.c.started_at,
            calls.c.agent_id,
            calls.c.team,
            calls.c.language,
            segments.c.idx.label("segment"),
            segments.c.speaker,
            segments.c.start_s.label("start"),
            segments.c.end_s.label("end"),
            segments.c.text,
            segments.c.loudness_db,
            segments.c.speaker_confidence,
        )
        .select_from(segments.join(calls, calls.c.call_id == segments.c.call_id))
        .where(segments.c.call_id.in_(ids.scalar_subquery()))
        .order_by(calls.c.started_at, segments.c.call_id, segments.c.idx)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def pii_rows(store: Store, now: datetime, flt: CallFilter | None = None) -> list[dict[str, Any]]:
    ids = apply_filter(select(calls.c.call_id).where(visible(store, now)), flt or CallFilter())
    query = select(pii_counts).where(pii_counts.c.call_id.in_(ids.scalar_subquery()))
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


@dataclass(frozen=True)
class HeldCall:
    """A call's stored row and its litigation hold (None when the call is not held)."""

    call: dict[str, Any]
    hold: dict[str, Any] | None


def call_and_hold(store: Store, call_id: str) -> HeldCall | None:
    """A call's row (whatever its state) and its hold; None for an unknown call.

    For the evidence pack only, which is made for held calls: what a hold keeps
    (the recording of an objected call, say) is read here, the analysis through
    :func:`get_call`.
    """
    with store.read() as conn:
        row = conn.execute(select(calls).where(calls.c.call_id == call_id)).mappings().first()
        if row is None:
            return None
        hold = conn.execute(select(holds).where(holds.c.call_id == call_id)).mappings().first()
    return HeldCall(call=dict(row), hold=dict(hold) if hold else None)


def call_audit_rows(store: Store, call_id: str) -> list[dict[str, Any]]:
    """The audit rows naming one call, oldest first, with their chain hashes."""
    query = select(audit).where(audit.c.call_id == call_id).order_by(audit.c.id)
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def status(store: Store, now: datetime) -> dict[str, Any]:
    """Counts per state (expired-but-not-purged counted as expired) and the rejects."""
    lapsed = and_(
        calls.c.state.not_in(("objected", "expired", "rejected")), due_for_purge(store, now)
    )
    state = case((lapsed, "expired"), else_=calls.c.state).label("state")
    with store.read() as conn:
        counts: dict[Any, Any] = dict(
            conn.execute(select(state, func.count()).group_by(state)).tuples().all()
        )
        reject_rows = conn.execute(
            select(rejects.c.source, rejects.c.row, rejects.c.reason).order_by(rejects.c.id)
        ).all()
        hold_count = conn.execute(select(func.count()).select_from(holds)).scalar_one()
    return {
        "counts": {str(name): int(n) for name, n in counts.items()},
        "holds": int(hold_count),
        "rejects": [
            {"source": src, "row": row or None, "reason": reason}
            for src, row, reason in reject_rows
        ],
    }
