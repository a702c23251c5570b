"""Abuse events and severity of a call: lexicon rules and the learned model together.

Per segment, the lexicon's hits (``lexicon.py``) and the model's score (``model.py``) make
the events, one per category:

- a rule hit makes an event with the rule's severity, raised to at least ``medium`` for a
  threat, for an insult said *to* the listener (a "directed" word, which counts only when
  addressed), and for a mild hit the embedding model scores at ``model_confirm`` or more in
  an abuse category other than profanity (swearing aimed at someone);
- the model makes an event of its own category when no rule fired for it and its score
  reaches ``model_threshold`` (English: the mean of the embedding classifier and the
  profanity classifier, with the embedding classifier's own score at least 0.4) or when the embedding classifier alone reaches
  ``model_alone_threshold`` (the only test in other languages): ``medium``, or ``low`` for plain profanity (profanity said
  to "you" / "tu" / "vous" counts as an insult);
- swearing that targets nobody stays ``low``; a shouted segment raises its events a step.

Every event says what fired (``matched``: rule names, ``model``, or both when they agree
on the category; the model then lifts the event to at least ``medium``), the model's score and
its figures, the redacted span and the speaker (customer → agent: staff protection; agent
→ customer: quality). A segment is also read with the same speaker's next one when it
follows closely (the ASR may cut a sentence in two).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from analytics.abuse.lexicon import AbuseConfig, Hit, Rules, _compiled, normalise
from analytics.abuse.model import AbuseModel, ModelScore
from analytics.models import (
    ABUSE_CATEGORIES,
    SEVERITIES,
    AbuseCategory,
    AbuseEvent,
    AbuseReport,
    RedactedSegment,
    RedactedTranscript,
    Severity,
    Speaker,
)

logger = logging.getLogger(__name__)

_RANK: dict[Severity, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
# Where two classifiers are averaged, the e5 one must not read the text as clearly clean:
# a swear word alone gives profanity-check about 1.0, which must not carry praise
# ("fucking brilliant", e5 about 0.4) over the threshold by itself.
_E5_LEANS = 0.4


def detect_abuse(
    transcript: RedactedTranscript,
    config: AbuseConfig | None = None,
    model: AbuseModel | None = None,
) -> AbuseReport:
    """Find insults, threats, profanity and harassment in each segment of a call.

    Args:
        transcript: the redacted call.
        config: thresholds (defaults when ``None``).
        model: the learned model, built once per process; ``None`` (or ``config.model``
            false) uses the lexicon rules alone.
    """
    return detect_abuse_many([transcript], config, model)[0]


def detect_abuse_many(
    transcripts: Sequence[RedactedTranscript],
    config: AbuseConfig | None = None,
    model: AbuseModel | None = None,
) -> list[AbuseReport]:
    """:func:`detect_abuse` for several calls, with one model batch per language.

    The same reports as calling :func:`detect_abuse` on each; the model's second opinion
    (alt-profanity-check) costs about 7 ms per call when called one short call at a time
    and 0.15 ms per text in a batch, so many short calls (a rescore, a benchmark of
    one-segment items) go much faster together.
    """
    config = config or AbuseConfig.default()
    reads = [_Read.of(t, config) for t in transcripts]
    scores: list[list[ModelScore | None]] = [[None] * len(r.hits) for r in reads]
    if model is not None and config.model:
        # Below this alt-profanity-check score the mean cannot fire unless the e5 score
        # alone would: such English text is left to the gate too.
        floor = 2 * config.model_threshold - config.model_alone_threshold
        by_language: dict[str | None, list[int]] = {}
        for index, transcript in enumerate(transcripts):
            by_language.setdefault(transcript.language, []).append(index)
        for language, indexes in by_language.items():
            texts = [s.text for i in indexes for s in transcripts[i].segments]
            # The gate skips plainly clean segments. A segment a rule hit (other than plain
            # swearing, which the model can neither lift nor confirm) is always read.
            forced = [
                any(h.category != "profanity" for h in found)
                for i in indexes
                for found in reads[i].hits
            ]
            if not texts:
                continue
            flat = model.score(texts, language, forced, floor)
            for i in indexes:
                size = len(reads[i].hits)
                scores[i], flat = flat[:size], flat[size:]
    return [
        _report(transcript, read, found, config, model)
        for transcript, read, found in zip(transcripts, reads, scores, strict=True)
    ]


@dataclass(frozen=True)
class _Read:
    """A call's segments as the rules read them (normalised text and hits)."""

    rules: Rules
    normalised: list[str]
    hits: list[list[Hit]]

    def __repr__(self) -> str:  # the normalised text is transcript text
        return f"_Read({len(self.hits)} segments)"

    @classmethod
    def of(cls, transcript: RedactedTranscript, config: AbuseConfig) -> _Read:
        rules = _compiled(config).for_language(transcript.language)
        normalised = [normalise(s.text, rules.fillers) for s in transcript.segments]
        return cls(rules, normalised, [rules.match(text) for text in normalised])


