"""Verbal-abuse detection on redacted transcripts (French and English).

Each segment is normalised (lower case, accents removed, punctuation and apostrophes as
spaces, repeated letters collapsed, filler words dropped, ``<PERSON>``-style placeholders
made inert) and matched against data files under ``analytics/data/abuse/``: lexicons of
words (with inflections, near-miss spellings and "directed only" words that count when
addressed to someone) and regex patterns (``espèce de …``, ``va te faire …``, threats
without a swear word such as ``je sais où vous trouver`` / ``I know where you live``).
Strong but civil complaints (``c'est inadmissible``, ``I want to speak to your manager``)
match nothing. Near-misses are kept strict (first two letters kept, a vowel swapped only
for a vowel, never for "directed" words) since most real words have a neighbour in a
lexicon of several hundred insults. Matching is per token through an index of terms by
first word, with each distinct token's candidates cached (calls repeat the same words), so
a segment costs about 0.1-0.2 ms. Events are attributed to the segment's speaker:
customer → agent is the staff-protection case, agent → customer a quality case. A segment
is also read together with the same speaker's next one when it follows closely, since the
ASR may cut a sentence in two; such an event spans both segments.

Severity: ``low`` is swearing not aimed at anyone or a mild put-down; ``medium`` an
insult, a veiled threat or a sexual remark; ``high`` a strong insult, a threat of violence
or a discriminatory slur. ``detect.py`` turns hits into events (a directed insult or any
threat is at least ``medium``; shouting raises a step) and adds the learned model
(``model.py``). The call is ``flagged`` when its highest event reaches
``flag_min_severity`` (default ``medium``: swearing alone at ``low`` is kept as an event
for review but does not flag the call).

Thresholds (``[abuse]`` in config.toml or ``CALLQA_ABUSE__<KEY>``):

=====================  =========  ==================================================
key                    default    meaning
=====================  =========  ==================================================
flag_min_severity      medium     lowest call severity that sets ``flagged``
shout_db               8.0        dB above the speaker's median segment loudness
shout_min_segments     3          measured segments a speaker needs for a median
join_gap_s             1.5        a speaker's next segment this close is also read
                                  together with the segment (sentences cut by the ASR)
fuzzy                  true       match ASR near-misses of lexicon words
fuzzy_min_len          6          word length for edit distance 1
fuzzy2_min_len         9          word length for edit distance 2
model                  true       use the learned model beside the rules (when the
                                  pipeline built one)
model_threshold        0.65       model score that makes an event by itself (English:
                                  mean of the e5 classifier and profanity-check)
model_alone_threshold  0.91       e5 classifier score that makes an event by itself,
                                  in any language (the only test outside English);
                                  calibrated by ``benchmarks/abuse_train.py``
model_confirm          0.9        e5 score that raises a mild rule hit to ``medium``
data_dir               (package)  folder replacing ``analytics/data/abuse``
extra_terms            []         more lexicon lines, ``"term | category | severity"``
extra_terms_fr / _en   []         the same, for one language only
extra_patterns         []         ``{name, regex, category, severity, language?}``
=====================  =========  ==================================================
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.config import as_list, read_toml
from analytics.errors import ConfigError
from analytics.models import (
    ABUSE_CATEGORIES,
    SEVERITIES,
    AbuseCategory,
    Severity,
)

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent.parent / "data" / "abuse"
LANGUAGES = ("fr", "en")
_RANK: dict[Severity, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
_PLACEHOLDER = re.compile(r"<([A-Za-z_]+)>")
_APOSTROPHES = re.compile(r"[\u2019\u2018`´'\-\u2010\u2011\u2013\u2014]")
_NOT_WORD = re.compile(r"[^a-z0-9_*\s]+")
_RUNS = re.compile(r"([a-z])\1{2,}")
_DOUBLES = re.compile(r"([a-z])\1+")
_REGEX_DOUBLES = re.compile(r"(?<!\\)([a-z])\1+")  # not the "b" of an escape like \bb


_MODEL_FLOATS = ("model_threshold", "model_alone_threshold", "model_confirm")


@dataclass(frozen=True)
class AbuseConfig:
    """Thresholds and data for abuse detection (see the module docstring for the table)."""

    flag_min_severity: Severity = "medium"
    shout_db: float = 8.0
    shout_min_segments: int = 3
    join_gap_s: float = 1.5
    fuzzy: bool = True
    fuzzy_min_len: int = 6
    fuzzy2_min_len: int = 9
    model: bool = True
    model_threshold: float = 0.65
    model_alone_threshold: float = 0.91
    model_confirm: float = 0.9
    data_dir: Path = DATA_DIR
    extra_terms: tuple[tuple[str, str], ...] = ()  # (language or "common", lexicon line)
    extra_patterns: tuple[tuple[str, str, str, str, str], ...] = ()  # lang,name,re,cat,sev

    @classmethod
    def default(cls) -> AbuseConfig:
        return cls()

    @classmethod
    def from_settings(cls, settings: Any) -> AbuseConfig:
        """Build from ``settings.section("abuse")``; unknown keys are an error."""
        section: Mapping[str, Any] = settings.section("abuse")
        known = {"extra_terms", "extra_patterns", "data_dir"} | {
            f"extra_terms_{lang}" for lang in LANGUAGES
        }
        scalars = {"flag_min_severity", "shout_db", "shout_min_segments", "fuzzy", "join_gap_s"}
        scalars |= {"fuzzy_min_len", "fuzzy2_min_len", "model"} | set(_MODEL_FLOATS)
        unknown = set(section) - known - scalars
        if unknown:
            raise ConfigError(f"[abuse]: unknown setting(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        try:
            if "flag_min_severity" in section:
                values["flag_min_severity"] = _severity(str(section["flag_min_severity"]))
            for key in ("shout_db", "join_gap_s", *_MODEL_FLOATS):
                if key in section:
                    values[key] = float(section[key])
            for key in ("shout_min_segments", "fuzzy_min_len", "fuzzy2_min_len"):
                if key in section:
                    values[key] = int(section[key])
            for key in ("fuzzy", "model"):
                if key in section:
                    values[key] = _as_bool(section[key])
            for key in _MODEL_FLOATS:
                if key in values and not 0.0 <= values[key] <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1, not {values[key]}")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[abuse]: {exc}") from None
        if "data_dir" in section:
            values["data_dir"] = Path(str(section["data_dir"])).expanduser()
        terms = [("common", str(line)) for line in as_list(section.get("extra_terms"))]
        for lang in LANGUAGES:
            terms += [(lang, str(line)) for line in as_list(section.get(f"extra_terms_{lang}"))]
        values["extra_terms"] = tuple(terms)
        values["extra_patterns"] = tuple(
            _extra_pattern(item) for item in as_list(section.get("extra_patterns"))
        )
        config = cls(**values)
        _compiled(config)  # fail now, with the file or key named, not on the first call
        return config


def normalise(text: str, fillers: frozenset[str] = frozenset()) -> str:
    """Lower-case, accent-free, punctuation-free text with placeholders made inert."""
    text = _PLACEHOLDER.sub(lambda m: f" _{m.group(1).lower()}_ ", text)
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("œ", "oe").replace("æ", "ae")
    text = _NOT_WORD.sub(" ", _APOSTROPHES.sub(" ", text))
    text = _RUNS.sub(r"\1", text)
    text = " ".join(token for token in text.split() if token not in fillers)
    for filler in (f for f in fillers if " " in f):  # "you know", "i mean"
        text = re.sub(rf"(?:^| ){re.escape(filler)}(?= |$)", "", text).strip()
    return text


def squeeze(text: str) -> str:
    """Doubled letters made single: ASR writes "regreter", "trrouver", "vraimeent"."""
    return _DOUBLES.sub(r"\1", text)


def _squeeze_regex(source: str) -> str:
    return _REGEX_DOUBLES.sub(r"\1", source)


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One lexicon entry or pattern that fired in a segment."""

    category: AbuseCategory
    severity: Severity
    name: str
    directed: bool = False  # a word that counts only when addressed to the listener


