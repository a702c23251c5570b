"""Export the governed dataset: JSON Lines (nested, DESIGN.md schema), CSV, Parquet.

CSV and Parquet hold the same fields flattened: ``quality_*``, ``abuse_*`` and
``pii_<TYPE>`` columns, with segments and abuse events as JSON text. Parquet also
writes ``<stem>.segments.parquet``: one row per redacted segment.
Files are written to a temporary name and renamed, so a failed export leaves
nothing half-written, and are private to their owner (mode 0600) from the start.

CSV is opened by spreadsheets, which run a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula (``=HYPERLINK(...)`` in an
agent name, say): such text cells get a leading single quote (OWASP's CSV
injection advice). JSON Lines and Parquet are data formats read by programs, so
their values stay exactly as stored.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from analytics import audit
from analytics.errors import UsageError
from analytics.store import CallFilter, Store, iter_call_records, segment_rows, utcnow
from analytics.store import evaluations as evaluation_rows
from analytics.store.reads import CALL_FIELDS, QUALITY_FIELDS

log = logging.getLogger(__name__)

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")

# The export schema of DESIGN.md, key for key (a public contract: checks compare keys).
EXPORT_KEYS = (*CALL_FIELDS, "segments", "pii", "quality", "abuse")
# Extensions (keys added after the DESIGN.md schema, never changing it).
EXTENSION_KEYS = ("categories", "evaluation")
CATEGORY_KEYS = ("name", "evidence")  # evidence: indexes into ``segments``
EVALUATION_COLUMNS = ("form", "version", "status", "automatic_score", "final_score")
SEGMENT_KEYS = ("speaker", "start", "end", "text")
# The store's figures less those the export schema does not carry (the dashboard and
# analytics.load_calls give them).
NOT_EXPORTED = ("hold_etiquette", "sentiment_start", "sentiment_end")
QUALITY_KEYS = tuple(name for name in QUALITY_FIELDS if name not in NOT_EXPORTED)
ABUSE_KEYS = ("flagged", "severity", "events")
EVENT_KEYS = ("speaker", "start", "end", "category", "text")


def export_record(record: dict[str, Any]) -> dict[str, Any]:
    """A governed call record cut to the export schema (the store's records hold more)."""
    abuse = record["abuse"]
    return {
        **{key: record[key] for key in CALL_FIELDS},
        "segments": [{key: seg[key] for key in SEGMENT_KEYS} for seg in record["segments"]],
        "pii": dict(record["pii"]),
        "quality": {key: record["quality"][key] for key in QUALITY_KEYS},
        "abuse": {
            "flagged": abuse["flagged"],
            "severity": abuse["severity"],
            "events": [{key: ev[key] for key in EVENT_KEYS} for ev in abuse["events"]],
        },
        "categories": [
            {key: match[key] for key in CATEGORY_KEYS} for match in record.get("categories", [])
        ],
    }


def flat_columns(pii_types: Iterable[str]) -> list[str]:
    """The CSV/Parquet columns, in order (also when no call is exported)."""
    return [
        *CALL_FIELDS,
        *(f"quality_{key}" for key in QUALITY_KEYS),
        "abuse_flagged",
        "abuse_severity",
        "abuse_event_count",
        "abuse_events",
        *(f"pii_{kind}" for kind in pii_types),
        "segments",
        "categories",
        *(f"evaluation_{key}" for key in EVALUATION_COLUMNS),
        "evaluation_answers",
    ]


def flatten(record: dict[str, Any], pii_types: Iterable[str]) -> dict[str, Any]:
    """One flat row of a nested export record."""
    nested = ("segments", "pii", "quality", "abuse", *EXTENSION_KEYS)
    row = {k: v for k, v in record.items() if k not in nested}
    for name, value in record["quality"].items():
        row[f"quality_{name}"] = value
    row["abuse_flagged"] = record["abuse"]["flagged"]
    row["abuse_severity"] = record["abuse"]["severity"]
    row["abuse_event_count"] = len(record["abuse"]["events"])
    row["abuse_events"] = json.dumps(record["abuse"]["events"], ensure_ascii=False)
    for kind in pii_types:
        row[f"pii_{kind}"] = record["pii"].get(kind, 0)
    row["segments"] = json.dumps(record["segments"], ensure_ascii=False)
    row["categories"] = json.dumps(record.get("categories", []), ensure_ascii=False)
    evaluation = record.get("evaluation") or {}
    for key in EVALUATION_COLUMNS:
        row[f"evaluation_{key}"] = evaluation.get(key)
    answers = evaluation.get("answers")
    row["evaluation_answers"] = json.dumps(answers, ensure_ascii=False) if answers else None
    return row


def with_evaluations(
    store: Store, records: Iterable[dict[str, Any]], now: datetime, batch: int = 500
) -> Iterator[dict[str, Any]]:
    """Export records with their current evaluation (``evaluation``; null if none)."""
    pending: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        found = evaluation_rows.current_evaluations(store, [r["call_id"] for r in pending], now)
        for record in pending:
            yield {**record, "evaluation": found.get(record["call_id"])}
        pending.clear()

    for record in records:
        pending.append(record)
        if len(pending) >= batch:
            yield from flush()
    yield from flush()


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def segments_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.segments.parquet")


def _write_jsonl(records: Iterator[dict[str, Any]], out: Path) -> int:
    count = 0
    with _atomic(out) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made inert with a leading quote.

    Numbers stay numbers (a negative figure is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _write_csv(records: list[dict[str, Any]], out: Path) -> int:
    pii_types = sorted({kind for record in records for kind in record["pii"]})
    rows = [
        {name: neutralise_cell(value) for name, value in flatten(record, pii_types).items()}
        for record in records
    ]
    with _atomic(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=flat_columns(pii_types))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _write_parquet(
    store: Store, records: list[dict[str, Any]], out: Path, now: datetime, flt: CallFilter
) -> int:
    import pandas as pd  # heavy: only when exporting Parquet

    from analytics.dataset import as_call_dtypes, as_segment_dtypes

    # the dtypes of analytics.load_calls()/load_segments(): the files read back alike
    pii_types = sorted({kind for record in records for kind in record["pii"]})
    calls = as_call_dtypes(
        pd.DataFrame(
            [flatten(record, pii_types) for record in records], columns=flat_columns(pii_types)
        )
    )
    segs = as_segment_dtypes(pd.DataFrame(segment_rows(store, now, flt)))
    with _atomic(out) as tmp:
        calls.to_parquet(tmp, index=False)
    with _atomic(segments_path(out)) as tmp:
        segs.to_parquet(tmp, index=False)
    return len(calls)


def export_calls(
    store: Store,
    fmt: str,
    out: Path,
    *,
    now: datetime | None = None,
    flt: CallFilter | None = None,
    actor: str = "cli",
) -> int:
    """Write every visible call to ``out``; returns the number of calls written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    now = now or utcnow()
    flt = flt or CallFilter()
    records = with_evaluations(
        store, (export_record(record) for record in iter_call_records(store, now, flt)), now
    )
    if fmt == "jsonl":
        count = _write_jsonl(records, out)
    elif fmt == "csv":
        count = _write_csv(list(records), out)
    else:
        count = _write_parquet(store, list(records), out, now, flt)
    audit.log_event(store, actor, "export", detail={"format": fmt, "calls": count}, now=now)
    log.info("exported %d calls as %s", count, fmt)
    return count
