"""Scoring redaction on span-annotated texts written by others (or filled from templates).

Each record is one text with gold spans ``(start, end, type)``. Scores are by
characters (letters and digits only, so spaces and punctuation neither help nor
hurt): *recall* is the share of gold PII characters hidden by some entity (whatever
its type); *precision* is the share of hidden characters that lie in a gold PII
span. Gold spans of types the product does not target (organisations, dates, job
titles, ages...) are neutral: hiding them is neither a hit nor a false positive.

The shared evaluation files are read in place (``../shared/eval``) and never copied.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "eval"

# Gold types the product must hide (the others are neutral).
TARGET_TYPES = frozenset(
    {
        "PERSON",
        "STREET_ADDRESS",
        "GPE",
        "LOCATION",
        "ZIP_CODE",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "PIN",
        "DATE_OF_BIRTH",
        "LICENSE_PLATE",
        "POLICY_NUMBER",
    }
)


@dataclass(frozen=True)
class Record:
    """One annotated text; ``repr`` leaves the text out."""

    id: str
    language: str
    version: str
    text: str = field(repr=False)
    spans: tuple[tuple[int, int, str], ...] = field(repr=False)


def load_jsonl(path: Path) -> list[Record]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        spans = tuple((s["start"], s["end"], s["type"]) for s in item["spans"])
        records.append(Record(item["id"], item["lang"], item["version"], item["text"], spans))
    return records


def shared_sets() -> dict[str, list[Record]]:
    """The shared sets by name ("en_synth/orig"...), empty when the files are absent."""
    sets: dict[str, list[Record]] = {}
    for name in ("redaction_en_synth", "redaction_fr_rgpd"):
        path = EVAL_DIR / f"{name}.jsonl"
        if not path.exists():
            continue
        for record in load_jsonl(path):
            short = name.removeprefix("redaction_")
            sets.setdefault(f"{short}/{record.version}", []).append(record)
    return sets


@dataclass
class Score:
    gold: int = 0  # gold PII characters of this type
    hidden: int = 0  # ... covered by an entity
    predicted: int = 0  # characters of entities of this (predicted) type, neutral ones left out
    true: int = 0  # ... inside a gold PII span

    @property
    def recall(self) -> float:
        return self.hidden / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.true / self.predicted if self.predicted else 1.0


@dataclass
class SetReport:
    recall_by_type: dict[str, Score]
    precision_by_type: dict[str, Score]
    segments: int
    seconds: float
    misses: Counter[str]  # gold type → missed characters
    missed: list[tuple[str, str, str]]  # (record id, gold type, missed text)
    false: list[tuple[str, str, str]]  # (record id, predicted type, wrongly hidden text)

    def total(self) -> Score:
        total = Score()
        for score in self.recall_by_type.values():
            total.gold += score.gold
            total.hidden += score.hidden
        for score in self.precision_by_type.values():
            total.predicted += score.predicted
            total.true += score.true
        return total

    def table(self) -> str:
        lines = [
            f"  {'gold type':16} {'chars':>6} {'hidden':>7}   {'pred type':14} {'chars':>6} {'prec':>6}"
        ]
        left = sorted(self.recall_by_type.items())
        right = sorted(self.precision_by_type.items())
        for row in range(max(len(left), len(right))):
            a = (
                f"{left[row][0]:16} {left[row][1].gold:6d} {left[row][1].recall:7.3f}"
                if row < len(left)
                else " " * 31
            )
            b = (
                f"{right[row][0]:14} {right[row][1].predicted:6d} {right[row][1].precision:6.3f}"
                if row < len(right)
                else ""
            )
            lines.append(f"  {a}   {b}")
        total = self.total()
        lines.append(
            f"  {'ALL':16} {total.gold:6d} {total.recall:7.3f}   {'ALL':14} "
            f"{total.predicted:6d} {total.precision:6.3f}"
        )
        lines.append(f"  {self.segments} segments, {self.segments / self.seconds:.0f} segments/s")
        return "\n".join(lines)


Finder = Callable[[Sequence[str], str], list[list[tuple[int, int, str]]]]


def evaluate(
    find: Finder,
    records: Sequence[Record],
    *,
    contexts: Sequence[str] | None = None,
    keep_examples: bool = False,
) -> SetReport:
    """Score ``find`` (texts, language → entities per text) on ``records``.

    ``contexts`` are not used here: a finder that reads context closes over it.
    """
    del contexts
    began = time.perf_counter()
    found: list[list[tuple[int, int, str]]] = []
    by_language: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_language.setdefault(record.language, []).append(index)
    results: dict[int, list[tuple[int, int, str]]] = {}
    for language, indices in by_language.items():
        for index, entities in zip(
            indices, find([records[i].text for i in indices], language), strict=True
        ):
            results[index] = entities
    seconds = time.perf_counter() - began
    found = [results[i] for i in range(len(records))]
    recall: dict[str, Score] = {}
    precision: dict[str, Score] = {}
    misses: Counter[str] = Counter()
    missed: list[tuple[str, str, str]] = []
    false: list[tuple[str, str, str]] = []
    for record, entities in zip(records, found, strict=True):
        text = record.text
        gold_type = [""] * len(text)
        for start, end, kind in record.spans:
            for i in range(start, min(end, len(text))):
                gold_type[i] = kind
        hidden = [False] * len(text)
        for start, end, kind in entities:
            score = precision.setdefault(kind, Score())
            wrong: list[int] = []
            for i in range(max(start, 0), min(end, len(text))):
                hidden[i] = True
                if not text[i].isalnum():
                    continue
                gold = gold_type[i]
                if gold and gold not in TARGET_TYPES:
                    continue  # neutral
                score.predicted += 1
                if gold:
                    score.true += 1
                else:
                    wrong.append(i)
            if keep_examples and wrong:
                false.append((record.id, kind, text[wrong[0] : wrong[-1] + 1]))
        for start, end, kind in record.spans:
            if kind not in TARGET_TYPES:
                continue
            score = recall.setdefault(kind, Score())
            left = [i for i in range(start, end) if text[i].isalnum() and not hidden[i]]
            score.gold += sum(1 for i in range(start, end) if text[i].isalnum())
            score.hidden += sum(1 for i in range(start, end) if text[i].isalnum() and hidden[i])
            if left:
                misses[kind] += len(left)
                if keep_examples:
                    shown = "".join(
                        "_" if hidden[i] and text[i].isalnum() else text[i]
                        for i in range(start, end)
                    )
                    missed.append((record.id, kind, shown))
    return SetReport(recall, precision, len(records), max(seconds, 1e-9), misses, missed, false)


def merge_reports(reports: Iterable[SetReport]) -> Score:
    total = Score()
    for report in reports:
        part = report.total()
        total.gold += part.gold
        total.hidden += part.hidden
        total.predicted += part.predicted
        total.true += part.true
    return total
