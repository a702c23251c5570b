"""Agent voices per call, and the agents' voiceprints pooled from them on read.

A row of ``agent_voices`` is derived data of its call (deleted with its other derived
rows: :data:`analytics.store.writes.DERIVED_TABLES`, so by objection, erasure, private,
purge and re-processing). An agent's voiceprint is never stored: it is read as the rows
of the agent's calls that :func:`analytics.store.policy.visible` still shows, so a call
objected, erased, made private or past retention stops counting at once, even before
its rows are deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from analytics.models import VoiceStats
from analytics.store.core import Store, iso
from analytics.store.policy import visible
from analytics.store.schema import agent_voices, calls

# Stats of another version (other features) are never pooled with these.
STATS_VERSION = 1


def _to_json(stats: VoiceStats) -> str:
    return json.dumps(
        {
            "version": STATS_VERSION,
            "frames": stats.frames,
            "mean": [round(x, 5) for x in stats.mean],
            "var": [round(x, 6) for x in stats.var],
        }
    )


def _from_json(text: str) -> VoiceStats | None:
    data = json.loads(text)
    if data.get("version") != STATS_VERSION:
        return None
    return VoiceStats(int(data["frames"]), tuple(data["mean"]), tuple(data["var"]))


def save_voice(
    conn: Connection, call_id: str, stats: VoiceStats, source: str, now: datetime
) -> None:
    """Store a call's agent voice (replacing an earlier one)."""
    conn.execute(delete(agent_voices).where(agent_voices.c.call_id == call_id))
    conn.execute(
        insert(agent_voices).values(
            call_id=call_id,
            source=source,
            frames=stats.frames,
            stats_json=_to_json(stats),
            created_at=iso(now),
        )
    )


def agent_voice_rows(
    store: Store, now: datetime, agent_ids: Iterable[str], *, exclude: Iterable[str] = ()
) -> dict[str, list[VoiceStats]]:
    """Per agent: the stored voices of their visible calls (not those in ``exclude``)."""
    wanted = sorted({a for a in agent_ids if a})
    if not wanted:
        return {}
    query = (
        select(calls.c.agent_id, agent_voices.c.stats_json)
        .select_from(agent_voices.join(calls, calls.c.call_id == agent_voices.c.call_id))
        .where(visible(store, now), calls.c.agent_id.in_(wanted))
        .order_by(calls.c.agent_id, agent_voices.c.call_id)
    )
    excluded = set(exclude)
    if excluded:
        query = query.where(agent_voices.c.call_id.not_in(sorted(excluded)))
    out: dict[str, list[VoiceStats]] = {}
    with store.read() as conn:
        for agent_id, stats_json in conn.execute(query):
            stats = _from_json(stats_json)
            if stats is not None:
                out.setdefault(agent_id, []).append(stats)
    return out


def voice_counts(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Per agent: how many visible calls and seconds of voice their voiceprint holds."""
    query = (
        select(
            calls.c.agent_id,
            agent_voices.c.source,
            func.count().label("calls"),
            func.sum(agent_voices.c.frames).label("frames"),
        )
        .select_from(agent_voices.join(calls, calls.c.call_id == agent_voices.c.call_id))
        .where(visible(store, now), calls.c.agent_id.is_not(None))
        .group_by(calls.c.agent_id, agent_voices.c.source)
        .order_by(calls.c.agent_id, agent_voices.c.source)
    )
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def delete_voices(conn: Connection, agent_id: str | None = None) -> int:
    """Delete the stored voices of one agent's calls (None: of every call)."""
    query = delete(agent_voices)
    if agent_id is not None:
        query = query.where(
            agent_voices.c.call_id.in_(select(calls.c.call_id).where(calls.c.agent_id == agent_id))
        )
    return int(conn.execute(query).rowcount or 0)
