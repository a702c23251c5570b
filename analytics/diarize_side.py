"""Which voice of a mono call is the agent: a learned classifier over turn-level features.

Each voice is described by a few general features of what it says and how it takes its
turns (:data:`FEATURES`): the side phrases of ``analytics/data/diarize/side_<lang>.toml``
and the quality phrases of its opening and closing (counted, capped), its share of the
call's questions, "you/your" against "I/my", "we", commitments ("I will", "let me"),
forms of address ("sir", "madame"), thanks, its share of the words and its turn lengths,
whether it speaks first and whether it has the last word.

A logistic regression without intercept over the *difference* between the two voices'
features gives P(this voice is the agent); swapping the voices gives the complement, so
the order of the voices does not matter. Its weights (``analytics/data/diarize/
side_model.json``, plain numbers) are fitted by ``benchmarks/side_train.py`` on call
scripts written for callqa (``analytics/data/diarize/training/``), none of them the
benchmark's, with the regularisation chosen by cross-validation over calls.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analytics.models import RedactedSegment, RedactedTranscript

DATA_DIR = Path(__file__).parent / "data" / "diarize"
MODEL_FILE = DATA_DIR / "side_model.json"
PHRASE_CAP = 2  # a phrase list counts at most this many distinct phrases of one voice

# The side phrase lists of side_<lang>.toml that are counted (distinct phrases, capped).
PHRASE_LISTS = ("agent_offer", "agent_company", "customer_request")
# Word lists of side_<lang>.toml counted per word spoken.
WORD_LISTS = ("yours", "mine", "we", "address", "thanks")
# Phrase lists of side_<lang>.toml counted per segment.
RATE_LISTS = ("commits",)

FEATURES: tuple[str, ...] = (
    "greeting_opening",  # quality "greeting" phrase in the voice's opening
    "identified_opening",  # quality "agent_identified" in its opening ("my name is <PERSON>")
    "closing",  # quality closing formula near the end of the call
    "empathy",
    "hold",
    "agent_offer",
    "agent_company",
    "customer_request",
    "addresses_other",  # (your − my) / (your + my + 1)
    "you_rate",
    "i_rate",
    "we_rate",
    "address_rate",  # sir, madam, monsieur, madame
    "thanks_rate",
    "commits_rate",  # I will, let me, je vais, nous allons ... per segment
    "question_share",  # the voice's share of the call's question marks
    "word_share",  # the voice's share of the call's words
    "turn_words",  # log(1 + mean words per segment)
    "name_opening",  # a redacted name in the voice's first segments
    "speaks_first",
    "speaks_last",
)


@dataclass(frozen=True)
class SideWords:
    """The side word and phrase lists of a language (``side_<lang>.toml``)."""

    patterns: Mapping[str, re.Pattern[str] | None]


@functools.lru_cache(maxsize=8)
def side_words(language: str | None, data_dir: Path = DATA_DIR) -> SideWords:
    """The lists of ``language`` (``fr-FR`` → ``fr``; unknown: every language's)."""
    from analytics.config import read_toml
    from analytics.quality import LANGUAGES, _alternation

    code = (language or "").split("-")[0].lower()
    langs = [code] if code in LANGUAGES else list(LANGUAGES)
    lists: dict[str, list[str]] = {n: [] for n in (*PHRASE_LISTS, *WORD_LISTS, *RATE_LISTS)}
    for lang in langs:
        path = data_dir / f"side_{lang}.toml"
        if path.exists():
            table = read_toml(path, "diarize data")
            for name in lists:
                lists[name] += [str(p) for p in table.get(name, [])]
    patterns = {n: _alternation(lists[n], as_phrases=True) for n in (*PHRASE_LISTS, *RATE_LISTS)}
    patterns |= {n: _alternation(lists[n], as_phrases=False) for n in WORD_LISTS}
    return SideWords(patterns)


def _count(pattern: re.Pattern[str] | None, texts: Sequence[str]) -> int:
    return 0 if pattern is None else sum(len(pattern.findall(t)) for t in texts)


def _distinct(pattern: re.Pattern[str] | None, texts: Sequence[str]) -> int:
    if pattern is None:
        return 0
    return len({m.group(0) for t in texts for m in pattern.finditer(t)})


def voice_features(
    by_voice: Mapping[int, Sequence[RedactedSegment]],
    transcript: RedactedTranscript,
    quality_config: Any = None,
) -> dict[int, np.ndarray]:
    """The :data:`FEATURES` of each voice (segments given per voice, in call order)."""
    from analytics import quality
    from analytics.abuse import normalise

    config = quality_config or quality.QualityConfig.default()
    lexicons = quality.lexicons_for(config, transcript.language)
    words = side_words(transcript.language)
    texts = {lab: [normalise(s.text) for s in segs] for lab, segs in by_voice.items()}
    n_words = {lab: sum(len(t.split()) for t in ts) for lab, ts in texts.items()}
    questions = {lab: sum(s.text.count("?") for s in segs) for lab, segs in by_voice.items()}
    all_words = sum(n_words.values()) or 1
    all_questions = sum(questions.values())
    first = min(by_voice, key=lambda lab: min(s.start for s in by_voice[lab]))
    last = max(by_voice, key=lambda lab: max(s.end for s in by_voice[lab]))
    out: dict[int, np.ndarray] = {}
    for label, segs in by_voice.items():
        ts, n = texts[label], max(1, n_words[label])
        per_word = {name: _count(words.patterns[name], ts) for name in WORD_LISTS}
        opening = quality._opening(segs, config)
        values = {
            "greeting_opening": quality.says(lexicons, "greeting", opening),
            "identified_opening": quality.says(lexicons, "agent_identified", opening),
            "closing": quality.says_in_closing(lexicons, segs, transcript, config),
            "empathy": quality.says(lexicons, "empathy", segs),
            "hold": quality.says(lexicons, "hold", segs),
            **{name: min(PHRASE_CAP, _distinct(words.patterns[name], ts)) for name in PHRASE_LISTS},
            "addresses_other": (per_word["yours"] - per_word["mine"])
            / (per_word["yours"] + per_word["mine"] + 1),
            "you_rate": 10 * per_word["yours"] / n,
            "i_rate": 10 * per_word["mine"] / n,
            "we_rate": 10 * per_word["we"] / n,
            "address_rate": 10 * per_word["address"] / n,
            "thanks_rate": 10 * per_word["thanks"] / n,
            "commits_rate": _count(words.patterns["commits"], ts) / len(segs),
            "question_share": questions[label] / (all_questions + 1),
            "word_share": n_words[label] / all_words,
            "turn_words": math.log1p(n_words[label] / len(segs)),
            "name_opening": any("<PERSON>" in s.text for s in opening[:2]),
            "speaks_first": label == first,
            "speaks_last": label == last,
        }
        out[label] = np.array([float(values[f]) for f in FEATURES])
    return out


@dataclass(frozen=True)
class SideModel:
    """The fitted weights: P(agent) = σ(coef · (f(voice) − mean f(other voices)))."""

    coef: np.ndarray
    features: tuple[str, ...] = FEATURES

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> SideModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = tuple(data["features"])
        if names != FEATURES:
            from analytics.errors import ConfigError

            raise ConfigError(f"{path}: features {names} do not match the code's {FEATURES}")
        return cls(np.asarray(data["coef"], dtype=float), names)

    def probabilities(self, features: Mapping[int, np.ndarray]) -> dict[int, float]:
        """P(agent) per voice; with two voices the two add up to 1."""
        out: dict[int, float] = {}
        for label, own in features.items():
            others = [f for lab, f in features.items() if lab != label]
            if not others:
                continue
            logit = float(self.coef @ (own - np.mean(others, axis=0)))
            out[label] = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
        return out

    def contributions(self, own: np.ndarray, other: np.ndarray) -> dict[str, float]:
        """Each feature's share of the logit (for logs and explanations)."""
        parts = self.coef * (own - other)
        return {f: round(float(v), 2) for f, v in zip(self.features, parts, strict=True) if v}


@functools.lru_cache(maxsize=2)
def side_model(path: Path = MODEL_FILE) -> SideModel:
    return SideModel.load(path)
