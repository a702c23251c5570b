"""The labelled abuse sets and their call-level figures, shared by tests and the benchmark.

``tests/data/abuse_eval/dev.jsonl`` (64 calls, used while writing the lexicons) and
``heldout.jsonl`` (24 calls written before the lexicons and not tuned on). One JSON
object a line: ``call_id``, ``language`` (fr|en), ``label`` (abusive|civil|neutral) and
``segments`` (speaker, start, end, text; ASR-style: lower case, little punctuation,
fillers, misspellings, redaction placeholders). A call is positive when labelled
``abusive``; ``civil`` calls are angry but civil complaints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analytics.models import AbuseReport, RedactedSegment, RedactedTranscript

EVAL_DIR = Path(__file__).parent / "data" / "abuse_eval"
DEV = EVAL_DIR / "dev.jsonl"
HELDOUT = EVAL_DIR / "heldout.jsonl"
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
