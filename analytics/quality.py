"""Call quality indicators: pure functions of the redacted transcript and speech activity.

Timing figures come from the speech detected on each channel (:class:`SpeechActivity`):

- talk time: seconds of detected speech per speaker;
- non-talk time: total of the gaps where nobody speaks, counting gaps of at least
  ``min_gap_s`` (1 s) between the first and the last speech (ringing before the first
  word and silence after the last one are not the agent's dead air);
- longest silence: the longest such gap;
- overtalk: seconds during which both speak;
- an interruption: one party starts while the other is speaking and both go on for at
  least ``interruption_min_s`` (0.5 s); own pauses shorter than ``bridge_gap_s`` do not
  end a turn, so a breath is not a new start;
- words per minute: words of that speaker's transcript per minute of their talk time.

Phrase checks (greeting, agent self-identification, closing, empathy, hold etiquette)
read the agent's segments — all segments on a mono call whose voices were not separated
(:mod:`analytics.diarize` separates them and names agent and customer) — against the phrase lists in
``analytics/data/quality/phrases_<lang>.toml``; names are redacted, so
``je m'appelle <PERSON>`` identifies the agent. Customer sentiment at the start and the
end is a lexicon score in −1..1 over the first and last ``sentiment_segments`` customer
segments.

The score (0–100) is ``100 × Σ earned / Σ weight`` over the rubric items in
``analytics/data/quality/rubric.toml``; each :class:`RubricItem` says why it earned what
it did. An item that does not apply (no long silence to announce; a mono call has no
per-speaker figures) gets weight 0 and its reason says so. Every threshold and weight can
be overridden in ``[quality]`` of config.toml (``[quality.weights]``,
``[quality.phrases.<lang>]`` extend the lists) or ``CALLQA_QUALITY__<KEY>``
(``CALLQA_QUALITY__WEIGHT_<ITEM>`` for a weight).

=========================  =======  ====================================================
threshold                  default  meaning
=========================  =======  ====================================================
min_gap_s                  1.0      shortest gap counted as silence
interruption_min_s         0.5      both go on this long after the interrupter starts
bridge_gap_s               0.3      own pauses shorter than this do not end a turn
opening_s                  30       greeting/identification: agent segments starting
                                    within this of the agent's first segment
closing_s                  45       closing: agent segments ending within this of the end
hold_silence_s             15       a silence this long must be announced
hold_announce_s            30       announcement ends at most this long before it
dead_air_ok_s / _bad_s     10 / 30  longest unannounced silence: full marks / none
max_agent_interruptions    3        agent interruptions that earn nothing
pace_min_wpm / _max_wpm    110/190  agent pace earning full marks
sentiment_segments         3        customer segments read at the start and the end
=========================  =======  ====================================================
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from analytics.abuse import normalise
from analytics.config import as_list, read_toml, typed_fields
from analytics.errors import ConfigError
from analytics.models import (
    Interval,
    QualityReport,
    RedactedSegment,
    RedactedTranscript,
    RubricItem,
    Speaker,
    SpeechActivity,
)

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data" / "quality"
CHECKS = ("greeting", "agent_identified", "closing", "empathy", "hold")
RUBRIC_ITEMS = (
    "greeting",
    "agent_identified",
    "closing",
    "empathy",
    "hold_etiquette",
    "dead_air",
    "interruptions",
    "pace",
)
LANGUAGES = ("fr", "en")


# -- configuration ------------------------------------------------------------------------


def _rubric_defaults(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    return read_toml(data_dir / "rubric.toml", "quality data")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds, rubric weights and extra phrases (defaults: ``rubric.toml``)."""

    min_gap_s: float = 1.0
    interruption_min_s: float = 0.5
    bridge_gap_s: float = 0.3
    opening_s: float = 30.0
    closing_s: float = 45.0
    hold_silence_s: float = 15.0
    hold_announce_s: float = 30.0
    dead_air_ok_s: float = 10.0
    dead_air_bad_s: float = 30.0
    max_agent_interruptions: int = 3
    pace_min_wpm: float = 110.0
    pace_max_wpm: float = 190.0
    sentiment_segments: int = 3
    weights: tuple[tuple[str, float], ...] = ()  # (item, weight); empty: rubric.toml's
    extra_phrases: tuple[tuple[str, str, str], ...] = ()  # (language, check, phrase)
    data_dir: Path = DATA_DIR

    @classmethod
    def default(cls) -> QualityConfig:
        return cls.from_mapping({})

    @classmethod
    def from_settings(cls, settings: Any) -> QualityConfig:
        """Build from ``settings.section("quality")`` over the packaged rubric."""
        return cls.from_mapping(settings.section("quality"))

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> QualityConfig:
        data_dir = Path(str(section.get("data_dir", DATA_DIR))).expanduser()
        rubric = _rubric_defaults(data_dir)
        thresholds = {**rubric.get("thresholds", {})}
        weights = {**rubric.get("weights", {})}
        extra: list[tuple[str, str, str]] = []
        scalar_names = {f.name for f in fields(cls)} - {"weights", "extra_phrases", "data_dir"}
        for key, value in section.items():
            if key in scalar_names:
                thresholds[key] = value
            elif key == "weights" and isinstance(value, Mapping):
                weights.update(value)
            elif key.startswith("weight_"):
                weights[key.removeprefix("weight_")] = value
            elif key == "phrases" and isinstance(value, Mapping):
                extra += _phrase_table(value)
            elif key.startswith("phrases_"):
                lang, _, check = key.removeprefix("phrases_").partition("_")
                extra += [(lang, check, str(p)) for p in as_list(value)]
            elif key != "data_dir":
                raise ConfigError(f"[quality]: unknown setting {key!r}")
        return cls(
            **_typed_thresholds(cls, thresholds),
            weights=_typed_weights(weights),
            extra_phrases=tuple(_checked_phrase(*p) for p in extra),
            data_dir=data_dir,
        )

    def weight(self, item: str) -> float:
        return dict(self.weights).get(item, 0.0)