# -- lexicon matching ---------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One lexicon line: words (each a set of spellings, maybe with open endings)."""

    words: tuple[tuple[str, ...], ...]
    category: AbuseCategory
    severity: Severity
    directed: bool
    name: str
    entry: str  # the lexicon line's first spelling: one hit per line and segment


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]
    category: AbuseCategory
    severity: Severity
    squeezed: re.Pattern[str] | None = None  # the regex for squeezed text

    def first_match(self, text: str, squeezed_text: str) -> tuple[str, int] | None:
        """(the text it matched in, where) on the text, else on its squeezed form."""
        found = self.regex.search(text)
        if found:
            return text, found.start()
        if self.squeezed is None or squeezed_text == text:
            return None  # nothing was squeezed: the same text, the same answer
        found = self.squeezed.search(squeezed_text)
        return (squeezed_text, found.start()) if found else None


@dataclass(frozen=True)
class Rules:
    """Compiled lexicon and patterns for one language (or several merged)."""

    terms: tuple[Term, ...]
    patterns: tuple[Pattern, ...]
    frames: re.Pattern[str] | None
    frames_squeezed: re.Pattern[str] | None
    reported: re.Pattern[str] | None
    fillers: frozenset[str]
    allow: frozenset[str]
    fuzzy: tuple[int, int] | None  # (min length for distance 1, for distance 2)

    @functools.cached_property
    def index(self) -> TermIndex:
        return TermIndex.build(self.terms, self.fuzzy)

    @functools.cached_property
    def _seen(self) -> dict[str, tuple[Term, ...]]:
        """Terms whose first word each token matches: calls repeat the same words."""
        return {}

    def match(self, text: str) -> list[Hit]:
        tokens = text.split()
        hits: list[Hit] = []
        entries: set[str] = set()
        for position in range(len(tokens)):
            for term in self._terms_at(tokens, position):
                if term.entry not in entries and (hit := self._term_hit(term, tokens, position)):
                    hits.append(hit)
                    entries.add(term.entry)
        squeezed = squeeze(text)
        for pattern in self.patterns:
            found = pattern.first_match(text, squeezed)
            if found and not self._reported(found[0][: found[1]].split()):
                hits.append(Hit(pattern.category, pattern.severity, pattern.name))
        return hits

    def _terms_at(self, tokens: list[str], position: int) -> list[Term]:
        """Terms whose words are the tokens at ``position``."""
        found = [
            term
            for term in self._starting_with(tokens[position])
            if self._rest_matches(term, tokens, position)
        ]
        # ASR sometimes splits one word in two ("en culé", "ass hole").
        if position + 1 < len(tokens) and len(tokens[position]) > 1:
            joined = tokens[position] + tokens[position + 1]
            found += [t for t in self.index.exact_or_open(joined) if len(t.words) == 1]
        return found

    def _starting_with(self, token: str) -> tuple[Term, ...]:
        found = self._seen.get(token)
        if found is None:
            found = self._lookup(token)
            if len(self._seen) >= _TOKEN_CACHE_SIZE:
                self._seen.clear()
            self._seen[token] = found
        return found

    def _lookup(self, token: str) -> tuple[Term, ...]:
        """Terms whose first word matches the token: spelled out, open ending, near-miss."""
        if token.startswith("_"):  # a redaction placeholder never matches
            return ()
        found = set(self.index.exact_or_open(token))
        if "*" in token:
            candidates = self.index.by_initial.get(token[:1], ())
        elif self.fuzzy and token.isalpha() and len(token) >= self.fuzzy[0] - 1:
            candidates = self.index.fuzzy_by_initial.get(token[:1], ())
        else:
            candidates = ()
        for term in candidates:
            stem = term.words[0][0]
            if len(token) + 2 < len(stem) - stem.endswith("*") or (
                len(token) > len(stem) + 2 and not stem.endswith("*")
            ):
                continue  # too far apart in length for edit distance 2
            # Near-misses only for words worth flagging: mild swearing is not worth the noise.
            if term not in found and self._word_matches(
                term.words[0], token, fuzzy=term.severity != "low"
            ):
                found.add(term)
        return tuple(sorted(found, key=self.index.rank.__getitem__))

    def _rest_matches(self, term: Term, tokens: list[str], position: int) -> bool:
        """The words after the first of a multi-word term, at the following tokens."""
        rest = term.words[1:]
        if position + 1 + len(rest) > len(tokens):
            return False
        fuzzy = term.severity != "low" and not term.directed
        return all(
            self._word_matches(spellings, tokens[position + 1 + k], fuzzy)
            for k, spellings in enumerate(rest)
        )

    def _term_hit(self, term: Term, tokens: list[str], position: int) -> Hit | None:
        before = tokens[:position]
        if term.directed and not self._addressed(before):
            return None
        if self._reported(before):
            return None
        return Hit(term.category, term.severity, term.name, directed=term.directed)

    def _word_matches(self, spellings: tuple[str, ...], token: str, fuzzy: bool = True) -> bool:
        if token.startswith("_"):  # a redaction placeholder never matches
            return False
        for spelling in spellings:
            stem, open_end = spelling.rstrip("*"), spelling.endswith("*")
            if token == stem or (open_end and token.startswith(stem)):
                return True
            if "*" in token and _censored_match(token, stem, open_end):
                return True
            if (
                fuzzy
                and self.fuzzy
                and token not in self.allow
                and _near(token, stem, open_end, self.fuzzy)
            ):
                return True
        return False

    def _addressed(self, before: list[str]) -> bool:
        if self.frames is None or self.frames_squeezed is None:
            return False
        text = " ".join(before[-7:])
        return bool(self.frames.search(text) or self.frames_squeezed.search(squeeze(text)))

    def _reported(self, before: list[str]) -> bool:
        if self.reported is None:
            return False
        return bool(self.reported.search(" ".join(before[-8:])))


