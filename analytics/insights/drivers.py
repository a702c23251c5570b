"""Call drivers: recurring reasons for calling, found in the redacted customer turns.

Each call's customer turns are one document. TF-IDF (scikit-learn) over folded words
without stop words and placeholders, then NMF: each topic is named by its top terms,
and a call belongs to the topic that weighs most in it (or to none when every weight
is small). Topic ids are stable across runs: a topic whose term vector is close
(cosine similarity) to a topic of the previous run takes its id (one-to-one, best
pairs first); the others get new ids. Pure: the caller reads the documents (governed)
and keeps the previous topics (:mod:`analytics.store.drivers`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from analytics.insights.text import fold, tokens

DEFAULT_TOPICS = 8
TOP_TERMS = 6
VECTOR_TERMS = 30  # terms kept per topic to match it with the next run
MATCH_MIN_SIMILARITY = 0.5
ASSIGN_MIN_WEIGHT = 0.02
# Spoken fillers and call-centre formulas that say nothing about why someone calls.
_FILLERS = {
    "oui", "non", "alors", "bon", "ben", "bah", "euh", "ok", "okay", "d'accord", "accord",
    "merci", "bonjour", "bonsoir", "revoir", "madame", "monsieur", "voila", "ca", "c'est",
    "yes", "no", "yeah", "hello", "hi", "thanks", "thank", "please", "um", "uh", "well",
    "voudrais", "veux", "peux", "pouvez", "would", "like", "want", "could", "can", "just",
}  # fmt: skip


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """French and English stop words (spaCy's French list, scikit-learn's English), folded."""
    from spacy.lang.fr.stop_words import STOP_WORDS as FRENCH

    return frozenset(fold(w) for w in (*FRENCH, *ENGLISH_STOP_WORDS, *_FILLERS))


def analyse_words(text: str) -> list[str]:
    """The words of a document that may name a reason: no placeholder, stop word, digit."""
    stops = stop_words()
    return [
        w
        for w in tokens(text)
        if not w.startswith("<") and len(w) > 2 and not w.isdigit() and w not in stops
    ]


@dataclass(frozen=True)
class Document:
    """The redacted customer turns of one call."""

    call_id: str
    started_at: datetime
    text: str = field(repr=False)


@dataclass(frozen=True)
class Topic:
    topic_id: int
    terms: tuple[str, ...]  # top terms, most weighty first: the topic's name
    vector: Mapping[str, float] = field(repr=False)  # unit-length term weights
    calls: int = 0

    @property
    def name(self) -> str:
        return " · ".join(self.terms[:4])


@dataclass(frozen=True)
class DriverRun:
    topics: tuple[Topic, ...]
    assignments: Mapping[str, int | None]  # call id -> topic id (None: no clear reason)
    weekly: tuple[tuple[str, int, int], ...]  # (Monday ISO date, topic id, calls)
    matched: Mapping[int, float] = field(default_factory=dict)  # kept ids: similarity


def _unit(weights: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
    return {term: v / norm for term, v in weights.items()}


def similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two term vectors."""
    dot = sum(v * b.get(term, 0.0) for term, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def match_ids(
    new: Sequence[Mapping[str, float]], previous: Sequence[Topic], min_similarity: float
) -> tuple[list[int], dict[int, float]]:
    """Ids for new topic vectors: the previous topic's id where it persists, else new ones."""
    pairs = sorted(
        (
            (similarity(vector, old.vector), i, old.topic_id)
            for i, vector in enumerate(new)
            for old in previous
        ),
        reverse=True,
    )
    ids: dict[int, int] = {}
    kept: dict[int, float] = {}
    used: set[int] = set()
    for score, i, old_id in pairs:
        if score < min_similarity:
            break
        if i in ids or old_id in used:
            continue
        ids[i] = old_id
        kept[old_id] = score
        used.add(old_id)
    next_id = max((t.topic_id for t in previous), default=0) + 1
    out = []
    for i in range(len(new)):
        if i not in ids:
            ids[i] = next_id
            next_id += 1
        out.append(ids[i])
    return out, kept


def monday(moment: datetime) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday())


def discover(
    documents: Sequence[Document],
    *,
    topics: int = DEFAULT_TOPICS,
    previous: Sequence[Topic] = (),
    min_df: int = 3,
    seed: int = 0,
    min_similarity: float = MATCH_MIN_SIMILARITY,
) -> DriverRun:
    """Find the call drivers of a set of calls.

    Args:
        documents: one per call (its redacted customer turns).
        topics: how many drivers to look for (fewer when the corpus is small).
        previous: the topics of the last run, whose ids persist where topics do.
        min_df: a term must appear in this many calls (keeps rare words, and any
            personal value redaction missed, out of the topics' names).
    """
    docs = [d for d in documents if analyse_words(d.text)]
    if len(docs) < 2:
        return DriverRun((), {d.call_id: None for d in documents}, ())
    vectorizer = TfidfVectorizer(
        analyzer=analyse_words, min_df=min(min_df, len(docs)), max_df=0.6, sublinear_tf=True
    )
    try:
        matrix = vectorizer.fit_transform([d.text for d in docs])
    except ValueError:  # no term left after pruning
        return DriverRun((), {d.call_id: None for d in documents}, ())
    k = max(1, min(topics, matrix.shape[0] - 1, matrix.shape[1]))
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    weights = model.fit_transform(matrix)
    vocabulary = vectorizer.get_feature_names_out()
    vectors = []
    for component in model.components_:
        order = np.argsort(component)[::-1][:VECTOR_TERMS]
        vectors.append(
            _unit({str(vocabulary[j]): float(component[j]) for j in order if component[j] > 0})
        )
    ids, kept = match_ids(vectors, previous, min_similarity)
    assignments: dict[str, int | None] = {d.call_id: None for d in documents}
    for row, doc in enumerate(docs):
        best = int(np.argmax(weights[row]))
        if weights[row, best] >= ASSIGN_MIN_WEIGHT:
            assignments[doc.call_id] = ids[best]
    counts = Counter(t for t in assignments.values() if t is not None)
    found = tuple(
        sorted(
            (
                Topic(ids[i], tuple(list(vectors[i])[:TOP_TERMS]), vectors[i], counts[ids[i]])
                for i in range(k)
            ),
            key=lambda t: (-t.calls, t.topic_id),
        )
    )
    weekly = Counter(
        (monday(doc.started_at).isoformat(), assignments[doc.call_id])
        for doc in docs
        if assignments[doc.call_id] is not None
    )
    trend = tuple(
        sorted((week, int(tid), n) for (week, tid), n in weekly.items() if tid is not None)
    )
    return DriverRun(found, assignments, trend, kept)


def purity(assignments: Mapping[str, int | None], truth: Mapping[str, str]) -> float:
    """Share of calls whose topic's most common true reason is their own (unassigned: wrong)."""
    by_topic: dict[int, Counter[str]] = {}
    for call_id, topic in assignments.items():
        if topic is not None:
            by_topic.setdefault(topic, Counter())[truth[call_id]] += 1
    right = sum(counter.most_common(1)[0][1] for counter in by_topic.values())
    return right / len(truth) if truth else 0.0
