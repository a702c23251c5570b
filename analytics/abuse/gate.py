"""The cheap pre-filter in front of the embeddings: hashed character n-grams, one linear model.

Embedding a segment costs about 30 ms of CPU; most segments of a call ("bonjour", a
reference number, "one moment please") are plainly clean. The gate is a binary logistic
regression (abusive or not) on hashed character 2–4-grams of the ASR-like text (about
20 µs a segment), trained with the classifier by ``benchmarks/abuse_train.py`` on the same
sentences. The embeddings make an event by themselves only when their score reaches
``model_alone_threshold`` (English text also goes to them when alt-profanity-check finds
it offensive, and any text a lexicon rule hit does), so the gate's threshold is set there,
from cross-validated scores, to let through ``GATE_RECALL`` (90%) of the training
sentences the embeddings would flag by themselves. That is a trade of speed for recall:
98% let a sixth of everyday segments through (about 160 segments per CPU second), 90% a
twelfth; on the external development sets the two differ by about one point of English
recall, and the segments lost are mostly ones the embeddings flag alone at low precision.
Only segments it lets through, or that skip it, are embedded. Its weights are plain
arrays in the classifier file (``gate_coef``, ``gate_intercept``, ``gate_threshold``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

GATE_FEATURES = 2**17
GATE_RECALL = 0.90  # share of the sentences the embeddings flag alone that it lets through


@cache
def gate_vectorizer() -> Any:
    """The stateless hashing vectorizer shared by training and run time."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 4),
        n_features=GATE_FEATURES,
        alternate_sign=False,
        lowercase=False,  # the text is already ASR-like (model_text)
        norm="l2",
    )


@dataclass(frozen=True)
class Gate:
    """Which texts are worth embedding; ``threshold`` 0 lets everything through."""

    coef: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    intercept: float = 0.0
    threshold: float = 0.0

    def __repr__(self) -> str:
        return f"Gate(threshold={self.threshold:.3f})"

    @classmethod
    def from_arrays(cls, data: Any) -> Gate:
        """The gate stored in a classifier ``.npz`` (an open gate when it has none)."""
        if "gate_coef" not in data:
            return cls()
        return cls(
            coef=np.asarray(data["gate_coef"], dtype=np.float32),
            intercept=float(data["gate_intercept"]),
            threshold=float(data["gate_threshold"]),
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(abusive) per (ASR-like) text."""
        if not len(self.coef):
            return np.ones(len(texts), dtype=np.float32)
        logits = gate_vectorizer().transform(list(texts)) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)

    def passes(self, texts: Sequence[str]) -> list[bool]:
        """True for each text the embeddings should read."""
        if self.threshold <= 0.0 or not texts:
            return [True] * len(texts)
        return [bool(p >= self.threshold) for p in self.probabilities(texts)]