_TOKEN_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class TermIndex:
    """Terms by their first word, so a token is checked against a few terms, not all."""

    exact: Mapping[str, tuple[Term, ...]]
    open_ends: Mapping[str, tuple[Term, ...]]  # first word ending in "*", by its stem
    open_lengths: tuple[int, ...]  # the lengths of those stems
    by_initial: Mapping[str, tuple[Term, ...]]  # censored tokens ("f***") try these
    fuzzy_by_initial: Mapping[str, tuple[Term, ...]]  # first words long enough for near-misses
    rank: Mapping[Term, int]  # lexicon order, so hits come out in a stable order

    @classmethod
    def build(cls, terms: Sequence[Term], fuzzy: tuple[int, int] | None) -> TermIndex:
        exact: dict[str, list[Term]] = {}
        open_ends: dict[str, list[Term]] = {}
        by_initial: dict[str, list[Term]] = {}
        fuzzy_by_initial: dict[str, list[Term]] = {}
        for term in terms:
            first = term.words[0][0]
            stem = first.rstrip("*")
            (open_ends if first.endswith("*") else exact).setdefault(stem, []).append(term)
            by_initial.setdefault(stem[:1], []).append(term)
            # Near-misses only for words worth flagging and never for "directed" words:
            # those are everyday words whose neighbours are too ("boulot" / "boulet").
            if fuzzy and len(stem) >= fuzzy[0] and term.severity != "low" and not term.directed:
                fuzzy_by_initial.setdefault(stem[:1], []).append(term)

        def frozen(index: dict[str, list[Term]]) -> dict[str, tuple[Term, ...]]:
            return {key: tuple(value) for key, value in index.items()}

        return cls(
            exact=frozen(exact),
            open_ends=frozen(open_ends),
            open_lengths=tuple(sorted({len(stem) for stem in open_ends})),
            by_initial=frozen(by_initial),
            fuzzy_by_initial=frozen(fuzzy_by_initial),
            rank={term: rank for rank, term in enumerate(terms)},
        )

    def exact_or_open(self, token: str) -> tuple[Term, ...]:
        """Terms whose first word is the token, or a stem the token starts with."""
        found = self.exact.get(token, ())
        for length in self.open_lengths:
            if length > len(token):
                break
            found += self.open_ends.get(token[:length], ())
        return found