def _typed_thresholds(cls: type[QualityConfig], values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:  # the section's own keys were sorted out before: these come from rubric.toml
        raise ConfigError(f"rubric.toml: unknown threshold {unknown[0]!r}")
    return typed_fields(cls, values, "quality")


def _typed_weights(values: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    unknown = set(values) - set(RUBRIC_ITEMS)
    if unknown:
        raise ConfigError(f"[quality] weights: unknown item(s) {', '.join(sorted(unknown))}")
    try:
        weights = {name: float(values.get(name, 0.0)) for name in RUBRIC_ITEMS}
    except (TypeError, ValueError):
        raise ConfigError("[quality] weights must be numbers") from None
    if any(w < 0 for w in weights.values()):
        raise ConfigError("[quality] weights must not be negative")
    return tuple(weights.items())


def _phrase_table(table: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for lang, checks in table.items():
        if not isinstance(checks, Mapping):
            raise ConfigError(f"[quality.phrases.{lang}] must be a table of lists")
        for check, phrases in checks.items():
            out += [(str(lang), str(check), str(p)) for p in as_list(phrases)]
    return out


def _checked_phrase(lang: str, check: str, phrase: str) -> tuple[str, str, str]:
    if check not in CHECKS:
        raise ConfigError(f"[quality] phrases: unknown check {check!r} ({', '.join(CHECKS)})")
    return (lang, check, phrase)


# -- timing figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class TimingFigures:
    """What the speech intervals alone say about a call."""

    talk_time_agent_s: float
    talk_time_customer_s: float
    talk_time_unknown_s: float
    non_talk_time_s: float
    longest_silence_s: float
    overtalk_s: float
    interruptions_by_agent: int
    interruptions_by_customer: int
    silences: tuple[Interval, ...]  # the gaps counted in non-talk time

    @property
    def interruptions(self) -> int:
        return self.interruptions_by_agent + self.interruptions_by_customer


def timing_figures(activity: SpeechActivity, config: QualityConfig | None = None) -> TimingFigures:
    """Talk times, silences, overtalk and interruptions from per-speaker intervals."""
    config = config or QualityConfig()
    duration = activity.duration_s
    speech = {spk: merge(clip(activity.of(spk), duration)) for spk in ("agent", "customer")}
    unknown = merge(clip(activity.of("unknown"), duration))
    everyone = merge([*speech["agent"], *speech["customer"], *unknown])
    silences = tuple(g for g in gaps(everyone) if g[1] - g[0] >= config.min_gap_s)
    lengths = [end - start for start, end in silences]
    return TimingFigures(
        talk_time_agent_s=total(speech["agent"]),
        talk_time_customer_s=total(speech["customer"]),
        talk_time_unknown_s=total(unknown),
        non_talk_time_s=sum(lengths),
        longest_silence_s=max(lengths, default=0.0),
        overtalk_s=total(intersect(speech["agent"], speech["customer"])),
        interruptions_by_agent=count_interruptions(speech["agent"], speech["customer"], config),
        interruptions_by_customer=count_interruptions(speech["customer"], speech["agent"], config),
        silences=silences,
    )


def clip(intervals: Iterable[Interval], duration_s: float) -> list[Interval]:
    """Intervals cut to ``[0, duration_s]`` (no upper bound when the duration is 0)."""
    limit = duration_s if duration_s > 0 else float("inf")
    out = []
    for start, end in intervals:
        start, end = max(0.0, start), min(end, limit)
        if end > start:
            out.append((start, end))
    return out


def merge(intervals: Iterable[Interval], bridge_s: float = 0.0) -> list[Interval]:
    """Sorted, non-overlapping intervals; gaps up to ``bridge_s`` are closed."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1] + bridge_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def total(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def gaps(merged: Sequence[Interval]) -> list[Interval]:
    """The gaps between consecutive merged intervals."""
    return [(a[1], b[0]) for a, b in itertools.pairwise(merged) if b[0] > a[1]]


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Where two merged interval lists overlap (two-pointer sweep)."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def count_interruptions(
    interrupter: Sequence[Interval], other: Sequence[Interval], config: QualityConfig
) -> int:
    """Turns of ``interrupter`` that start inside a turn of ``other`` and overlap it long enough."""
    mine = merge(interrupter, config.bridge_gap_s)
    theirs = merge(other, config.bridge_gap_s)
    count = 0
    for start, end in mine:
        for their_start, their_end in theirs:
            if their_start < start < their_end:
                if min(end, their_end) - start >= config.interruption_min_s:
                    count += 1
                break
    return count


# -- phrases and sentiment ----------------------------------------------------------------


@dataclass(frozen=True)
class Lexicons:
    phrases: Mapping[str, re.Pattern[str] | None]  # check -> alternation
    positive: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    negations: frozenset[str]


_NAME = r"_[a-z_]+_(?: _[a-z_]+_)?"  # a redacted name: <PERSON> or <PERSON> <PERSON>
_WORD = r"[a-z_]+"  # any word: for phrases that name the agent whatever the redaction did


def phrase_regex(phrase: str) -> str:
    """A phrase from the data files as a regex over normalised text."""
    parts = re.split(r"(\{name\}|\{word\}|\.\.\.)", phrase)
    out = []
    for part in parts:
        if part == "{name}":
            out.append(_NAME)
        elif part == "{word}":
            out.append(_WORD)
        elif part == "...":
            out.append(r"(?:\S+ ){0,3}")
        elif part.strip():
            out.append(re.escape(normalise(part)))
    return r"\s?".join(out)


def _alternation(items: Iterable[str], *, as_phrases: bool) -> re.Pattern[str] | None:
    regexes = sorted({phrase_regex(i) if as_phrases else re.escape(normalise(i)) for i in items})
    if not regexes:
        return None
    regexes.sort(key=len, reverse=True)  # longest first: "tres bien" before "bien"
    return re.compile(rf"(?<![a-z0-9_])(?:{'|'.join(regexes)})(?![a-z0-9_])")


@functools.lru_cache(maxsize=16)
def _lexicons(config: QualityConfig, language: str) -> Lexicons:
    langs = [language] if language in LANGUAGES else list(LANGUAGES)
    phrases: dict[str, list[str]] = {check: [] for check in CHECKS}
    positive: list[str] = []
    negative: list[str] = []
    negations: set[str] = set()
    for lang in langs:
        table = read_toml(config.data_dir / f"phrases_{lang}.toml", "quality data")
        for check in CHECKS:
            phrases[check] += [str(p) for p in table.get(check, [])]
        sentiment = read_toml(config.data_dir / f"sentiment_{lang}.toml", "quality data")
        positive += sentiment.get("positive", [])
        negative += sentiment.get("negative", [])
        negations |= {normalise(w) for w in sentiment.get("negations", [])}
    for lang, check, phrase in config.extra_phrases:
        if lang in langs or lang in ("*", "all"):
            phrases[check].append(phrase)
    return Lexicons(
        phrases={c: _alternation(p, as_phrases=True) for c, p in phrases.items()},
        positive=_alternation(positive, as_phrases=False),
        negative=_alternation(negative, as_phrases=False),
        negations=frozenset(negations),
    )


def says(lexicons: Lexicons, check: str, segments: Iterable[RedactedSegment]) -> bool:
    pattern = lexicons.phrases.get(check)
    return pattern is not None and any(pattern.search(normalise(s.text)) for s in segments)


def sentiment(lexicons: Lexicons, texts: Iterable[str]) -> float:
    """(positive − negative) / (positive + negative) in −1..1; 0 when nothing matches."""
    pos = neg = 0
    for text in texts:
        norm = normalise(text)
        for pattern, sign in ((lexicons.positive, 1), (lexicons.negative, -1)):
            if pattern is None:
                continue
            for found in pattern.finditer(norm):
                before = norm[: found.start()].split()[-3:]
                negated = any(w in lexicons.negations for w in before)
                if (sign > 0) != negated:
                    pos += 1
                else:
                    neg += 1
    return round((pos - neg) / (pos + neg), 3) if pos + neg else 0.0


def lexicons_for(config: QualityConfig, language: str | None) -> Lexicons:
    """The phrase lists and sentiment lexicons of a language (``fr-FR`` → ``fr``)."""
    return _lexicons(config, (language or "").split("-")[0].lower())


def says_in_opening(
    lexicons: Lexicons, check: str, segments: Sequence[RedactedSegment], config: QualityConfig
) -> bool:
    """Whether these segments say the phrase within ``opening_s`` of their first one."""
    return says(lexicons, check, _opening(segments, config))


def says_in_closing(
    lexicons: Lexicons,
    segments: Sequence[RedactedSegment],
    transcript: RedactedTranscript,
    config: QualityConfig,
) -> bool:
    """Whether these segments say a closing formula within ``closing_s`` of the end."""
    return says(lexicons, "closing", _closing(segments, transcript, config))


def word_count(segments: Iterable[RedactedSegment]) -> int:
    return sum(len(normalise(s.text).split()) for s in segments)


# -- the report ---------------------------------------------------------------------------


def compute_quality(
    transcript: RedactedTranscript,
    activity: SpeechActivity,
    config: QualityConfig | None = None,
) -> QualityReport:
    """Every quality indicator of one call, with the scored rubric."""
    config = config or QualityConfig.default()
    if not config.weights:
        config = replace(config, weights=QualityConfig.default().weights)
    timing_source = "speech activity"
    if not any(activity.intervals.values()) and transcript.segments:
        # No speech detected but there is a transcript: the segments are the best timing.
        activity = activity_from_segments(transcript)
        timing_source = "transcript segments (no speech activity)"
    timing = timing_figures(activity, config)
    mono = _is_mono(transcript, activity)
    lexicons = lexicons_for(config, transcript.language)
    agent = [s for s in transcript.segments if s.speaker == "agent" or mono]
    customer = [s for s in transcript.segments if s.speaker == "customer"]
    holds = [hold_announced(s, agent, lexicons, config) for s in _long_silences(timing, config)]
    checks = {
        "greeting": says(lexicons, "greeting", _opening(agent, config)),
        "agent_identified": says(lexicons, "agent_identified", _opening(agent, config)),
        "closing": says(lexicons, "closing", _closing(agent, transcript, config)),
        "empathy": says(lexicons, "empathy", agent),
    }
    wpm: dict[Speaker, float | None] = {"agent": None, "customer": None}
    if not mono:
        wpm["agent"] = _wpm(transcript.segments, "agent", timing.talk_time_agent_s)
        wpm["customer"] = _wpm(transcript.segments, "customer", timing.talk_time_customer_s)
    # First and last few customer segments, not overlapping when there are two or more.
    n = min(config.sentiment_segments, max(1, len(customer) // 2))
    texts = [s.text for s in customer]
    items = _rubric(config, checks, holds, timing, wpm["agent"], mono, timing_source)
    weight = sum(i.weight for i in items)
    score = round(100 * sum(i.earned for i in items) / weight) if weight else 0
    logger.debug("call %s: quality score %d", transcript.call_id, score)
    return QualityReport(
        talk_time_agent_s=round(timing.talk_time_agent_s, 2),
        talk_time_customer_s=round(timing.talk_time_customer_s, 2),
        non_talk_time_s=round(timing.non_talk_time_s, 2),
        longest_silence_s=round(timing.longest_silence_s, 2),
        overtalk_s=round(timing.overtalk_s, 2),
        interruptions=timing.interruptions,
        agent_wpm=wpm["agent"],
        customer_wpm=wpm["customer"],
        greeting=checks["greeting"],
        agent_identified=checks["agent_identified"],
        closing=checks["closing"],
        empathy=checks["empathy"],
        hold_etiquette=all(holds) if holds else None,
        sentiment_start=sentiment(lexicons, texts[:n]) if texts else None,
        sentiment_end=sentiment(lexicons, texts[-n:]) if texts else None,
        score=max(0, min(100, score)),
        breakdown=tuple(items),
    )


def activity_from_segments(transcript: RedactedTranscript) -> SpeechActivity:
    intervals: dict[Speaker, list[Interval]] = {}
    for s in transcript.segments:
        intervals.setdefault(s.speaker, []).append((s.start, s.end))
    return SpeechActivity(
        duration_s=transcript.duration_s,
        intervals={spk: tuple(merge(iv)) for spk, iv in intervals.items()},
    )


def hold_announced(
    silence: Interval,
    agent: Sequence[RedactedSegment],
    lexicons: Lexicons,
    config: QualityConfig,
) -> bool:
    """Whether the agent announced a hold just before this silence started."""
    start = silence[0]
    before = [
        s for s in agent if start - config.hold_announce_s <= s.end <= start + config.min_gap_s
    ]
    return says(lexicons, "hold", before)


def _is_mono(transcript: RedactedTranscript, activity: SpeechActivity) -> bool:
    """No speech attributed to agent or customer (a mono call whose voices were not
    separated). A separated mono call may keep a few ``unknown`` segments: they count in
    silences but in neither party's figures."""
    speakers = {s.speaker for s in transcript.segments}
    speakers |= {spk for spk, iv in activity.intervals.items() if iv}
    return not speakers & {"agent", "customer"}


def _long_silences(timing: TimingFigures, config: QualityConfig) -> list[Interval]:
    return [s for s in timing.silences if s[1] - s[0] >= config.hold_silence_s]


def _opening(agent: Sequence[RedactedSegment], config: QualityConfig) -> list[RedactedSegment]:
    if not agent:
        return []
    first = min(s.start for s in agent)
    return [s for s in agent if s.start <= first + config.opening_s]


def _closing(
    agent: Sequence[RedactedSegment], transcript: RedactedTranscript, config: QualityConfig
) -> list[RedactedSegment]:
    if not agent:
        return []
    last = max(s.end for s in transcript.segments)
    return [s for s in agent if s.end >= last - config.closing_s]


def _wpm(segments: Sequence[RedactedSegment], speaker: Speaker, talk_s: float) -> float | None:
    if talk_s <= 0:
        return None
    words = word_count(s for s in segments if s.speaker == speaker)
    return round(60.0 * words / talk_s, 1)


# -- rubric -------------------------------------------------------------------------------

_CHECK_REASONS = {
    "greeting": ("the agent greeted the customer", "no greeting in the agent's opening"),
    "agent_identified": (
        "the agent said who they are",
        "the agent did not introduce themself in the opening",
    ),
    "closing": ("the agent closed the call politely", "no closing formula at the end"),
    "empathy": (
        "the agent acknowledged the customer's situation",
        "no empathy phrase from the agent",
    ),
}


def _rubric(
    config: QualityConfig,
    checks: Mapping[str, bool],
    holds: Sequence[bool],
    timing: TimingFigures,
    agent_wpm: float | None,
    mono: bool,
    timing_source: str,
) -> list[RubricItem]:
    where = " (mono call: all speech read)" if mono else ""
    items = [
        _item(config, name, 1.0 if checks[name] else 0.0, reasons[0 if checks[name] else 1] + where)
        for name, reasons in _CHECK_REASONS.items()
    ]
    if holds:
        announced = sum(holds)
        reason = f"{announced} of {len(holds)} long silence(s) announced beforehand"
        items.append(_item(config, "hold_etiquette", announced / len(holds), reason))
    else:
        reason = f"no silence of {config.hold_silence_s:g} s or more: nothing to announce"
        items.append(_item(config, "hold_etiquette", None, reason))
    items.append(_dead_air(config, timing, holds, timing_source))
    if mono:
        reason = "mono recording: speakers are not separated, so no per-speaker figure"
        items.append(_item(config, "interruptions", None, reason))
        items.append(_item(config, "pace", None, reason))
        return items
    n = timing.interruptions_by_agent
    share = (
        max(0.0, 1 - n / config.max_agent_interruptions) if config.max_agent_interruptions else 1.0
    )
    reason = f"the agent interrupted the customer {n} time(s)"
    items.append(_item(config, "interruptions", share if n else 1.0, reason))
    items.append(_pace(config, agent_wpm))
    return items


def _dead_air(
    config: QualityConfig, timing: TimingFigures, holds: Sequence[bool], source: str
) -> RubricItem:
    long_ones = [s for s in timing.silences if s[1] - s[0] >= config.hold_silence_s]
    announced = {s for s, ok in zip(long_ones, holds, strict=False) if ok}
    unannounced = [e - s for s, e in timing.silences if (s, e) not in announced]
    longest = max(unannounced, default=0.0)
    span = config.dead_air_bad_s - config.dead_air_ok_s
    if longest <= config.dead_air_ok_s:
        share = 1.0
    elif span <= 0:
        share = 0.0
    else:
        share = max(0.0, (config.dead_air_bad_s - longest) / span)
    reason = f"longest unannounced silence {longest:.1f} s (full marks up to {config.dead_air_ok_s:g} s, none from {config.dead_air_bad_s:g} s)"
    if source != "speech activity":
        reason += f"; timings from {source}"
    return _item(config, "dead_air", share, reason)


def _pace(config: QualityConfig, agent_wpm: float | None) -> RubricItem:
    if agent_wpm is None:
        return _item(config, "pace", None, "the agent's speech was not detected: no pace")
    ok = config.pace_min_wpm <= agent_wpm <= config.pace_max_wpm
    reason = f"agent pace {agent_wpm:.0f} words/min (comfortable: {config.pace_min_wpm:g}-{config.pace_max_wpm:g})"
    return _item(config, "pace", 1.0 if ok else 0.0, reason)


def _item(config: QualityConfig, name: str, share: float | None, reason: str) -> RubricItem:
    """A rubric item earning ``share`` of its weight; ``None``: not applicable (weight 0)."""
    if share is None:
        return RubricItem(name=name, weight=0.0, earned=0.0, reason=f"not scored: {reason}")
    weight = config.weight(name)
    return RubricItem(name=name, weight=weight, earned=round(weight * share, 2), reason=reason)


# -- files --------------------------------------------------------------------------------
