"""Categories: rules over a call's redacted segments and figures (pure, no SQL).

A category is a named rule. Its conditions:

- **phrase**: any of a list of phrases (per language, or for every language), said by
  the agent, the customer or anyone; exact (on folded words: case and accents do not
  count) or fuzzy (rapidfuzz ratio over word windows, for ASR spellings); within the
  first or last N seconds, or after another phrase (optionally within N seconds of it);
- **figure**: a call figure compared with a value (non-talk time, longest silence,
  interruptions, talk ratio, customer sentiment at the start / end, abuse severity,
  quality answers such as ``hold_etiquette``);
- ``all`` / ``any`` / ``not`` combine them.

Definitions are TOML (``[[categories]]``), parsed into frozen dataclasses; a bad rule
raises :class:`CategoryError` naming the file and the field. The evidence of a match is
the indexes of the segments its phrase conditions matched.
"""

from __future__ import annotations

import json
import operator
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rapidfuzz import fuzz

from analytics.errors import UsageError
from analytics.insights.text import tokens
from analytics.models import QUALITY_CHECKS, QUALITY_MEASURES, SEVERITIES, RedactedSegment

SpeakerSpec = Literal["agent", "customer", "any"]
ANY_LANGUAGE = "*"
DEFAULT_FUZZY = 85.0
EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "categories" / "examples.toml"

# Figures a rule may test; abuse_severity is compared by rank (none < low < medium < high).
NUMERIC_FIGURES = (
    "duration_s",
    *QUALITY_MEASURES,
    "talk_ratio",  # agent talk time / total talk time
    "score",
)
ANSWER_FIGURES = (*QUALITY_CHECKS, "flagged")
FIGURES = (*NUMERIC_FIGURES, *ANSWER_FIGURES, "abuse_severity")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class CategoryError(UsageError):
    """A category definition is invalid (names the file and the field)."""


# --- definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """Any of ``phrases`` (per language code; ``*`` for every language)."""

    phrases: tuple[tuple[str, tuple[str, ...]], ...]
    speaker: SpeakerSpec = "any"
    fuzzy: float | None = None  # minimum rapidfuzz ratio (0..100); None: exact
    first_s: float | None = None
    last_s: float | None = None
    after: Phrase | None = None
    after_within_s: float | None = None

    def for_language(self, language: str | None) -> tuple[str, ...]:
        code = (language or "").split("-")[0].lower()
        found: list[str] = []
        for lang, phrases in self.phrases:
            if lang in (ANY_LANGUAGE, code):
                found += phrases
        return tuple(found)


@dataclass(frozen=True)
class Figure:
    name: str
    op: str
    value: float | bool | str


@dataclass(frozen=True)
class All:
    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    part: Rule


Rule = Phrase | Figure | All | AnyOf | Not


@dataclass(frozen=True)
class Category:
    name: str
    rule: Rule
    description: str = ""
    # The definition as written (canonical JSON): what is versioned in the store.
    source: str = field(default="", compare=False, repr=False)


# --- what a rule reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class CallFacts:
    """One call as the rules see it: redacted segments and figures."""

    call_id: str
    language: str | None
    duration_s: float
    segments: tuple[RedactedSegment, ...] = field(repr=False)
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    category: str
    evidence: tuple[int, ...]  # indexes of the matching segments


# --- parsing ----------------------------------------------------------------------------------


class _Where:
    """Where a value was read: the file and the field path, for messages."""

    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path

    def at(self, key: str | int) -> _Where:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return _Where(self.source, self.path + step)

    def fail(self, reason: str) -> CategoryError:
        return CategoryError(f"{self.source}: {self.path}: {reason}", source=self.source)