def _censored_match(token: str, stem: str, open_end: bool) -> bool:
    """``f***`` or ``f*cking`` as written by some ASR: stars stand for letters."""
    shape = re.compile("".join("[a-z]" if ch == "*" else re.escape(ch) for ch in token))
    candidates = [stem] + (
        [stem + end for end in ("ing", "in", "er", "ed", "s", "e", "es")] if open_end else []
    )
    return any(shape.fullmatch(c) for c in candidates)


def _near(token: str, stem: str, open_end: bool, limits: tuple[int, int]) -> bool:
    """Edit distance 1 (long words: 2) between a token and a lexicon spelling."""
    # ASR near-misses keep the start of a word ("conard", "assole"); real words that differ
    # by one letter mostly do not ("bigger", "slope"). A long word is not an inflection
    # of a short stem either ("concasseur" is not a "connasse*").
    if len(stem) < limits[0] or not token.isalpha() or token[:2] != stem[:2]:
        return False
    if open_end and len(token) > len(stem) + _MAX_ENDING:
        return False
    allowed = 2 if len(stem) >= limits[1] else 1
    candidates = [token]
    if open_end and len(token) > len(stem):
        # an inflected near-miss: compare the beginning of the token to the stem
        candidates += [token[: len(stem) + k] for k in (-1, 0, 1)]
    return any(_distance(c, stem, allowed) <= allowed for c in candidates)