def _report(
    transcript: RedactedTranscript,
    read: _Read,
    scores: list[ModelScore | None],
    config: AbuseConfig,
    model: AbuseModel | None,
) -> AbuseReport:
    """The call's events and severity from its rule hits and model scores."""
    rules, normalised, hits = read.rules, read.normalised, read.hits
    loud = _shouted_segments(transcript.segments, config)
    segments = transcript.segments
    policy = Policy.of(config, model, transcript.language)
    events: list[AbuseEvent] = []
    for index, segment in enumerate(segments):
        events.extend(policy.events(segment, hits[index], scores[index], index in loud))
    # A sentence the ASR cut in two ("je sais où" | "vous habitez"): read neighbours together.
    for i, j in _neighbours(segments, config.join_gap_s):
        alone = {(h.category, h.name) for h in hits[i] + hits[j]}
        both = rules.match(f"{normalised[i]} {normalised[j]}")
        new = [h for h in both if (h.category, h.name) not in alone]
        if new:
            joined = RedactedSegment(
                speaker=segments[i].speaker,
                start=segments[i].start,
                end=segments[j].end,
                text=f"{segments[i].text} {segments[j].text}",
            )
            score = max((s for s in (scores[i], scores[j]) if s), key=_by_score, default=None)
            events.extend(policy.events(joined, new, score, bool({i, j} & loud), rules_only=True))
    events.sort(key=lambda e: (e.start, ABUSE_CATEGORIES.index(e.category)))
    none: Severity = "none"
    severity = max((e.severity for e in events), key=_RANK.__getitem__, default=none)
    flagged = severity != "none" and _RANK[severity] >= _RANK[config.flag_min_severity]
    if events:
        logger.debug(
            "call %s: %d abuse event(s), severity %s", transcript.call_id, len(events), severity
        )
    return AbuseReport(flagged=flagged, severity=severity, events=tuple(events))


def _by_score(score: ModelScore) -> float:
    return score.score


@dataclass(frozen=True)
class Policy:
    """The severity rules, with the model threshold that fits the call's language."""

    confirm: float
    threshold: float | None  # None: no model
    alone: float = 1.01  # the e5 score that fires by itself (English threats need no swearing)

    @classmethod
    def of(cls, config: AbuseConfig, model: AbuseModel | None, language: str | None) -> Policy:
        if model is None or not config.model:
            return cls(config.model_confirm, None)
        english = (language or "").split("-")[0].lower() == "en" and model.english is not None
        threshold = config.model_threshold if english else config.model_alone_threshold
        return cls(config.model_confirm, threshold, config.model_alone_threshold)

    def events(
        self,
        segment: RedactedSegment,
        hits: list[Hit],
        score: ModelScore | None,
        shouted: bool,
        rules_only: bool = False,
    ) -> list[AbuseEvent]:
        """The segment's events: one per category that a rule or the model found."""
        model_fired = (
            not rules_only
            and score is not None
            and self.threshold is not None
            and (
                (score.score >= self.threshold and score.embedding >= _E5_LEANS)
                or score.embedding >= self.alone
            )
        )
        events = []
        for category in ABUSE_CATEGORIES:
            found = [h for h in hits if h.category == category]
            if found:
                severity = rule_severity(category, found, score, self.confirm)
                names = ", ".join(dict.fromkeys(h.name for h in found))
                if model_fired and score is not None and score.category == category:
                    # rule and model agree: the model's floor applies and both are named
                    severity = max(severity, model_severity(category), key=_RANK.__getitem__)
                    names += ", model"
                events.append(_event(segment, category, severity, names, score, shouted))
        fired = {e.category for e in events}
        if model_fired and score is not None:
            category = score.category
            if category == "profanity" and addressed(segment.text):
                category = "insult"  # swearing said to "you" is aimed at the listener
            if category not in fired:
                severity = model_severity(category)
                events.append(_event(segment, category, severity, "model", score, shouted))
        return events


