"""The labelled abuse sets and their call-level figures, shared by tests and the benchmark.

Labelled sets under ``tests/data/abuse_eval/``, one JSON object a line: ``call_id``,
``language`` (fr|en), ``label`` (abusive|civil|neutral) and ``segments`` (speaker, start,
end, text; ASR-style: lower case, little punctuation, fillers, misspellings, redaction
placeholders). A call is positive when labelled ``abusive``; ``civil`` calls are angry
but civil complaints (some with mild swearing).

- ``dev.jsonl`` (104 calls): used while writing the lexicons. Its calls d01-d64 came
  first; f01-f20 and b01-b20 were written later as blind sets, measured once (call
  recall 0.50 and 0.40, precision 1.00), then folded in here and tuned on.
- ``heldout.jsonl`` (24 calls): written before the lexicons, by the same author, and
  never tuned on.
- ``blind.jsonl`` (24 calls): written after the first lexicons, with new phrasing, and
  never tuned on. Measured at call recall 0.50 (precision 1.00) before the lexicons were
  broadened by category, 0.83 after (precision 1.00): still not tuned on.
- ``blind3.jsonl`` (30 calls: 20 abusive, 10 civil/neutral, half French, half English):
  written by the second author *before* broadening the lexicons, to cover what the first
  blind set showed was missing (slang, Quebec French, veiled threats, threats to family,
  sexual and discriminatory remarks, insults cut across segments, agent mockery) and
  innocent near-words ("dispute", "queue", "Dick", "we'll come for you"). Measured once
  before (recall 0.20, precision 0.80) and after (recall 1.00, precision 1.00) broadening.
- ``blind2.jsonl``, when present, is written by someone else and never read while tuning:
  the benchmark prints it like the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from analytics.models import AbuseReport, RedactedSegment, RedactedTranscript

EVAL_DIR = Path(__file__).parent / "data" / "abuse_eval"
DEV = EVAL_DIR / "dev.jsonl"
HELDOUT = EVAL_DIR / "heldout.jsonl"
BLIND = EVAL_DIR / "blind.jsonl"
BLIND3 = EVAL_DIR / "blind3.jsonl"
LABELS = ("abusive", "civil", "neutral")


@dataclass(frozen=True)
class LabelledCall:
    transcript: RedactedTranscript
    label: str

    @property
    def abusive(self) -> bool:
        return self.label == "abusive"


@dataclass(frozen=True)
class Figures:
    calls: int
    true_pos: int
    false_pos: int
    false_neg: int
    missed: tuple[str, ...]  # call ids of abusive calls not flagged
    false_alarms: tuple[str, ...]  # call ids of civil/neutral calls flagged

    @property
    def recall(self) -> float:
        found = self.true_pos + self.false_neg
        return self.true_pos / found if found else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0


def eval_sets() -> list[Path]:
    """Every labelled set in the folder: dev and held-out first, then the blind sets."""
    order = {"dev": 0, "heldout": 1}
    return sorted(EVAL_DIR.glob("*.jsonl"), key=lambda p: (order.get(p.stem, 2), p.stem))


def load_calls(path: Path) -> list[LabelledCall]:
    calls = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["label"] not in LABELS:
            raise ValueError(f"{path}:{number}: unknown label {row['label']!r}")
        segments = tuple(
            RedactedSegment(
                speaker=s["speaker"],
                start=float(s["start"]),
                end=float(s["end"]),
                text=s["text"],
                loudness_db=s.get("loudness_db"),
            )
            for s in row["segments"]
        )
        transcript = RedactedTranscript(
            call_id=row["call_id"],
            language=row["language"],
            language_probability=1.0,
            duration_s=max((s.end for s in segments), default=0.0),
            segments=segments,
        )
        calls.append(LabelledCall(transcript, row["label"]))
    return calls


def evaluate(
    calls: Sequence[LabelledCall], detect: Callable[[RedactedTranscript], AbuseReport]
) -> Figures:
    """Call-level figures: a call counts as detected when its report is ``flagged``."""
    tp = fp = fn = 0
    missed, alarms = [], []
    for call in calls:
        flagged = detect(call.transcript).flagged
        if flagged and call.abusive:
            tp += 1
        elif flagged:
            fp += 1
            alarms.append(call.transcript.call_id)
        elif call.abusive:
            fn += 1
            missed.append(call.transcript.call_id)
    return Figures(len(calls), tp, fp, fn, tuple(missed), tuple(alarms))


FILLERS = {"fr": ("euh", "ben", "bah", "hein"), "en": ("uh", "um", "like", "you know")}


def asr_noise(call: LabelledCall, seed: int, rate: float = 0.15) -> LabelledCall:
    """The call as a noisier ASR might write it (deterministic for a seed).

    Drops apostrophes and accents on some words, inserts filler words, and mangles some
    long words (one letter dropped or doubled) — the lexicon is never consulted, so this
    hits abusive and innocent words alike.
    """
    import random
    import unicodedata

    rng = random.Random(f"{seed}:{call.transcript.call_id}")
    fillers = FILLERS.get(call.transcript.language, FILLERS["en"])

    def word(w: str) -> str:
        if w.startswith("<"):
            return w
        if rng.random() < rate:
            w = w.replace("'", " ")
        if rng.random() < rate:
            w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
        if len(w) >= 7 and w.isalpha() and rng.random() < rate:
            i = rng.randrange(1, len(w) - 1)
            w = w[:i] + w[i + 1 :] if rng.random() < 0.5 else w[:i] + w[i] + w[i:]
        if rng.random() < rate / 2:
            w = f"{rng.choice(fillers)} {w}"
        return w

    segments = tuple(
        replace(s, text=" ".join(word(w) for w in s.text.split())) for s in call.transcript.segments
    )
    return LabelledCall(replace(call.transcript, segments=segments), call.label)