_MAX_ENDING = 3  # "connards", "enfoirées": an open ending adds a few letters at most


_VOWELS = frozenset("aeiouy")


def _substitution_cost(a: str, b: str) -> int:
    """ASR confuses a vowel with a vowel, a consonant with a consonant: other swaps cost 2."""
    if a == b:
        return 0
    return 1 if (a in _VOWELS) == (b in _VOWELS) else 2


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            substitute = previous[j - 1] + _substitution_cost(ca, cb)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitute))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


# -- loading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledData:
    by_language: Mapping[str, Rules]

    def for_language(self, language: str | None) -> Rules:
        key = (language or "").split("-")[0].lower()
        return self.by_language.get(key, self.by_language["*"])


@functools.lru_cache(maxsize=8)
def _compiled(config: AbuseConfig) -> CompiledData:
    common = _read_terms(config.data_dir / "common" / "lexicon.txt")
    common += _parse_lines(
        [line for lang, line in config.extra_terms if lang == "common"], "[abuse] extra_terms"
    )
    parts = {lang: _language_parts(config, lang) for lang in LANGUAGES}
    fuzzy = (config.fuzzy_min_len, config.fuzzy2_min_len) if config.fuzzy else None
    by_language: dict[str, Rules] = {}
    for lang, (terms, patterns, settings) in parts.items():
        by_language[lang] = _rules(common + terms, patterns, [settings], fuzzy)
    # Any other language: both lexicons together.
    all_terms = common + [t for terms, _, _ in parts.values() for t in terms]
    all_patterns = [p for _, patterns, _ in parts.values() for p in patterns]
    by_language["*"] = _rules(all_terms, all_patterns, [s for _, _, s in parts.values()], fuzzy)
    return CompiledData(by_language)


def _language_parts(
    config: AbuseConfig, lang: str
) -> tuple[list[Term], list[Pattern], dict[str, Any]]:
    folder = config.data_dir / lang
    terms = _read_terms(folder / "lexicon.txt")
    terms += _parse_lines(
        [line for where, line in config.extra_terms if where == lang], f"[abuse] extra_terms_{lang}"
    )
    settings = read_toml(folder / "patterns.toml", "abuse patterns")
    allow_file = folder / "allow.txt"
    settings["allow"] = _read_words(allow_file) if allow_file.exists() else []
    common_allow = config.data_dir / "common" / "allow.txt"
    if common_allow.exists():
        settings["allow"] += _read_words(common_allow)
    patterns = [_pattern(item, folder / "patterns.toml") for item in settings.get("pattern", [])]
    for p_lang, name, regex, category, severity in config.extra_patterns:
        if p_lang in (lang, "", "*"):
            patterns.append(
                _pattern(
                    {"name": name, "regex": regex, "category": category, "severity": severity},
                    Path("[abuse] extra_patterns"),
                )
            )
    return terms, patterns, settings