def _number(value: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.fail("must be a number")
    if value < 0:
        raise where.fail("must not be negative")
    return float(value)


def _phrase_list(value: Any, where: _Where) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise where.fail("must be a phrase or a non-empty list of phrases")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not tokens(item):
            raise where.at(i).fail("must be a phrase with at least one word")
    return tuple(items)


def _phrases(value: Any, where: _Where) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(value, dict):
        if not value:
            raise where.fail("needs at least one language")
        out = []
        for lang, phrases in sorted(value.items()):
            if lang != ANY_LANGUAGE and not (lang.isalpha() and 2 <= len(lang) <= 3):
                raise where.at(lang).fail("a language code (fr, en, ...) or '*'")
            out.append((lang.lower(), _phrase_list(phrases, where.at(lang))))
        return tuple(out)
    return ((ANY_LANGUAGE, _phrase_list(value, where)),)


_PHRASE_KEYS = {"phrases", "speaker", "fuzzy", "first_s", "last_s", "after", "after_within_s"}


def _phrase(spec: dict[str, Any], where: _Where) -> Phrase:
    unknown = set(spec) - _PHRASE_KEYS
    if unknown:
        raise where.at(sorted(unknown)[0]).fail(
            f"unknown key (known: {', '.join(sorted(_PHRASE_KEYS))})"
        )
    speaker = spec.get("speaker", "any")
    if speaker not in ("agent", "customer", "any"):
        raise where.at("speaker").fail("must be agent, customer or any")
    fuzzy_raw = spec.get("fuzzy", False)
    fuzzy: float | None
    if fuzzy_raw is True:
        fuzzy = DEFAULT_FUZZY
    elif fuzzy_raw is False:
        fuzzy = None
    else:
        fuzzy = _number(fuzzy_raw, where.at("fuzzy"))
        if not 50 <= fuzzy <= 100:
            raise where.at("fuzzy").fail("a ratio between 50 and 100 (or true/false)")
    first_s = last_s = after_within = None
    if "first_s" in spec:
        first_s = _number(spec["first_s"], where.at("first_s"))
    if "last_s" in spec:
        last_s = _number(spec["last_s"], where.at("last_s"))
    if first_s is not None and last_s is not None:
        raise where.fail("first_s and last_s exclude each other")
    after = None
    if "after" in spec:
        raw = spec["after"]
        after_spec = raw if isinstance(raw, dict) else {"phrases": raw}
        after = _phrase(after_spec, where.at("after"))
    if "after_within_s" in spec:
        if after is None:
            raise where.at("after_within_s").fail("needs 'after'")
        after_within = _number(spec["after_within_s"], where.at("after_within_s"))
    return Phrase(
        phrases=_phrases(spec["phrases"], where.at("phrases")),
        speaker=speaker,
        fuzzy=fuzzy,
        first_s=first_s,
        last_s=last_s,
        after=after,
        after_within_s=after_within,
    )


def _figure(spec: dict[str, Any], where: _Where) -> Figure:
    unknown = set(spec) - {"figure", "op", "value"}
    if unknown:
        raise where.at(sorted(unknown)[0]).fail("unknown key (known: figure, op, value)")
    name = spec["figure"]
    if name not in FIGURES:
        raise where.at("figure").fail(f"unknown figure {name!r} (known: {', '.join(FIGURES)})")
    op = spec.get("op", "==")
    if op not in _OPS:
        raise where.at("op").fail(f"must be one of {' '.join(_OPS)}")
    if "value" not in spec:
        raise where.at("value").fail("missing")
    value = spec["value"]
    if name in ANSWER_FIGURES:
        if not isinstance(value, bool) or op not in ("==", "!="):
            raise where.at("value").fail("a quality answer is compared with == or != true/false")
    elif name == "abuse_severity":
        if value not in SEVERITIES:
            raise where.at("value").fail(f"one of {', '.join(SEVERITIES)}")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise where.at("value").fail("must be a number")
    return Figure(name=name, op=op, value=value)


def _rule(spec: Any, where: _Where) -> Rule:
    if not isinstance(spec, dict):
        raise where.fail("a rule is a table (phrases, figure, all, any or not)")
    kinds = [k for k in ("phrases", "figure", "all", "any", "not") if k in spec]
    if len(kinds) != 1:
        raise where.fail("needs exactly one of phrases, figure, all, any, not")
    kind = kinds[0]
    if kind == "phrases":
        return _phrase(spec, where)
    if kind == "figure":
        return _figure(spec, where)
    if len(spec) != 1:
        raise where.at(sorted(set(spec) - {kind})[0]).fail(f"unexpected beside {kind!r}")
    if kind == "not":
        return Not(_rule(spec["not"], where.at("not")))
    parts = spec[kind]
    if not isinstance(parts, list) or not parts:
        raise where.at(kind).fail("a non-empty list of rules")
    children = tuple(_rule(part, where.at(kind).at(i)) for i, part in enumerate(parts))
    return All(children) if kind == "all" else AnyOf(children)


def parse_category(spec: Any, source: str, index: int = 0) -> Category:
    """One ``[[categories]]`` table as a :class:`Category`."""
    where = _Where(source, f"categories[{index}]")
    if not isinstance(spec, dict):
        raise where.fail("must be a table")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise where.at("name").fail("a non-empty name is required")
    unknown = set(spec) - {"name", "description", "rule"}
    if unknown:
        raise where.at(sorted(unknown)[0]).fail("unknown key (known: name, description, rule)")
    if "rule" not in spec:
        raise where.at("rule").fail("missing")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise where.at("description").fail("must be text")
    rule = _rule(spec["rule"], where.at("rule"))
    canonical = json.dumps(
        {"name": name.strip(), "description": description, "rule": spec["rule"]},
        sort_keys=True,
        ensure_ascii=False,
    )
    return Category(name=name.strip(), rule=rule, description=description, source=canonical)


def parse_categories(data: Mapping[str, Any], source: str) -> tuple[Category, ...]:
    """Every ``[[categories]]`` of a parsed TOML document; names must be unique."""
    raw = data.get("categories", [])
    if not isinstance(raw, list):
        raise CategoryError(f"{source}: categories: must be [[categories]] tables", source=source)
    parsed = tuple(parse_category(spec, source, i) for i, spec in enumerate(raw))
    seen: set[str] = set()
    for i, category in enumerate(parsed):
        if category.name in seen:
            raise _Where(source, f"categories[{i}].name").fail(f"duplicate name {category.name!r}")
        seen.add(category.name)
    return parsed


def parse_toml(text: str, source: str) -> tuple[Category, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CategoryError(f"{source}: not valid TOML ({exc})", source=source) from None
    return parse_categories(data, source)


def load_file(path: Path) -> tuple[Category, ...]:
    """The categories of a TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CategoryError(
            f"{path}: cannot read ({exc.__class__.__name__})", source=str(path)
        ) from None
    return parse_toml(text, str(path))


def from_source(source: str) -> Category:
    """A category back from its stored canonical JSON."""
    return parse_category(json.loads(source), "stored definition")


def examples() -> tuple[Category, ...]:
    """The example set shipped with callqa."""
    return load_file(EXAMPLES)


# --- evaluation -----------------------------------------------------------------------------


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(list(words[i : i + n]) == list(phrase) for i in range(len(words) - n + 1))


def _fuzzy_contains(words: Sequence[str], phrase: Sequence[str], threshold: float) -> bool:
    """Some window of about the phrase's length reads like it (ASR spellings)."""
    target = " ".join(phrase)
    n = len(phrase)
    for size in {max(1, n - 1), n, n + 1}:
        for i in range(len(words) - size + 1):
            if fuzz.ratio(" ".join(words[i : i + size]), target) >= threshold:
                return True
    return False


class _Evaluator:
    def __init__(self, facts: CallFacts) -> None:
        self.facts = facts
        self.words = [tokens(seg.text) for seg in facts.segments]

    def phrase_hits(self, cond: Phrase) -> list[int]:
        phrases = [tokens(p) for p in cond.for_language(self.facts.language)]
        if not phrases:
            return []
        anchors: list[float] | None = None
        if cond.after is not None:
            anchors = [self.facts.segments[i].end for i in self.phrase_hits(cond.after)]
            if not anchors:
                return []
        hits = []
        for idx, seg in enumerate(self.facts.segments):
            if cond.speaker != "any" and seg.speaker != cond.speaker:
                continue
            if cond.first_s is not None and seg.start >= cond.first_s:
                continue
            if cond.last_s is not None and seg.end <= self.facts.duration_s - cond.last_s:
                continue
            if anchors is not None and not any(
                seg.start >= end - 1e-9
                and (cond.after_within_s is None or seg.start - end <= cond.after_within_s)
                for end in anchors
            ):
                continue
            words = self.words[idx]
            if any(
                _fuzzy_contains(words, p, cond.fuzzy)
                if cond.fuzzy is not None
                else _contains(words, p)
                for p in phrases
            ):
                hits.append(idx)
        return hits

    def figure(self, cond: Figure) -> bool:
        value = figure_value(self.facts.figures, cond.name)
        if value is None:
            return False
        target = cond.value
        if cond.name == "abuse_severity":
            value, target = SEVERITIES.index(value), SEVERITIES.index(str(target))
        return bool(_OPS[cond.op](value, target))

    def run(self, rule: Rule) -> tuple[bool, set[int]]:
        if isinstance(rule, Phrase):
            hits = self.phrase_hits(rule)
            return bool(hits), set(hits)
        if isinstance(rule, Figure):
            return self.figure(rule), set()
        if isinstance(rule, Not):
            ok, _ = self.run(rule.part)
            return not ok, set()
        results = [self.run(part) for part in rule.parts]
        evidence = set().union(*(ev for ok, ev in results if ok))
        if isinstance(rule, All):
            return all(ok for ok, _ in results), evidence
        return any(ok for ok, _ in results), evidence


def figure_value(figures: Mapping[str, Any], name: str) -> Any:
    """A figure of a call (None: unknown for this call)."""
    if name == "talk_ratio":
        agent, customer = figures.get("talk_time_agent_s"), figures.get("talk_time_customer_s")
        if agent is None or customer is None or agent + customer <= 0:
            return None
        return agent / (agent + customer)
    return figures.get(name)


def evaluate(category: Category, facts: CallFacts) -> Match | None:
    """The category's match on one call, with its evidence; None if it does not apply."""
    ok, evidence = _Evaluator(facts).run(category.rule)
    return Match(category.name, tuple(sorted(evidence))) if ok else None


def categorize(categories: Sequence[Category], facts: CallFacts) -> list[Match]:
    """Every category that applies to one call."""
    evaluator = _Evaluator(facts)  # words are tokenised once for all categories
    matches = []
    for category in categories:
        ok, evidence = evaluator.run(category.rule)
        if ok:
            matches.append(Match(category.name, tuple(sorted(evidence))))
    return matches