def rule_severity(
    category: AbuseCategory, found: Sequence[Hit], score: ModelScore | None, confirm: float
) -> Severity:
    """A rule event's severity before shouting (see the module docstring)."""
    severity = max((h.severity for h in found), key=_RANK.__getitem__)
    floor: Severity = "low"
    if category == "threat" or (category == "insult" and any(h.directed for h in found)):
        floor = "medium"  # any threat, and an insult said to the listener
    elif (
        category != "profanity"
        and score is not None
        and score.embedding >= confirm
        and score.category != "profanity"
    ):
        floor = "medium"  # mild words the model reads as abuse aimed at someone
    return severity if _RANK[severity] >= _RANK[floor] else floor


_SECOND_PERSON = re.compile(
    r"(?:^|[^\w'])(?:you|your|yours|youre|yourself|ya|u|ur|tu|toi|te|ton|ta|tes|vous|votre|vos)"
    r"(?:$|[^\w])|(?:^|[^\w])t'",
    re.IGNORECASE,
)


def addressed(text: str) -> bool:
    """The text speaks to the listener: a second-person word ("you", "tu", "vous", "t'")."""
    return bool(_SECOND_PERSON.search(text))


def model_severity(category: AbuseCategory) -> Severity:
    """A model-only event: ``low`` for profanity (aimed at nobody), else ``medium``."""
    return "low" if category == "profanity" else "medium"


def raise_one(severity: Severity) -> Severity:
    return SEVERITIES[min(_RANK[severity] + 1, len(SEVERITIES) - 1)]


def _event(
    segment: RedactedSegment,
    category: AbuseCategory,
    severity: Severity,
    matched: str,
    score: ModelScore | None,
    shouted: bool,
) -> AbuseEvent:
    return AbuseEvent(
        speaker=segment.speaker,
        start=segment.start,
        end=segment.end,
        category=category,
        severity=raise_one(severity) if shouted else severity,
        text=segment.text,
        matched=matched,
        shouted=shouted,
        score=None if score is None else round(score.score, 3),
        model="" if score is None else score.explain(),
    )


def _neighbours(segments: Sequence[RedactedSegment], max_gap_s: float) -> list[tuple[int, int]]:
    """Pairs of indexes: a segment and the same speaker's next one, close enough in time."""
    pairs = []
    for i, segment in enumerate(segments):
        for j in range(i + 1, len(segments)):
            if segments[j].speaker == segment.speaker:
                if segments[j].start - segment.end <= max_gap_s:
                    pairs.append((i, j))
                break
    return pairs


def _shouted_segments(segments: Sequence[RedactedSegment], config: AbuseConfig) -> set[int]:
    """Indexes of segments said ``shout_db`` above their speaker's median loudness."""
    by_speaker: dict[Speaker, list[tuple[int, float]]] = {}
    for index, segment in enumerate(segments):
        if segment.loudness_db is not None:
            by_speaker.setdefault(segment.speaker, []).append((index, segment.loudness_db))
    loud: set[int] = set()
    for measured in by_speaker.values():
        if len(measured) < config.shout_min_segments:
            continue
        median = _median([db for _, db in measured])
        loud |= {index for index, db in measured if db >= median + config.shout_db}
    return loud


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
