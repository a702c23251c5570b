"""Category definitions (versioned) and each call's matches, with their evidence.

A definition changed (a new ``source``) gets the next version; the old version stays
for the record, inactive. A match names the version it was computed with; reads show
only matches of active versions, so a changed rule never shows stale matches while
the calls are re-categorised. Matches are deleted with the call's other derived rows
(``writes.DERIVED_TABLES``). Every read of calls goes through the one read predicate
(:func:`analytics.store.policy.visible`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from analytics.models import QUALITY_CHECKS, QUALITY_MEASURES
from analytics.store.aggregates import week_start
from analytics.store.core import Store, iso
from analytics.store.policy import visible
from analytics.store.reads import (
    CallFilter,
    apply_filter,
    current_match,
    in_category,
    matches_by_call,
)
from analytics.store.schema import (
    abuse,
    calls,
    category_definitions,
    category_matches,
    quality,
    segments,
)

__all__ = [
    "Definition",
    "active_definitions",
    "call_inputs",
    "count_visible",
    "counts",
    "definitions",
    "in_category",
    "matches_by_call",
    "names_by_call",
    "remove_definition",
    "replace_matches",
    "save_definition",
    "visible_call_ids",
    "weekly",
]


@dataclass(frozen=True)
class Definition:
    name: str
    version: int
    source: str  # canonical JSON (analytics.insights.categories.from_source)
    created_at: str
    actor: str | None


# --- definitions ----------------------------------------------------------------------------


def active_definitions(conn: Connection) -> list[Definition]:
    rows = conn.execute(
        select(category_definitions)
        .where(category_definitions.c.active.is_(True))
        .order_by(category_definitions.c.name)
    ).mappings()
    return [
        Definition(r["name"], r["version"], r["source"], r["created_at"], r["actor"]) for r in rows
    ]


def definitions(store: Store) -> list[Definition]:
    with store.read() as conn:
        return active_definitions(conn)


def save_definition(
    conn: Connection, name: str, source: str, *, actor: str, now: datetime
) -> int | None:
    """Store a definition; its new version, or None when it is unchanged."""
    latest = conn.execute(
        select(
            category_definitions.c.version,
            category_definitions.c.source,
            category_definitions.c.active,
        )
        .where(category_definitions.c.name == name)
        .order_by(category_definitions.c.version.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.source == source and latest.active:
        return None
    version = (latest.version if latest is not None else 0) + 1
    conn.execute(
        update(category_definitions).where(category_definitions.c.name == name).values(active=False)
    )
    conn.execute(
        insert(category_definitions).values(
            name=name, version=version, source=source, created_at=iso(now), actor=actor, active=True
        )
    )
    return version


def remove_definition(conn: Connection, name: str) -> bool:
    """Retire a category and delete its matches; False if there was none active."""
    done = conn.execute(
        update(category_definitions)
        .where(category_definitions.c.name == name, category_definitions.c.active.is_(True))
        .values(active=False)
    ).rowcount
    conn.execute(delete(category_matches).where(category_matches.c.name == name))
    return bool(done)


# --- what the rules read --------------------------------------------------------------------

FIGURE_COLUMNS = (*QUALITY_MEASURES, "score", *QUALITY_CHECKS)


def call_inputs(conn: Connection, call_ids: Sequence[str]) -> list[dict[str, Any]]:
    """For each call: language, duration, figures and its redacted segments, in order."""
    if not call_ids:
        return []
    rows = conn.execute(
        select(
            calls.c.call_id,
            calls.c.language,
            calls.c.duration_s,
            *[quality.c[name] for name in FIGURE_COLUMNS],
            abuse.c.severity.label("abuse_severity"),
            abuse.c.flagged,
        )
        .select_from(
            calls.outerjoin(quality, quality.c.call_id == calls.c.call_id).outerjoin(
                abuse, abuse.c.call_id == calls.c.call_id
            )
        )
        .where(calls.c.call_id.in_(list(call_ids)))
    ).mappings()
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        figures = {k: row[k] for k in (*FIGURE_COLUMNS, "abuse_severity", "flagged")}
        for flag in (
            "greeting",
            "agent_identified",
            "closing",
            "empathy",
            "hold_etiquette",
            "flagged",
        ):
            if figures[flag] is not None:
                figures[flag] = bool(figures[flag])
        found[row["call_id"]] = {
            "call_id": row["call_id"],
            "language": row["language"],
            "duration_s": row["duration_s"],
            "figures": figures,
            "segments": [],
        }
    segs = conn.execute(
        select(segments)
        .where(segments.c.call_id.in_(list(found)))
        .order_by(segments.c.call_id, segments.c.idx)
    ).mappings()
    for seg in segs:
        found[seg["call_id"]]["segments"].append(dict(seg))
    for item in found.values():
        if item["duration_s"] is None:  # calls made without audio (tests, imports)
            item["duration_s"] = max((s["end_s"] for s in item["segments"]), default=0.0)
        item["figures"]["duration_s"] = item["duration_s"]
    return [found[cid] for cid in call_ids if cid in found]


def visible_call_ids(store: Store, now: datetime, batch: int = 500) -> Iterator[list[str]]:
    """The visible calls (processed, not objected, kept), in batches by call id.

    Each batch is its own short read (keyset pagination): no transaction stays open
    while the caller works, and millions of ids are never held at once.
    """
    last = ""
    while True:
        with store.read() as conn:
            ids = list(
                conn.execute(
                    select(calls.c.call_id)
                    .where(visible(store, now), calls.c.call_id > last)
                    .order_by(calls.c.call_id)
                    .limit(batch)
                ).scalars()
            )
        if not ids:
            return
        yield ids
        last = ids[-1]


def count_visible(store: Store, now: datetime) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).where(visible(store, now))).scalar_one())


def replace_matches(
    conn: Connection,
    call_id: str,
    matches: Sequence[tuple[str, int, Sequence[int]]],
    names: Sequence[str],
    now: datetime,
) -> None:
    """Set the matches of ``names`` for one call: (name, version, evidence) each."""
    if names:
        conn.execute(
            delete(category_matches).where(
                category_matches.c.call_id == call_id, category_matches.c.name.in_(list(names))
            )
        )
    if matches:
        conn.execute(
            insert(category_matches),
            [
                {
                    "call_id": call_id,
                    "name": name,
                    "version": version,
                    "evidence": json.dumps(list(evidence)),
                    "matched_at": iso(now),
                }
                for name, version, evidence in matches
            ],
        )


# --- governed reads -------------------------------------------------------------------------


def counts(store: Store, now: datetime, flt: CallFilter | None = None) -> dict[str, int]:
    """Visible calls per category."""
    query = (
        select(category_matches.c.name, func.count())
        .select_from(calls.join(category_matches, category_matches.c.call_id == calls.c.call_id))
        .where(visible(store, now), current_match())
        .group_by(category_matches.c.name)
    )
    query = apply_filter(query, flt or CallFilter())
    with store.read() as conn:
        return {name: int(n) for name, n in conn.execute(query)}


def weekly(store: Store, now: datetime, flt: CallFilter | None = None) -> list[dict[str, Any]]:
    """Visible calls per week (Monday) and category, oldest first."""
    week = week_start(calls.c.started_at).label("week")
    query = (
        select(week, category_matches.c.name, func.count().label("calls"))
        .select_from(calls.join(category_matches, category_matches.c.call_id == calls.c.call_id))
        .where(and_(visible(store, now), current_match()))
        .group_by(week, category_matches.c.name)
        .order_by(week, category_matches.c.name)
    )
    query = apply_filter(query, flt or CallFilter())
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def names_by_call(store: Store, call_ids: Sequence[str], batch: int = 900) -> dict[str, list[str]]:
    """The current category names of calls the caller already governed (visible ones)."""
    found: dict[str, list[str]] = {}
    ids = list(call_ids)
    for start in range(0, len(ids), batch):
        with store.read() as conn:
            for cid, matches in matches_by_call(conn, ids[start : start + batch]).items():
                found[cid] = [m["name"] for m in matches]
    return found