def _rules(
    terms: list[Term],
    patterns: list[Pattern],
    settings: list[dict[str, Any]],
    fuzzy: tuple[int, int] | None,
) -> Rules:
    def joined(key: str) -> list[str]:
        return [item for s in settings for item in s.get(key, [])]

    frames, intensifiers = joined("frames"), joined("intensifiers")
    frame_re = frame_squeezed = None
    if frames:
        frame_re = _frame_regex(frames, intensifiers)
        frame_squeezed = _frame_regex(
            [squeeze(f) for f in frames], [squeeze(w) for w in intensifiers]
        )
    reported = joined("reported")
    reported_re = None
    if reported:
        reported_re = re.compile(rf"\b(?:{'|'.join(reported)})(?:\s\S+){{0,2}}$")
    return Rules(
        terms=tuple(terms),
        patterns=tuple(patterns),
        frames=frame_re,
        frames_squeezed=frame_squeezed,
        reported=reported_re,
        fillers=frozenset(joined("fillers")),
        allow=frozenset(joined("allow")),
        fuzzy=fuzzy,
    )


def _frame_regex(frames: list[str], intensifiers: list[str]) -> re.Pattern[str]:
    """An address frame, then up to three intensifiers, at the end of the text."""
    frame_alt = "|".join(sorted({re.escape(f) for f in frames}, key=len, reverse=True))
    fill_alt = "|".join(sorted({re.escape(w) for w in intensifiers}, key=len, reverse=True))
    return re.compile(rf"(?:^|\s)(?:{frame_alt})(?:\s(?:{fill_alt or '(?!)'})){{0,3}}$")


def _read_terms(path: Path) -> list[Term]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read abuse lexicon ({exc.strerror})") from None
    return _parse_lines(lines, str(path))


def _parse_lines(lines: Sequence[str], source: str) -> list[Term]:
    terms = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields_ = [f.strip() for f in line.split(" | ")]
        if len(fields_) not in (3, 4) or (len(fields_) == 4 and fields_[3] != "directed"):
            raise ConfigError(
                f"{source}:{number}: expected 'term | category | severity [| directed]'"
            )
        term, category, severity = fields_[:3]
        spellings = [normalise(s).split() for s in term.split("|")]
        for words in spellings:
            terms.append(
                Term(
                    words=tuple((w,) for w in words),
                    category=_category(category, f"{source}:{number}"),
                    severity=_severity(severity, f"{source}:{number}"),
                    directed=len(fields_) == 4,
                    name=" ".join(words),
                    entry=f"{source}:{number}",
                )
            )
    return terms


def _pattern(item: Mapping[str, Any], source: Path) -> Pattern:
    try:
        name, regex = str(item["name"]), str(item["regex"])
        return Pattern(
            name=name,
            regex=re.compile(regex),
            squeezed=re.compile(_squeeze_regex(regex)),
            category=_category(str(item["category"]), f"{source}: {name}"),
            severity=_severity(str(item["severity"]), f"{source}: {name}"),
        )
    except KeyError as exc:
        raise ConfigError(f"{source}: a pattern lacks {exc}") from None
    except re.error as exc:
        raise ConfigError(
            f"{source}: pattern {item.get('name')!r} is not a valid regex ({exc})"
        ) from None


def _extra_pattern(item: Any) -> tuple[str, str, str, str, str]:
    if not isinstance(item, Mapping):
        raise ConfigError(
            "[abuse] extra_patterns: each entry must be a table {name, regex, category, severity}"
        )
    try:
        return (
            str(item.get("language", "")),
            str(item["name"]),
            str(item["regex"]),
            str(item["category"]),
            str(item["severity"]),
        )
    except KeyError as exc:
        raise ConfigError(f"[abuse] extra_patterns: an entry lacks {exc}") from None


def _read_words(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [normalise(line) for line in lines if line.strip() and not line.startswith("#")]


def _category(value: str, where: str = "[abuse]") -> AbuseCategory:
    if value not in ABUSE_CATEGORIES:
        raise ConfigError(
            f"{where}: category must be one of {', '.join(ABUSE_CATEGORIES)}, not {value!r}"
        )
    return value  # type: ignore[return-value]


def _severity(value: str, where: str = "[abuse]") -> Severity:
    if value not in SEVERITIES or value == "none":
        raise ConfigError(f"{where}: severity must be low, medium or high, not {value!r}")
    return value  # type: ignore[return-value]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, not {value!r}")
