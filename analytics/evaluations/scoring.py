"""Automatic answers to a form from a call's stored figures, and the score of answers.

An automatic answer rests on evidence a reviewer can check: the rubric item's reason,
the figures it used and, for the phrase checks, the indexes of the agent segments that
say the phrase (found while the transcript was processed, :func:`phrase_evidence`).

The score (0–100) is ``100 × Σ weight × share / Σ weight`` over the questions that
apply: *not applicable* and unanswered manual questions count in neither sum. A
yes/no answer earns all or nothing; a scale answer earns ``(value − min) / (max − min)``.
The default form (version 1) gives back the rubric score of :mod:`analytics.quality`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics.evaluations.forms import Form, Question
from analytics.models import RedactedTranscript
from analytics.quality import QualityConfig, lexicons_for, says

PHRASE_CHECKS = ("greeting", "agent_identified", "closing", "empathy", "hold")
# The figures behind each rubric item, shown with its answer.
RUBRIC_FIGURES: dict[str, tuple[str, ...]] = {
    "hold_etiquette": ("longest_silence_s",),
    "dead_air": ("longest_silence_s", "non_talk_time_s"),
    "interruptions": ("interruptions", "overtalk_s"),
    "pace": ("agent_wpm",),
}
_PHRASE_OF_ITEM = {"hold_etiquette": "hold"}


@dataclass(frozen=True)
class CallFigures:
    """What a call's automatic evaluation reads (all stored; no transcript text)."""

    call_id: str
    breakdown: tuple[Mapping[str, Any], ...]  # rubric items: name, weight, earned, reason
    figures: Mapping[str, Any]
    phrases: Mapping[str, Sequence[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class AutoAnswer:
    question_id: str
    value: str | None  # None: a manual question
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class AutoEvaluation:
    call_id: str
    form_name: str
    form_version: int
    answers: tuple[AutoAnswer, ...]
    score: float | None


def phrase_evidence(transcript: RedactedTranscript, config: QualityConfig) -> dict[str, list[int]]:
    """Per phrase check, the indexes of the agent's segments that say it.

    All segments are read on a mono call whose voices were not separated, as the
    quality checks do.
    """
    lexicons = lexicons_for(config, transcript.language)
    speakers = {s.speaker for s in transcript.segments}
    mono = not speakers & {"agent", "customer"}
    found: dict[str, list[int]] = {}
    for idx, segment in enumerate(transcript.segments):
        if segment.speaker != "agent" and not mono:
            continue
        for check in PHRASE_CHECKS:
            if says(lexicons, check, [segment]):
                found.setdefault(check, []).append(idx)
    return found


def evaluate(form: Form, call: CallFigures) -> AutoEvaluation:
    """The automatic answers of ``form`` for one call, and their score."""
    items = {str(item["name"]): item for item in call.breakdown}
    answers = tuple(_answer(q, items, call) for q in form.questions)
    values = {a.question_id: a.value for a in answers}
    return AutoEvaluation(call.call_id, form.name, form.version, answers, score(form, values))


def score(form: Form, values: Mapping[str, str | None]) -> float | None:
    """The score of these answers (None: no question applies or is answered)."""
    earned = total = 0.0
    for q in form.questions:
        share = q.share(values.get(q.id))
        if share is None:
            continue
        earned += q.weight * share
        total += q.weight
    return round(100 * earned / total, 1) if total else None


def _answer(q: Question, items: Mapping[str, Mapping[str, Any]], call: CallFigures) -> AutoAnswer:
    kind, name = q.binding
    if kind == "rubric":
        return _rubric_answer(q, name, items.get(name), call)
    if kind == "figure":
        return _figure_answer(q, name, call)
    return AutoAnswer(q.id, None, {})


def _rubric_answer(
    q: Question, name: str, item: Mapping[str, Any] | None, call: CallFigures
) -> AutoAnswer:
    figures = {f: call.figures.get(f) for f in RUBRIC_FIGURES.get(name, ())}
    segments = list(call.phrases.get(_PHRASE_OF_ITEM.get(name, name), ()))
    if item is None:
        missing: dict[str, Any] = {"reason": f"the rubric did not score {name}", "figures": figures}
        return AutoAnswer(q.id, "na", missing)
    evidence: dict[str, Any] = {
        "reason": str(item["reason"]),
        "figures": figures,
        "segments": segments,
    }
    weight = float(item["weight"])
    if weight <= 0:
        return AutoAnswer(q.id, "na", evidence)
    share = max(0.0, min(1.0, float(item["earned"]) / weight))
    if q.type == "yes_no_na":
        return AutoAnswer(q.id, "yes" if share >= 0.5 else "no", evidence)
    value = round(q.min + share * (q.max - q.min), 2)
    return AutoAnswer(q.id, f"{value:g}", evidence)


def _figure_answer(q: Question, name: str, call: CallFigures) -> AutoAnswer:
    value = call.figures.get(name)
    bounds = {"yes_min": q.yes_min, "yes_max": q.yes_max}
    evidence: dict[str, Any] = {"figures": {name: value}, "bounds": bounds}
    if value is None:
        evidence["reason"] = f"{name} was not measured on this call"
        return AutoAnswer(q.id, "na", evidence)
    number = float(value)
    ok = (q.yes_min is None or number >= q.yes_min) and (q.yes_max is None or number <= q.yes_max)
    evidence["reason"] = f"{name} = {number:g}"
    return AutoAnswer(q.id, "yes" if ok else "no", evidence)
