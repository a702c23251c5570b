"""Calls evaluated as the pipeline evaluates them, for the evaluation tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from factories import NOW, add_call, make_analysis

from analytics.evaluations import automatic
from analytics.evaluations.scoring import AutoEvaluation
from analytics.models import CallAnalysis, RedactedSegment, SpeechActivity
from analytics.quality import compute_quality
from analytics.store import Store
from analytics.store.writes import save_analysis

TEXTS = (
    ("agent", "bonjour je m'appelle <PERSON> à votre écoute"),
    ("customer", "bonjour ma voiture est en panne sur l'autoroute"),
    ("agent", "je comprends tout à fait je vous envoie une dépanneuse"),
    ("agent", "merci de votre appel au revoir"),
)


def analysis_of(
    call_id: str, texts: tuple[tuple[str, str], ...] = TEXTS, gap: float = 4.0
) -> CallAnalysis:
    base = make_analysis(call_id, texts=texts)
    segments = tuple(
        RedactedSegment(speaker=spk, start=i * gap, end=i * gap + 3.5, text=t)  # type: ignore[arg-type]
        for i, (spk, t) in enumerate(texts)
    )
    transcript = replace(base.transcript, segments=segments, duration_s=len(texts) * gap)
    activity = SpeechActivity(
        duration_s=transcript.duration_s,
        intervals={
            spk: tuple((s.start, s.end) for s in segments if s.speaker == spk)
            for spk in ("agent", "customer")
        },
    )
    return replace(base, transcript=transcript, quality=compute_quality(transcript, activity))


def processed(
    store: Store,
    call_id: str,
    agent_id: str = "A101",
    *,
    caller_id: str | None = None,
    started_at: datetime | None = None,
    **kwargs: Any,
) -> tuple[CallAnalysis, AutoEvaluation]:
    """A done call evaluated as the pipeline does (save_analysis + record_for_call)."""
    add_call(store, call_id, agent_id=agent_id, caller_id=caller_id, started_at=started_at)
    analysis = analysis_of(call_id, **kwargs)
    with store.write() as conn:
        save_analysis(conn, call_id, analysis, now=NOW, redacted_audio_path=None)
        evaluation = automatic.record_for_call(conn, call_id, analysis, NOW)
    return analysis, evaluation
