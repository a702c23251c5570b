"""Build processed calls straight into a store, without audio or models.

For tests of the read side (export, dashboard, dataset, governance) that need a
workspace with done calls quickly. The text given here is treated as already
redacted.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics.models import (
    AbuseEvent,
    AbuseReport,
    CallAnalysis,
    CallMetadata,
    QualityReport,
    RedactedSegment,
    RedactedTranscript,
    RubricItem,
)
from analytics.store import Store
from analytics.store.writes import insert_call, save_analysis
from analytics.workspace import hash_caller

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def stamp_at(path: Path, moment: datetime) -> Path:
    """Give a file the modification time ``moment``.

    Ingest dates a call without ``started_at`` by its file's time: a file the test
    writes must be dated by the test's clock, not by the day the suite runs.
    """
    seconds = moment.timestamp()
    os.utime(path, (seconds, seconds))
    return path


def make_analysis(
    call_id: str,
    *,
    language: str = "fr",
    texts: tuple[tuple[str, str], ...] = (
        ("agent", "bonjour <PERSON> à votre écoute"),
        ("customer", "bonjour j'ai un problème avec ma voiture"),
        ("agent", "je comprends je vais vous aider au revoir"),
    ),
    score: int = 80,
    abuse_severity: str = "none",
    pii: dict[str, int] | None = None,
    figures: dict[str, Any] | None = None,
) -> CallAnalysis:
    segments = tuple(
        RedactedSegment(speaker=spk, start=i * 4.0, end=i * 4.0 + 3.5, text=text, loudness_db=-20.0)  # type: ignore[arg-type]
        for i, (spk, text) in enumerate(texts)
    )
    transcript = RedactedTranscript(
        call_id=call_id,
        language=language,
        language_probability=0.99,
        duration_s=len(segments) * 4.0,
        segments=segments,
        pii_counts=pii if pii is not None else {"PERSON": 1},
    )
    quality = QualityReport(
        talk_time_agent_s=7.0,
        talk_time_customer_s=3.5,
        non_talk_time_s=1.5,
        longest_silence_s=0.5,
        overtalk_s=0.0,
        interruptions=0,
        agent_wpm=150.0,
        customer_wpm=140.0,
        greeting=True,
        agent_identified=True,
        closing=True,
        empathy=True,
        hold_etiquette=None,
        sentiment_start=-0.2,
        sentiment_end=0.4,
        score=score,
        breakdown=(RubricItem("greeting", 10, 10, "greeted the caller"),),
    )
    if figures:  # other quality figures than the defaults (league tables)
        quality = replace(quality, **figures)
    events: tuple[AbuseEvent, ...] = ()
    if abuse_severity != "none":
        events = (
            AbuseEvent(
                speaker="customer",
                start=4.0,
                end=7.5,
                category="insult",
                severity=abuse_severity,  # type: ignore[arg-type]
                text=segments[1].text,
                matched="test",
            ),
        )
    abuse = AbuseReport(flagged=bool(events), severity=abuse_severity, events=events)  # type: ignore[arg-type]
    return CallAnalysis(transcript=transcript, quality=quality, abuse=abuse)


def add_call(
    store: Store,
    call_id: str,
    *,
    started_at: datetime | None = None,
    agent_id: str = "A101",
    team: str = "Niort-1",
    caller_id: str | None = None,
    state: str = "done",
    legal_hold: bool = False,
    now: datetime = NOW,
    **analysis_kwargs: Any,
) -> None:
    """Insert a call (done, with its analysis, unless another state is asked)."""
    meta = CallMetadata(
        call_id=call_id,
        started_at=started_at or now - timedelta(days=1),
        agent_id=agent_id,
        team=team,
        caller_hash=hash_caller(store.key, caller_id) if caller_id else None,
        channel_layout="agent_left",
        language=analysis_kwargs.get("language", "fr"),
        legal_hold=legal_hold,
    )
    with store.write() as conn:
        insert_call(
            conn,
            meta,
            info=None,
            sha256=f"sha-{call_id}",
            audio_path=None,
            source_name=f"{call_id}.wav",
            state="pending" if state == "done" else state,  # type: ignore[arg-type]
            now=now,
        )
        if state == "done":
            save_analysis(
                conn,
                call_id,
                make_analysis(call_id, **analysis_kwargs),
                now=now,
                redacted_audio_path=None,
            )
