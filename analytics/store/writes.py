"""Writes: calls, rejects and the results of processing.

Only ``RedactedTranscript`` records are accepted: a raw transcript given here is
refused with :class:`UnredactedTextError` before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from analytics.errors import UnredactedTextError
from analytics.models import AudioInfo, CallAnalysis, CallMetadata, CallState, Reject
from analytics.models import RedactedTranscript as _Redacted
from analytics.store import search
from analytics.store.core import iso
from analytics.store.evaluations import delete_for_call as delete_evaluations
from analytics.store.rollups import touch, tracking_call
from analytics.store.schema import (
    abuse,
    abuse_events,
    agent_voices,
    calls,
    category_matches,
    holds,
    pii_counts,
    quality,
    rejects,
    segments,
)
from analytics.store.voiceprints import save_voice

DERIVED_TABLES = (
    segments,
    pii_counts,
    quality,
    abuse_events,
    abuse,
    category_matches,
    agent_voices,  # the agent's voice in the call (voiceprints): deleted with the call
)


def call_row(conn: Connection, call_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(calls).where(calls.c.call_id == call_id)).mappings().first()
    return dict(row) if row else None


_CALL_FOR_SHA = select(calls.c.call_id).where(calls.c.audio_sha256 == bindparam("sha"))


def call_id_for_sha(conn: Connection, sha256: str) -> str | None:
    return conn.execute(_CALL_FOR_SHA, {"sha": sha256}).scalar_one_or_none()


def insert_call(
    conn: Connection,
    meta: CallMetadata,
    *,
    info: AudioInfo | None,
    sha256: str,
    audio_path: str | None,
    source_name: str,
    state: CallState,
    now: datetime,
) -> None:
    conn.execute(
        insert(calls).values(
            call_id=meta.call_id,
            state=state,
            started_at=iso(meta.started_at),
            agent_id=meta.agent_id,
            team=meta.team,
            caller_hash=meta.caller_hash,
            channel_layout=meta.channel_layout,
            language=meta.language,
            duration_s=info.duration_s if info else None,
            channels=info.channels if info else None,
            sample_rate=info.sample_rate if info else None,
            codec=info.codec if info else None,
            audio_sha256=sha256,
            audio_path=audio_path,
            source_name=source_name,
            attempts=0,
            imported_at=iso(now),
            updated_at=iso(now),
        )
    )
    if state == "done":  # only tools write a call processed already (benchmarks, tests)
        touch(conn, meta.call_id)
    if meta.legal_hold:
        add_hold(conn, meta.call_id, "legal_hold set in the metadata", actor="ingest", now=now)


def add_hold(conn: Connection, call_id: str, reason: str, *, actor: str, now: datetime) -> bool:
    """Put a hold on a call; False if it already had one."""
    if conn.execute(select(holds.c.call_id).where(holds.c.call_id == call_id)).first():
        return False
    conn.execute(
        insert(holds).values(call_id=call_id, reason=reason, held_at=iso(now), actor=actor)
    )
    return True


def record_reject(conn: Connection, reject: Reject, now: datetime) -> None:
    """Record a reject once per (source, row, reason); a re-run only refreshes it."""
    row = reject.row or 0
    found = conn.execute(
        select(rejects.c.id).where(
            rejects.c.source == reject.source,
            rejects.c.row == row,
            rejects.c.reason == reject.reason,
        )
    ).scalar_one_or_none()
    if found is None:
        conn.execute(
            insert(rejects).values(
                source=reject.source,
                row=row,
                reason=reject.reason,
                first_seen=iso(now),
                last_seen=iso(now),
            )
        )
    else:
        conn.execute(update(rejects).where(rejects.c.id == found).values(last_seen=iso(now)))


def clear_rejects(conn: Connection, source: str) -> None:
    """Forget the rejects of a source judged afresh (imported now, or a CSV re-read)."""
    conn.execute(delete(rejects).where(rejects.c.source == source))


def set_state(
    conn: Connection, call_id: str, state: CallState, now: datetime, error: str | None = None
) -> None:
    with tracking_call(conn, call_id):
        conn.execute(
            update(calls)
            .where(calls.c.call_id == call_id)
            .values(state=state, error=error, updated_at=iso(now))
        )


def delete_derived(conn: Connection, call_id: str) -> None:
    search.delete_call(conn, call_id)  # the search index first: FTS5 rows have no foreign key
    for table in DERIVED_TABLES:
        conn.execute(delete(table).where(table.c.call_id == call_id))


def save_analysis(
    conn: Connection,
    call_id: str,
    analysis: CallAnalysis,
    *,
    now: datetime,
    redacted_audio_path: str | None,
) -> None:
    """Store everything derived from one call in the caller's transaction.

    Raises:
        UnredactedTextError: the transcript did not come out of redaction.
    """
    transcript = analysis.transcript
    if not isinstance(transcript, _Redacted):
        raise UnredactedTextError(
            f"call {call_id}: the store accepts only redacted transcripts",
            call_id=call_id,
        )
    with tracking_call(conn, call_id):
        _save(conn, call_id, analysis, transcript, now, redacted_audio_path)


def _save(
    conn: Connection,
    call_id: str,
    analysis: CallAnalysis,
    transcript: _Redacted,
    now: datetime,
    redacted_audio_path: str | None,
) -> None:
    search.reserve_partitions(conn, len(transcript.segments))  # before any search lock
    delete_derived(conn, call_id)  # a re-run replaces, never duplicates
    if transcript.segments:
        conn.execute(
            insert(segments),
            [
                {
                    "call_id": call_id,
                    "idx": idx,
                    "speaker": seg.speaker,
                    "start_s": seg.start,
                    "end_s": seg.end,
                    "text": seg.text,
                    "loudness_db": seg.loudness_db,
                    "speaker_confidence": seg.speaker_confidence,
                }
                for idx, seg in enumerate(transcript.segments)
            ],
        )
        search.index_call(conn, call_id, transcript.language, transcript.segments)
    if transcript.pii_counts:
        conn.execute(
            insert(pii_counts),
            [
                {"call_id": call_id, "entity_type": kind, "count": count}
                for kind, count in sorted(transcript.pii_counts.items())
            ],
        )
    report = analysis.quality
    figures = {k: v for k, v in asdict(report).items() if k != "breakdown"}
    conn.execute(
        insert(quality).values(
            call_id=call_id,
            breakdown_json=json.dumps([asdict(item) for item in report.breakdown]),
            **figures,
        )
    )
    conn.execute(
        insert(abuse).values(
            call_id=call_id,
            flagged=analysis.abuse.flagged,
            severity=analysis.abuse.severity,
            reviewed=False,
        )
    )
    if analysis.abuse.events:
        conn.execute(
            insert(abuse_events),
            [
                {
                    "call_id": call_id,
                    "idx": idx,
                    "speaker": ev.speaker,
                    "start_s": ev.start,
                    "end_s": ev.end,
                    "category": ev.category,
                    "severity": ev.severity,
                    "text": ev.text,
                    "matched": ev.matched,
                    "shouted": ev.shouted,
                    "score": ev.score,
                }
                for idx, ev in enumerate(analysis.abuse.events)
            ],
        )
    if analysis.agent_voice is not None:
        save_voice(conn, call_id, analysis.agent_voice, analysis.agent_voice_source, now)
    conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id)
        .values(
            state="done",
            error=None,
            language=transcript.language,
            language_probability=transcript.language_probability,
            redacted_audio_path=redacted_audio_path,
            processed_at=iso(now),
            updated_at=iso(now),
        )
    )


def tombstone(conn: Connection, call_id: str, state: CallState, now: datetime) -> None:
    """Delete what was derived from a call and blank its personal metadata.

    What stays stops the call from coming back and lets status count it: its id,
    content hash, state, and the technical facts of the recording (start, duration,
    channels, rate, codec, layout, import and processing times).
    """
    with tracking_call(conn, call_id):
        _tombstone(conn, call_id, state, now)


def _tombstone(conn: Connection, call_id: str, state: CallState, now: datetime) -> None:
    delete_derived(conn, call_id)
    delete_evaluations(conn, call_id)
    conn.execute(
        update(calls)
        .where(calls.c.call_id == call_id)
        .values(
            state=state,
            agent_id=None,
            team=None,
            caller_hash=None,
            language=None,
            language_probability=None,
            audio_path=None,
            redacted_audio_path=None,
            source_name=None,
            error=None,
            updated_at=iso(now),
        )
    )


def count_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(calls.c.state, func.count()).group_by(calls.c.state)).all()
    return {state: int(count) for state, count in rows}


def workspace_path(home: Path, relative: str | None) -> Path | None:
    return home / relative if relative else None
