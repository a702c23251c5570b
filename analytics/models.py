"""Typed records passed between the stages.

Raw records (``RawSegment``, ``RawTranscript``) hold unredacted speech and live in
memory only: their ``repr`` hides the text so that a traceback or a log line can
never print it, and the store refuses them. Everything after redaction is a
``Redacted*`` record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Literal

Speaker = Literal["agent", "customer", "unknown"]
ChannelLayout = Literal["agent_left", "agent_right", "mono"]
CallState = Literal["pending", "processing", "done", "failed", "rejected", "objected", "expired"]
Severity = Literal["none", "low", "medium", "high"]
AbuseCategory = Literal["insult", "threat", "profanity", "harassment"]

CHANNEL_LAYOUTS: tuple[ChannelLayout, ...] = ("agent_left", "agent_right", "mono")
CALL_STATES: tuple[CallState, ...] = (
    "pending",
    "processing",
    "done",
    "failed",
    "rejected",
    "objected",
    "expired",
)
SEVERITIES: tuple[Severity, ...] = ("none", "low", "medium", "high")
ABUSE_CATEGORIES: tuple[AbuseCategory, ...] = ("insult", "threat", "profanity", "harassment")

Interval = tuple[float, float]


@dataclass(frozen=True)
class AudioInfo:
    """What probing a recording found."""

    duration_s: float
    channels: int
    sample_rate: int
    codec: str
    container: str


@dataclass(frozen=True)
class CallMetadata:
    """Metadata of one call, as ingest resolved it (caller id already hashed)."""

    call_id: str
    started_at: datetime  # timezone-aware, UTC
    agent_id: str | None = None
    team: str | None = None
    caller_hash: str | None = None
    channel_layout: ChannelLayout = "mono"
    language: str | None = None
    objection: bool = False
    legal_hold: bool = False


@dataclass(frozen=True)
class Call:
    """A call as the pipeline receives it from the store."""

    call_id: str
    started_at: datetime
    audio_path: Path
    audio_sha256: str
    duration_s: float
    channels: int
    sample_rate: int
    channel_layout: ChannelLayout
    language: str | None = None
    agent_id: str | None = None
    team: str | None = None
    # The agent's voiceprint from their other calls (mono calls, when voiceprints are on).
    voiceprint: VoiceStats | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VoiceStats:
    """A voice as a diagonal Gaussian over its frames' MFCCs and log pitch.

    One call's agent voice, or an agent's voiceprint (the pool of several calls'). This
    is biometric data about the agent (README, "Agent voiceprints"): no text, and never
    in ``repr``.
    """

    frames: int
    mean: tuple[float, ...] = field(repr=False)
    var: tuple[float, ...] = field(repr=False)
    calls: int = 1


@dataclass(frozen=True)
class Word:
    """One recognised word with its timing (seconds from the start of the call)."""

    start: float
    end: float
    text: str = field(repr=False)
    probability: float = 1.0


@dataclass(frozen=True)
class RawSegment:
    """An unredacted segment. Memory only: never stored, logged or raised."""

    speaker: Speaker
    start: float
    end: float
    text: str = field(repr=False)
    words: tuple[Word, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class RawTranscript:
    """The unredacted conversation of one call, segments ordered by start time."""

    call_id: str
    language: str
    language_probability: float
    duration_s: float
    segments: tuple[RawSegment, ...] = field(repr=False)


@dataclass(frozen=True)
class SpeechActivity:
    """Detected speech per speaker (from the audio, not the transcript)."""

    duration_s: float
    intervals: Mapping[Speaker, tuple[Interval, ...]]

    def of(self, speaker: Speaker) -> tuple[Interval, ...]:
        return tuple(self.intervals.get(speaker, ()))


@dataclass(frozen=True)
class PiiSpan:
    """Where a redacted entity was said; times are None when it could not be timed."""

    segment_index: int
    entity_type: str
    start_s: float | None
    end_s: float | None


@dataclass(frozen=True)
class RedactedSegment:
    speaker: Speaker
    start: float
    end: float
    text: str
    loudness_db: float | None = None  # mean loudness of this speaker's channel here
    # Mono calls: how sure the separation is of ``speaker`` (0..1); None on stereo calls,
    # where the channel says who speaks.
    speaker_confidence: float | None = None


@dataclass(frozen=True)
class RedactedTranscript:
    """The only form of a transcript that may be stored, shown or exported."""

    call_id: str
    language: str
    language_probability: float
    duration_s: float
    segments: tuple[RedactedSegment, ...]
    pii_counts: Mapping[str, int] = field(default_factory=dict)
    pii_spans: tuple[PiiSpan, ...] = ()


@dataclass(frozen=True)
class RubricItem:
    """One part of the quality score, with the reason a trainer can read out."""

    name: str
    weight: float
    earned: float
    reason: str


@dataclass(frozen=True)
class QualityReport:
    talk_time_agent_s: float
    talk_time_customer_s: float
    non_talk_time_s: float
    longest_silence_s: float
    overtalk_s: float
    interruptions: int
    agent_wpm: float | None
    customer_wpm: float | None
    greeting: bool
    agent_identified: bool
    closing: bool
    empathy: bool
    hold_etiquette: bool | None  # None: there was no long silence to announce
    sentiment_start: float | None  # customer sentiment, -1 (negative) .. 1 (positive)
    sentiment_end: float | None
    score: int
    breakdown: tuple[RubricItem, ...] = ()


# QualityReport declares the figures once: its numbers (what forms, category rules, the
# store and the notebooks read as measures) and its yes/no rubric checks.
QUALITY_MEASURES: tuple[str, ...] = tuple(
    f.name
    for f in fields(QualityReport)
    if not str(f.type).startswith("bool") and f.name not in ("score", "breakdown")
)
QUALITY_CHECKS: tuple[str, ...] = tuple(
    f.name for f in fields(QualityReport) if str(f.type).startswith("bool")
)


@dataclass(frozen=True)
class AbuseEvent:
    speaker: Speaker
    start: float
    end: float
    category: AbuseCategory
    severity: Severity
    text: str  # redacted segment text
    matched: str = ""  # the lexicon entries or patterns that fired, or "model", for explanation
    shouted: bool = False
    score: float | None = None  # the learned model's abuse score of the span (None: not run)
    model: str = ""  # the figures behind ``score`` ("e5 0.93, profanity-check 0.71")


@dataclass(frozen=True)
class AbuseReport:
    flagged: bool
    severity: Severity
    events: tuple[AbuseEvent, ...] = ()


@dataclass(frozen=True)
class CallAnalysis:
    """Everything the pipeline stores for one processed call."""

    transcript: RedactedTranscript
    quality: QualityReport
    abuse: AbuseReport
    redacted_audio_path: Path | None = None
    timings_s: Mapping[str, float] = field(default_factory=dict)
    # Who spoke when, as the quality figures used it (per channel, or separated on mono).
    activity: SpeechActivity | None = None
    # The redacted audio itself, when the analysis ran away from the blob store (a Ray
    # actor): the driver writes it. Ogg Opus bytes.
    redacted_audio: bytes | None = field(default=None, repr=False)
    # The agent's voice in this call (stereo: the agent channel; mono: the voice named
    # agent by its words alone, with high confidence), when voiceprints are on.
    agent_voice: VoiceStats | None = field(default=None, repr=False)
    agent_voice_source: str = ""  # stereo | mono
    voiceprint_used: bool = False  # the agent's voiceprint weighed in naming the sides


@dataclass(frozen=True)
class Reject:
    """An input that was not imported, and why."""

    source: str  # file path or CSV path
    reason: str
    row: int | None = None  # CSV line number, when the input was a CSV row

    def describe(self) -> str:
        where = f"{self.source}:{self.row}" if self.row is not None else self.source
        return f"{where}: {self.reason}"
