"""Objections, retention and purge, holds, subject rights and rectification.

Library tests first, then the CLI (CliRunner on ``analytics.cli.cli``). Calls come
from ``factories`` (processed without models), from ``add_recorded_call`` (with
recording and redacted-audio files carrying a marker), or from real small WAV files
through the real ingest and the real pipeline with fake engines.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import logging
import sqlite3
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import NOW, add_call
from governance_fixtures import (
    add_recorded_call,
    files_containing,
    ingest_rows,
    read_archive,
    read_everything,
)
from pipeline_fakes import fake_engines
from sqlalchemy import text as sql

from analytics import audit, clock, governance
from analytics.cli import cli
from analytics.config import Settings, load_settings
from analytics.errors import GovernanceError, NotFoundError, UsageError
from analytics.pipeline import process
from analytics.store import Store, call_rows, get_call, iter_call_records, segment_rows
from analytics.workspace import hash_caller, opaque_call_id

CALLER = "06 12 34 56 78"
CALLER_OTHER_FORM = "+33 6 12 34 56 78"  # the same number, as another system writes it
OTHER = "07 99 88 77 66"
DAY = timedelta(days=1)
REPO = Path(__file__).resolve().parents[1]


def _visible(store: Store, now=NOW) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["call_id"] for r in iter_call_records(store, now)}


def _count(store: Store, table: str, call_id: str) -> int:
    with sqlite3.connect(store.settings.db_path) as conn:
        return conn.execute(
            f"SELECT count(*) FROM {table} WHERE call_id = ?", (call_id,)
        ).fetchone()[0]


def _derived_rows(store: Store, call_id: str) -> int:
    tables = ("segments", "pii_counts", "quality", "abuse", "abuse_events")
    return sum(_count(store, t, call_id) for t in tables)


def _call_row(store: Store, call_id: str) -> dict | None:  # type: ignore[type-arg]
    with sqlite3.connect(store.settings.db_path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    return dict(row) if row else None


def _tombstone(store: Store, call_id: str) -> dict | None:  # type: ignore[type-arg]
    """The row an erased or purged call left: under its opaque id, its old one gone."""
    assert _call_row(store, call_id) is None, f"{call_id} still names a row"
    return _call_row(store, opaque_call_id(store.key, call_id))


def _ingest_and_process(store: Store, folder: Path, rows: list[dict[str, str]], seed: int = 0):  # type: ignore[no-untyped-def]
    report = ingest_rows(store, folder, rows, NOW, seed=seed)
    process(store, engines=fake_engines(), now=NOW)
    return report


def _row(
    name: str, call_id: str, caller: str = "", age_days: int = 1, **extra: str
) -> dict[str, str]:
    return {
        "recording": name,
        "call_id": call_id,
        "started_at": (NOW - age_days * DAY).isoformat(),
        "caller_id": caller,
        **extra,
    }


# --- objections ------------------------------------------------------------------------


def test_object_by_call_deletes_everything_derived_and_the_files(
    store: Store, tmp_path: Path
) -> None:
    _ingest_and_process(store, tmp_path / "in", [_row("a.wav", "a"), _row("b.wav", "b")])
    row = _call_row(store, "a")
    assert row and row["state"] == "done" and row["redacted_audio_path"]
    recording = store.settings.home / row["audio_path"]
    redacted = store.settings.home / row["redacted_audio_path"]
    assert recording.exists() and redacted.exists() and _derived_rows(store, "a") > 0

    report = governance.object_calls(store, call_id="a", now=NOW)

    assert report.calls == ["a"] and report.recordings_kept_on_hold == []
    assert not recording.exists() and not redacted.exists()
    assert _derived_rows(store, "a") == 0
    assert _visible(store) == {"b"}
    with pytest.raises(NotFoundError):
        get_call(store, "a", NOW)
    tomb = _call_row(store, "a")
    assert tomb and tomb["state"] == "objected" and tomb["caller_hash"] is None
    assert tomb["agent_id"] is None and tomb["audio_path"] is None
    entry = audit.entries(store, action="object")[0]
    assert entry["call_id"] == "a" and json.loads(entry["detail"]) == {"by": "call", "calls": 1}


def test_object_held_call_keeps_only_the_recording_until_release(store: Store) -> None:
    add_recorded_call(store, "h", marker="MK-held", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    governance.hold(store, "h", "dispute 2026/118", now=NOW)
    recording = store.settings.home / _call_row(store, "h")["audio_path"]  # type: ignore[index]

    report = governance.object_calls(store, call_id="h", now=NOW)

    assert report.recordings_kept_on_hold == ["h"]
    assert recording.exists()
    assert _derived_rows(store, "h") == 0 and _visible(store) == set()
    assert files_containing(store.settings.db_path.parent, "MK-held") == [recording]
    # still the caller's data: access shows the kept recording, erase says it stays
    entries, blobs = _access(store, CALLER, store.settings.home.parent / "a.zip")
    assert [(e["call_id"], e["state"], e["analysis"]) for e in entries] == [("h", "objected", None)]
    assert list(blobs) == [f"recordings/{recording.name}"]
    assert governance.subject_erase(store, CALLER, now=NOW).kept_on_hold == ["h"]

    governance.release(store, "h", now=NOW)

    assert not recording.exists()
    assert files_containing(store.settings.home, "MK-held") == []
    assert _call_row(store, "h")["caller_hash"] is None  # type: ignore[index]
    assert _access(store, CALLER, store.settings.home.parent / "b.zip") == ([], {})


def test_object_by_caller_matches_any_number_format_and_gates_future_ingest(
    store: Store, tmp_path: Path
) -> None:
    add_call(store, "c1", caller_id=CALLER)
    add_call(store, "c2", caller_id="0612345678")
    add_call(store, "o1", caller_id=OTHER)

    report = governance.object_calls(store, caller_id=CALLER_OTHER_FORM, now=NOW)

    assert sorted(report.calls) == ["c1", "c2"]
    assert _visible(store) == {"o1"}
    later = ingest_rows(
        store,
        tmp_path / "in",
        [_row("n1.wav", "n1", caller="0033612345678"), _row("n2.wav", "n2", caller=OTHER)],
        NOW,
    )
    assert later.objected == ["n1"] and later.imported == ["n2"]
    assert _call_row(store, "n1")["audio_path"] is None  # type: ignore[index]
    assert len(list(store.settings.recordings_dir.rglob("*.wav"))) == 1  # n2 only
    done = process(store, engines=fake_engines(), now=NOW)
    assert done.done == ["n2"]
    assert _visible(store) == {"o1", "n2"}


def test_object_by_call_id_before_ingest_gates_that_call(store: Store, tmp_path: Path) -> None:
    report = governance.object_calls(store, call_id="future", now=NOW)
    assert report.calls == []
    found = ingest_rows(store, tmp_path / "in", [_row("f.wav", "future")], NOW)
    assert found.objected == ["future"] and found.imported == []
    assert process(store, engines=fake_engines(), now=NOW).done == []


def test_calls_of_an_objected_caller_stay_hidden_even_if_written_around_ingest(
    store: Store,
) -> None:
    governance.object_calls(store, caller_id=CALLER, now=NOW)
    add_call(store, "sneaked", caller_id=CALLER)  # bypasses the ingest gate
    assert _visible(store) == set()
    assert call_rows(store, NOW) == [] and segment_rows(store, NOW) == []


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"call_id": "a", "caller_id": CALLER}, {"caller_id": " "}, {"call_id": ""}],
)
def test_object_needs_exactly_one_target(store: Store, kwargs: dict[str, str]) -> None:
    add_call(store, "no-caller")  # a blank caller id must not match calls without one
    with pytest.raises(UsageError):
        governance.object_calls(store, now=NOW, **kwargs)  # type: ignore[arg-type]
    assert _visible(store) == {"no-caller"}
    assert governance.objections_list(store) == []


@pytest.mark.parametrize("request_fn", ["subject_access", "subject_erase"])
def test_subject_requests_need_a_caller_id(store: Store, tmp_path: Path, request_fn: str) -> None:
    add_call(store, "no-caller")
    with pytest.raises(UsageError, match="caller id is empty"):
        if request_fn == "subject_access":
            governance.subject_access(store, "", tmp_path / "a.zip", now=NOW)
        else:
            governance.subject_erase(store, "  ", now=NOW)
    assert _visible(store) == {"no-caller"}


def test_objected_call_queued_for_processing_is_never_analysed(
    store: Store, tmp_path: Path
) -> None:
    ingest_rows(store, tmp_path / "in", [_row("q.wav", "q")], NOW)
    governance.object_calls(store, call_id="q", now=NOW)
    report = process(store, engines=fake_engines(), now=NOW)
    assert report.done == [] and _derived_rows(store, "q") == 0
    assert list(store.settings.redacted_audio_dir.iterdir()) == []


# --- retention -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "shown"),
    [(timedelta(days=183), True), (timedelta(days=183, seconds=1), False), (400 * DAY, False)],
)
def test_reads_exclude_expired_calls_before_any_purge(
    store: Store, tmp_path: Path, age: timedelta, shown: bool
) -> None:
    add_call(store, "x", started_at=NOW - age, caller_id=CALLER)
    seen = read_everything(store, NOW, tmp_path, ["x"], [CALLER])
    for path, ids in seen.ids.items():
        assert ids == ({"x"} if shown else set()), path


def test_retention_days_comes_from_settings(tmp_path: Path) -> None:
    with Store.open(load_settings(tmp_path / "h", env={"CALLQA_RETENTION_DAYS": "30"})) as store:
        add_call(store, "young", started_at=NOW - 29 * DAY)
        add_call(store, "old", started_at=NOW - 31 * DAY)
        assert _visible(store) == {"young"}
        assert governance.purge(store, now=NOW).calls == 1


def test_purge_deletes_expired_unheld_calls_and_reports_counts(store: Store) -> None:
    add_recorded_call(store, "old", marker="MK-old", started_at=NOW - 200 * DAY, now=NOW)
    add_recorded_call(store, "held", marker="MK-hold", started_at=NOW - 200 * DAY, now=NOW)
    add_recorded_call(store, "young", marker="MK-young", started_at=NOW - DAY, now=NOW)
    add_recorded_call(
        store, "oldpending", marker="MK-pend", started_at=NOW - 300 * DAY, now=NOW, state="pending"
    )
    # held while it was still within retention
    governance.hold(store, "held", "case 7", now=NOW - 30 * DAY)

    report = governance.purge(store, now=NOW)

    assert (report.calls, report.recordings, report.redacted_audio) == (2, 2, 1)
    assert _visible(store) == {"held", "young"}
    for gone in ("old", "oldpending"):
        assert _tombstone(store, gone)["state"] == "expired"  # type: ignore[index]
        assert _derived_rows(store, gone) == 0
    assert files_containing(store.settings.home, "MK-old") == []
    assert files_containing(store.settings.home, "MK-pend") == []
    assert len(files_containing(store.settings.home, "MK-hold")) >= 3  # db, recording, redacted
    detail = json.loads(audit.entries(store, action="purge")[0]["detail"])
    assert detail == {
        "calls": 2,
        "recordings": 2,
        "redacted_audio": 1,
        "rejects": 0,
        "orphan_files": 0,
        "access_archives": 0,
    }
    assert governance.purge(store, now=NOW).calls == 0  # idempotent


def test_release_applies_retention_at_once(store: Store) -> None:
    add_call(store, "held", started_at=NOW - 300 * DAY, legal_hold=True)
    assert _visible(store) == {"held"}
    assert governance.purge(store, now=NOW).calls == 0
    report = governance.release(store, "held", now=NOW)
    assert report.calls == 1 and _visible(store) == set()
    assert _tombstone(store, "held")["state"] == "expired"  # type: ignore[index]
    actions = [e["action"] for e in audit.entries(store)]
    assert actions[:2] == ["purge", "release"]


def test_release_of_a_young_call_keeps_it(store: Store) -> None:
    add_call(store, "c", legal_hold=True)
    assert governance.release(store, "c", now=NOW).calls == 0
    assert _visible(store) == {"c"}
    assert _visible(store, NOW + 183 * DAY) == set()


def test_hold_added_later_keeps_a_call_past_retention(store: Store) -> None:
    add_call(store, "c", started_at=NOW - 100 * DAY)
    assert governance.hold(store, "c", "appeal", now=NOW) is True
    assert governance.hold(store, "c", "appeal again", now=NOW) is False
    later = NOW + 400 * DAY
    assert governance.purge(store, now=later).calls == 0
    assert _visible(store, later) == {"c"}
    assert [h["call_id"] for h in governance.holds_list(store)] == ["c"]


def test_ingest_legal_hold_keeps_an_old_recording(store: Store, tmp_path: Path) -> None:
    found = _ingest_and_process(
        store,
        tmp_path / "in",
        [_row("h.wav", "h", age_days=400, legal_hold="true"), _row("o.wav", "o", age_days=400)],
    )
    assert found.imported == ["h"] and "past retention" in found.rejects[0].reason
    assert governance.purge(store, now=NOW).calls == 0
    assert _visible(store) == {"h"}


@pytest.mark.parametrize(
    ("call_id", "prepare", "error", "message"),
    [
        ("nope", None, NotFoundError, "no such call"),
        ("gone", "purge", GovernanceError, "already purged"),
        ("obj", "object", GovernanceError, "nothing left to hold"),
    ],
)
def test_hold_refuses_what_cannot_be_held(
    store: Store, call_id: str, prepare: str | None, error: type[Exception], message: str
) -> None:
    add_call(store, "gone", started_at=NOW - 300 * DAY)
    add_call(store, "obj")
    governance.purge(store, now=NOW)
    governance.object_calls(store, call_id="obj", now=NOW)
    with pytest.raises(error, match=message):
        governance.hold(store, call_id, "case", now=NOW)
    assert governance.holds_list(store) == []


def test_hold_needs_a_reason_and_release_needs_a_hold(store: Store) -> None:
    add_call(store, "c")
    with pytest.raises(UsageError):
        governance.hold(store, "c", "   ", now=NOW)
    with pytest.raises(NotFoundError, match="no hold"):
        governance.release(store, "c", now=NOW)


def test_purge_sweeps_old_orphan_files_only(store: Store) -> None:
    import os

    orphan = store.settings.recordings_dir / "ab" / "orphan.wav"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x")
    old = NOW.timestamp() - 2 * governance.ORPHAN_GRACE_S
    os.utime(orphan, (old, old))
    fresh = store.settings.redacted_audio_dir / "fresh.ogg"
    fresh.write_bytes(b"y")  # an ingest or process may be about to commit its row
    assert governance.purge(store, now=NOW).orphan_files == 1
    assert not orphan.exists() and fresh.exists()


def test_purge_removes_old_access_archives_from_the_workspace(
    store: Store, settings: Settings
) -> None:
    add_recorded_call(store, "m", marker="MK-ARCH", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    folder = settings.home / governance.ACCESS_ARCHIVE_DIR
    archive = folder / "access-old.zip"
    governance.subject_access(store, CALLER, archive, now=NOW)
    governance.subject_erase(store, CALLER, now=NOW)
    entries, _ = read_archive(archive)  # fetched, not yet purged: it still holds the call
    assert "MK-ARCH" in json.dumps(entries)
    assert governance.purge(store, now=NOW).access_archives == 0
    later = NOW + (governance.ACCESS_ARCHIVE_DAYS + 1) * DAY
    report = governance.purge(store, now=later)
    assert report.access_archives == 1 and not archive.exists()
    assert "1 old access archives" in report.summary()


def test_purge_status_counts_what_awaits_purge(store: Store) -> None:
    add_call(store, "old", started_at=NOW - 200 * DAY)
    add_call(store, "young")
    found = governance.purge_status(store, now=NOW)
    assert found["expired_awaiting_purge"] == 1 and found["last_purge"] is None
    governance.purge(store, now=NOW)
    found = governance.purge_status(store, now=NOW)
    assert found["expired_awaiting_purge"] == 0 and found["last_purge"]["calls"] == 1


# --- no readable remains ---------------------------------------------------------------


def _plant(store: Store) -> None:
    add_recorded_call(
        store, "v", marker="MK-VICTIM", started_at=NOW - 200 * DAY, now=NOW, caller_id=CALLER
    )
    add_recorded_call(store, "k", marker="MK-KEEP", started_at=NOW - DAY, now=NOW, caller_id=OTHER)


@pytest.mark.parametrize("how", ["purge", "object_call", "object_caller", "erase"])
def test_no_remains_in_any_byte_of_the_workspace(store: Store, how: str) -> None:
    _plant(store)
    home = store.settings.home
    assert len(files_containing(home, "MK-VICTIM")) >= 3  # db or wal, recording, redacted

    if how == "purge":
        governance.purge(store, now=NOW)
    elif how == "object_call":
        governance.object_calls(store, call_id="v", now=NOW)
    elif how == "object_caller":
        governance.object_calls(store, caller_id=CALLER, now=NOW)
    else:
        governance.subject_erase(store, CALLER, now=NOW)

    assert files_containing(home, "MK-VICTIM") == []  # db, -wal, -shm, recordings, audio
    store.close()
    assert files_containing(home, "MK-VICTIM") == []
    assert len(files_containing(home, "MK-KEEP")) >= 3
    with Store.open(load_settings(home, env={})) as again:
        assert _visible(again) == {"k"}


# --- subject rights --------------------------------------------------------------------


def _access(store: Store, caller: str, out: Path):  # type: ignore[no-untyped-def]
    governance.subject_access(store, caller, out, now=NOW)
    return read_archive(out)


def test_subject_access_archive_holds_their_calls_and_nothing_else(store: Store) -> None:
    add_recorded_call(
        store, "mine", marker="MK-MINE", started_at=NOW - DAY, now=NOW, caller_id=CALLER
    )
    add_recorded_call(
        store, "mine-pending", marker="MK-P", started_at=NOW - DAY, now=NOW,
        caller_id=CALLER, state="pending",
    )  # fmt: skip
    add_recorded_call(
        store, "mine-held", marker="MK-H", started_at=NOW - 300 * DAY, now=NOW,
        caller_id=CALLER, legal_hold=True,
    )  # fmt: skip
    add_recorded_call(
        store, "mine-expired", marker="MK-EXP", started_at=NOW - 300 * DAY, now=NOW,
        caller_id=CALLER,
    )  # fmt: skip
    add_recorded_call(
        store, "theirs", marker="MK-THEIRS", started_at=NOW - DAY, now=NOW, caller_id=OTHER
    )
    out = store.settings.home / "requests" / "access.zip"

    count = governance.subject_access(store, CALLER_OTHER_FORM, out, now=NOW)

    assert count == 4
    entries, blobs = read_archive(out)
    by_id = {e["call_id"]: e for e in entries}
    assert sorted(by_id) == ["mine", "mine-expired", "mine-held", "mine-pending"]
    # past retention but not purged yet: still held, so still the caller's to see
    assert by_id["mine-expired"]["past_retention"] is True
    assert not by_id["mine-held"]["past_retention"] and not by_id["mine"]["past_retention"]
    assert by_id["mine-pending"]["analysis"] is None
    analysis = by_id["mine"]["analysis"]
    assert analysis["segments"][0]["text"] == "bonjour MK-MINE agent"
    assert analysis["quality"]["score"] == 80 and analysis["abuse"]["severity"] == "high"
    assert by_id["mine"]["agent_id"] == "A7" and by_id["mine"]["started_at"]
    assert len(blobs) == 4 and all(name.startswith("recordings/") for name in blobs)
    archive_bytes = out.read_bytes() + b"".join(blobs.values()) + json.dumps(entries).encode()
    assert b"MK-THEIRS" not in archive_bytes
    with zipfile.ZipFile(out) as archive:
        text = archive.read("calls.json").decode()
    assert CALLER.replace(" ", "") not in text and "caller_hash" not in text
    assert json.loads(audit.entries(store, action="subject_access")[0]["detail"]) == {"calls": 4}


def test_subject_access_for_unknown_caller_is_an_empty_archive(store: Store) -> None:
    add_call(store, "c", caller_id=OTHER)
    assert _access(store, CALLER, store.settings.home.parent / "x.zip") == ([], {})


def test_subject_erase_deletes_all_unheld_calls_and_says_what_was_kept(store: Store) -> None:
    add_recorded_call(store, "e1", marker="MK-E1", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    add_recorded_call(store, "e2", marker="MK-E2", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    add_recorded_call(
        store, "kept", marker="MK-KEPT", started_at=NOW - DAY, now=NOW, caller_id=CALLER
    )
    add_recorded_call(store, "other", marker="MK-O", started_at=NOW - DAY, now=NOW, caller_id=OTHER)
    governance.hold(store, "kept", "court case", now=NOW)

    report = governance.subject_erase(store, CALLER_OTHER_FORM, now=NOW)

    assert sorted(report.erased) == ["e1", "e2"] and report.kept_on_hold == ["kept"]
    assert _visible(store) == {"kept", "other"}
    for marker in ("MK-E1", "MK-E2"):
        assert files_containing(store.settings.home, marker) == []
    tomb = _tombstone(store, "e1")
    assert tomb is not None and tomb["state"] == "objected"
    assert tomb["started_at"] is None and tomb["caller_hash"] is None
    assert json.loads(audit.entries(store, action="subject_erase")[0]["detail"]) == {
        "erased": 2,
        "kept_on_hold": 1,
    }


def test_erased_recording_is_not_imported_again(store: Store, tmp_path: Path) -> None:
    rows = [_row("e.wav", "e", caller=CALLER)]
    _ingest_and_process(store, tmp_path / "in", rows)
    assert governance.subject_erase(store, CALLER, now=NOW).erased == ["e"]
    again = ingest_rows(store, tmp_path / "in", rows, NOW)  # the source folder still has it
    assert again.imported == [] and again.already_imported == ["e"]
    assert process(store, engines=fake_engines(), now=NOW).done == []
    assert list(store.settings.recordings_dir.rglob("*.wav")) == []


# --- rectification ---------------------------------------------------------------------


def test_rectify_changes_metadata_and_audits_field_names_only(store: Store) -> None:
    add_call(store, "c", caller_id=OTHER)
    changed = governance.rectify(
        store,
        "c",
        {"agent_id": "A9", "team": "Lyon", "language": "EN", "started_at": "2026-11-20 08:00"},
        now=NOW,
    )
    assert changed == ["agent_id", "language", "started_at", "team"]
    record = get_call(store, "c", NOW)
    assert (record["agent_id"], record["team"], record["language"]) == ("A9", "Lyon", "en")
    assert record["started_at"] == "2026-11-20T08:00:00+00:00"
    entry = audit.entries(store, action="rectify")[0]
    assert entry["call_id"] == "c"
    assert json.loads(entry["detail"]) == {"fields": changed}


def test_rectify_caller_id_is_stored_hashed_and_moves_the_call(store: Store) -> None:
    add_call(store, "c", caller_id=OTHER)
    governance.rectify(store, "c", {"caller_id": CALLER}, now=NOW)
    entries, _ = _access(store, CALLER, store.settings.home.parent / "a.zip")
    assert [e["call_id"] for e in entries] == ["c"]
    assert _access(store, OTHER, store.settings.home.parent / "b.zip") == ([], {})
    assert not files_containing(store.settings.home, "612345678")


def test_rectify_to_an_objected_caller_objects_the_call(store: Store) -> None:
    governance.object_calls(store, caller_id=CALLER, now=NOW)
    add_call(store, "c", caller_id=OTHER)
    governance.rectify(store, "c", {"caller_id": CALLER}, now=NOW)
    assert _visible(store) == set() and _derived_rows(store, "c") == 0


def test_rectify_started_at_into_the_past_hides_the_call(store: Store) -> None:
    add_call(store, "c")
    governance.rectify(store, "c", {"started_at": (NOW - 200 * DAY).isoformat()}, now=NOW)
    assert _visible(store) == set()
    with pytest.raises(NotFoundError):  # and it cannot be edited back to life
        governance.rectify(store, "c", {"started_at": NOW.isoformat()}, now=NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"audio_path": "x"}, "cannot be edited"),
        ({"started_at": "yesterday"}, "not an ISO 8601"),
        ({"channel_layout": "left"}, "channel_layout must be"),
        ({"language": "french!"}, "not a language code"),
        ({}, "nothing to change"),
    ],
)
def test_rectify_refuses_bad_input(store: Store, changes: dict[str, str], message: str) -> None:
    add_call(store, "c")
    with pytest.raises(UsageError, match=message):
        governance.rectify(store, "c", changes, now=NOW)


@pytest.mark.parametrize("call_id", ["nope", "objected", "expired"])
def test_rectify_refuses_calls_that_are_gone(store: Store, call_id: str) -> None:
    add_call(store, "objected")
    add_call(store, "expired", started_at=NOW - 300 * DAY)
    governance.object_calls(store, call_id="objected", now=NOW)
    with pytest.raises(NotFoundError):
        governance.rectify(store, call_id, {"team": "T"}, now=NOW)


# --- architecture: one read path -------------------------------------------------------

# Modules that write or govern, and may touch the tables; every other module reads
# through analytics.store (the governed query layer).
TABLE_OWNERS = {"ingest.py", "pipeline.py", "governance.py", "audit.py", "auth.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_outside_the_store_reads_the_tables() -> None:
    sources = [p for p in (REPO / "analytics").rglob("*.py") if "store" not in p.parts]
    sources += list((REPO / "dashboard").rglob("*.py")) if (REPO / "dashboard").exists() else []
    offenders = {}
    for path in sources:
        if path.name in TABLE_OWNERS and path.parent.name == "analytics":
            continue
        bad = {
            name
            for name in _imports(path)
            if name.startswith(("analytics.store.schema", "sqlite3", "sqlalchemy"))
        }
        if bad:
            offenders[str(path.relative_to(REPO))] = sorted(bad)
    assert offenders == {}


# --- CLI -------------------------------------------------------------------------------


def _cli(settings: Settings, *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(settings.home), *args], input=input)
    return result.exit_code, result.output


def test_cli_object_by_call_and_by_caller(store: Store, settings: Settings) -> None:
    add_call(store, "c1", caller_id=CALLER)
    add_call(store, "c2", caller_id=CALLER)
    add_call(store, "c3", caller_id=OTHER)
    code, out = _cli(settings, "object", "--call", "c3")
    assert code == 0 and "1 calls removed from analysis" in out
    code, out = _cli(settings, "object", "--caller-id", CALLER)
    assert code == 0 and "2 calls removed from analysis" in out
    assert _visible(store) == set()
    code, out = _cli(settings, "object")
    assert code == 2 and "exactly one of --call or --caller-id" in out


def test_cli_hold_release_purge(store: Store, settings: Settings) -> None:
    add_call(store, "old", started_at=NOW - 100 * DAY)
    add_call(store, "older", started_at=NOW - 400 * DAY)
    code, out = _cli(settings, "hold", "--call", "old", "--reason", "appeal 12/2026")
    assert (code, out.strip()) == (0, "hold on old")
    code, out = _cli(settings, "hold", "--call", "old", "--reason", "again")
    assert code == 0 and "already held" in out
    with clock.frozen(NOW + 100 * DAY):  # "old" is now past retention, kept by its hold
        code, out = _cli(settings, "purge")
        assert code == 0 and out.startswith("purged 1 calls")
        code, out = _cli(settings, "release", "--call", "old")
    assert code == 0 and "hold on old released; purged 1 calls" in out
    assert _tombstone(store, "old")["state"] == "expired"  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("hold", "--call", "ghost", "--reason", "x"), "call ghost: no such call"),
        (("hold", "--call", "c", "--reason", " "), "a hold needs a reason"),
        (("release", "--call", "c"), "call c: no hold to release"),
        (("calls", "edit", "ghost", "--team", "T"), "call ghost: no such call"),
        (("calls", "edit", "c", "--started-at", "soon"), "not an ISO 8601"),
        (("calls", "edit", "c"), "give at least one field"),
    ],
)
def test_cli_usage_errors_exit_2_with_a_clear_message(
    store: Store, settings: Settings, args: tuple[str, ...], message: str
) -> None:
    add_call(store, "c")
    code, out = _cli(settings, *args)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_cli_hold_on_a_purged_call_is_refused(store: Store, settings: Settings) -> None:
    add_call(store, "old", started_at=NOW - 300 * DAY)
    governance.purge(store, now=NOW)
    code, out = _cli(settings, "hold", "--call", "old", "--reason", "too late")
    assert code == 3 and "already purged" in out


def test_cli_subject_access_and_erase(store: Store, settings: Settings, tmp_path: Path) -> None:
    add_recorded_call(store, "m1", marker="MK-M1", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    add_recorded_call(store, "m2", marker="MK-M2", started_at=NOW - DAY, now=NOW, caller_id=CALLER)
    add_recorded_call(store, "t1", marker="MK-T1", started_at=NOW - DAY, now=NOW, caller_id=OTHER)
    governance.hold(store, "m2", "case", now=NOW)
    out_zip = tmp_path / "access.zip"

    code, out = _cli(settings, "subject", "access", "--caller-id", CALLER, "--out", str(out_zip))
    assert code == 0 and f"2 calls written to {out_zip}" in out
    entries, blobs = read_archive(out_zip)
    assert sorted(e["call_id"] for e in entries) == ["m1", "m2"]
    assert len(blobs) == 2 and all(b"MK-M" in blob for blob in blobs.values())
    assert b"MK-T1" not in out_zip.read_bytes() and all(b"MK-T1" not in b for b in blobs.values())

    code, out = _cli(settings, "subject", "access", "--caller-id", CALLER)
    assert code == 0
    default = next((settings.home / "subject-requests").glob("access-*.zip"))
    assert default.name == "access-20261125T120000.zip"

    code, out = _cli(settings, "subject", "erase", "--caller-id", CALLER)
    assert code == 0
    assert "1 calls erased" in out
    assert "1 calls kept under a litigation hold: m2" in out
    assert _visible(store) == {"m2", "t1"}


def test_cli_calls_edit(store: Store, settings: Settings) -> None:
    add_call(store, "c")
    code, out = _cli(settings, "calls", "edit", "c", "--team", "Lyon-3", "--language", "en")
    assert code == 0 and out.strip() == "c: changed language, team"
    assert get_call(store, "c", NOW)["team"] == "Lyon-3"
    code, out = _cli(settings, "calls", "edit", "c", "--channel-layout", "sideways")
    assert code == 2


def test_caller_number_never_reaches_db_audit_output_or_logs(
    store: Store, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number_forms = ("0612345678", "612345678", CALLER, CALLER_OTHER_FORM, "+33612345678")
    ingest_rows(store, tmp_path / "in", [_row("a.wav", "a", caller=CALLER)], NOW)
    process(store, engines=fake_engines(), now=NOW)
    add_call(store, "b", caller_id=CALLER)
    outputs = []
    for args in (
        ("subject", "access", "--caller-id", CALLER, "--out", str(tmp_path / "x.zip")),
        ("calls", "edit", "b", "--caller-id", CALLER_OTHER_FORM),
        ("hold", "--call", "b", "--reason", "case"),
        ("object", "--caller-id", CALLER),
        ("subject", "erase", "--caller-id", CALLER),
        ("release", "--call", "b"),
        ("purge",),
        ("audit",),
        ("-vv", "status"),
    ):
        code, out = _cli(settings, *args)
        assert code == 0, (args, out)
        outputs.append(out)
    store.close()
    haystacks = {
        "output": "\n".join(outputs),
        "logs": caplog.text,
        "audit": json.dumps(audit.entries(Store.open(load_settings(settings.home, env={})))),
    }
    for form in number_forms:
        for where, text in haystacks.items():
            assert form not in text, where
        assert files_containing(settings.home, form) == []  # db, -wal, -shm, files
        assert form.encode() not in (tmp_path / "x.zip").read_bytes()


def test_an_objected_row_under_a_legal_hold_keeps_only_the_recording(
    store: Store, tmp_path: Path
) -> None:
    """A hold keeps the recording of an objected call (evidence), and nothing else happens to it."""
    from conftest import make_audio

    from analytics.ingest import ingest

    make_audio(tmp_path / "in" / "disputed.wav", seconds=1.0, channels=2)
    csv_path = tmp_path / "in" / "meta.csv"
    csv_path.write_text(
        "recording,call_id,started_at,caller_id,objection,legal_hold\n"
        f"disputed.wav,disputed,{NOW.isoformat()},+33 6 11 22 33 44,true,true\n"
    )
    report = ingest(store, [], csv_path, now=NOW)
    assert report.objected == ["disputed"] and not report.rejects
    assert [h["call_id"] for h in governance.holds_list(store)] == ["disputed"]
    kept = list(store.settings.recordings_dir.rglob("*.wav"))
    assert len(kept) == 1
    assert process(store, engines=fake_engines(), now=NOW).done == []
    assert call_rows(store, NOW) == []
    governance.release(store, "disputed", now=NOW)
    assert not list(store.settings.recordings_dir.rglob("*.wav"))


# --- hardening (issue 11) --------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["33611223344", "+33 (0)6 11 22 33 44", "06 11 22 33 44", "0033611223344"]
)
def test_an_objection_in_any_spelling_removes_the_callers_calls(
    store: Store, spelling: str
) -> None:
    add_call(store, "c1", caller_id="+33 6 11 22 33 44")
    add_call(store, "c2", caller_id="0611223344")
    report = governance.object_calls(store, caller_id=spelling, now=NOW)
    assert sorted(report.calls) == ["c1", "c2"] and _visible(store) == set()


def test_a_caller_id_that_is_no_number_is_refused(store: Store, tmp_path: Path) -> None:
    add_call(store, "c", caller_id=CALLER)
    for request in (
        lambda: governance.object_calls(store, caller_id="unknown", now=NOW),
        lambda: governance.subject_access(store, "12", tmp_path / "a.zip", now=NOW),
        lambda: governance.subject_erase(store, "n/a", now=NOW),
        lambda: governance.rectify(store, "c", {"caller_id": "abc"}, now=NOW),
    ):
        with pytest.raises(UsageError, match="caller_id is not a"):
            request()
    assert governance.objections_list(store) == [] and _visible(store) == {"c"}


def test_cli_objection_matching_no_stored_call_says_so(store: Store, settings: Settings) -> None:
    add_call(store, "c", caller_id=OTHER)
    code, out = _cli(settings, "object", "--caller-id", "33611223344")
    assert code == 0
    assert "0 calls removed" in out
    assert "no stored call from this caller; their future calls will be refused" in out
    code, out = _cli(settings, "object", "--caller-id", OTHER)
    assert code == 0 and "no stored call" not in out


def test_hashes_written_before_e164_are_marked_and_still_found(tmp_path: Path) -> None:
    """A workspace of schema version 2 hashed the digits form (French numbers as 06…):
    the migration marks those hashes v1, and every request by number still finds them."""
    settings = load_settings(tmp_path / "h", env={})
    with Store.open(settings) as store:
        add_call(store, "old1", caller_id=CALLER)
        add_call(store, "old2", caller_id=CALLER)
        add_call(store, "other", caller_id=OTHER)
        add_call(store, "gated")
        legacy = {
            cid: hmac.new(store.key, canonical.encode(), hashlib.sha256).hexdigest()
            for cid, canonical in (("old1", "0612345678"), ("old2", "0612345678"),
                                   ("other", "0799887766"))
        }  # fmt: skip
        with store.write() as conn:
            for cid, digest in legacy.items():
                conn.execute(
                    sql("UPDATE calls SET caller_hash = :h WHERE call_id = :c"),
                    {"h": digest, "c": cid},
                )
            conn.execute(
                sql(
                    "INSERT INTO objections (call_id, caller_hash, filed_at) VALUES (NULL, :h, :t)"
                ),
                {"h": legacy["other"], "t": NOW.isoformat()},
            )
            conn.execute(sql("PRAGMA user_version = 2"))
    with Store.open(settings) as store:  # migrates to version 3
        with store.read() as conn:
            hashes = dict(conn.execute(sql("SELECT call_id, caller_hash FROM calls")).all())
        assert hashes["old1"] == "v1:" + legacy["old1"]
        assert _visible(store) == {"old1", "old2", "gated"}  # "other": old objection holds
        # access in a spelling the old code hashed differently still finds them
        entries, _ = _access(store, "33612345678", tmp_path / "a.zip")
        assert sorted(e["call_id"] for e in entries) == ["old1", "old2"]
        assert _call_row(store, "old1")["caller_hash"] == hash_caller(store.key, CALLER)  # type: ignore[index]
        report = governance.object_calls(store, caller_id="+33 (0)6 12 34 56 78", now=NOW)
        assert sorted(report.calls) == ["old1", "old2"]
        # the old objection (by hash) still refuses the caller's new calls at ingest
        later = ingest_rows(
            store, tmp_path / "in", [_row("n.wav", "n", caller="+33799887766")], NOW
        )
        assert later.objected == ["n"]


def test_calls_edit_refuses_a_start_in_the_future_and_bad_call_ids(
    store: Store, settings: Settings
) -> None:
    add_call(store, "c")
    with pytest.raises(UsageError, match="is in the future"):
        governance.rectify(store, "c", {"started_at": "2099-01-01T00:00:00Z"}, now=NOW)
    governance.rectify(store, "c", {"started_at": (NOW + 12 * 3600 * DAY / 86400).isoformat()})
    code, out = _cli(settings, "calls", "edit", "c", "--started-at", "2099-01-01")
    assert code == 2 and "2099-01-01T00:00:00+00:00 is in the future" in out
    code, out = _cli(settings, "calls", "edit", "c\x1b[2J\nfake", "--team", "T")
    assert code == 2 and "is not a valid call id" in out and "\x1b" not in out
    with pytest.raises(UsageError, match="not a valid call id"):
        governance.object_calls(store, call_id="![x](http://evil.example)", now=NOW)
    assert governance.objections_list(store) == []


def test_a_hold_cannot_bring_back_a_call_past_retention(store: Store, settings: Settings) -> None:
    add_call(store, "past", started_at=NOW - 184 * DAY)
    add_call(store, "young", started_at=NOW - 182 * DAY)
    with pytest.raises(GovernanceError, match="past retention"):
        governance.hold(store, "past", "too late", now=NOW)
    code, out = _cli(settings, "hold", "--call", "past", "--reason", "too late")
    assert code == 3 and "cannot be put on hold" in out
    assert governance.holds_list(store) == [] and _visible(store) == {"young"}
    # one rule with rectification: neither brings it back
    with pytest.raises(NotFoundError):
        governance.rectify(store, "past", {"team": "T"}, now=NOW)
    # a hold placed in time keeps it past retention
    assert governance.hold(store, "young", "appeal", now=NOW) is True
    assert _visible(store, NOW + 30 * DAY) == {"young"}


def test_erase_and_purge_leave_no_trace_of_the_old_call_id(store: Store) -> None:
    erased, purged = "0612345678_20261120", "0698765432_20260101"
    add_call(store, erased, caller_id=CALLER)
    add_call(store, purged, started_at=NOW - 300 * DAY)
    add_call(store, "young")
    objected = "0611111111_20260101"  # objected, then past retention: purge retires it
    add_call(store, objected, started_at=NOW - 250 * DAY)
    governance.object_calls(store, call_id=objected, now=NOW)
    governance.subject_erase(store, CALLER, now=NOW)
    assert governance.purge(store, now=NOW).calls == 1
    with sqlite3.connect(store.settings.db_path) as conn:
        for table in ("calls", "objections", "holds", "audit"):
            ids = {row[0] for row in conn.execute(f"SELECT call_id FROM {table}")}
            assert not ids & {erased, purged, objected}, table
        kept = {row[0] for row in conn.execute("SELECT call_id FROM calls")}
    assert kept == {"young", *(opaque_call_id(store.key, c) for c in (erased, purged, objected))}
    assert _tombstone(store, purged)["state"] == "expired"  # type: ignore[index]
    # the tombstones still stop the recordings coming back, and name them to the DPO
    with pytest.raises(GovernanceError, match="already purged"):
        governance.hold(store, purged, "late", now=NOW)
    assert governance.object_calls(store, call_id=erased, now=NOW).calls == [erased]
    with sqlite3.connect(store.settings.db_path) as conn:
        objected = [row[0] for row in conn.execute("SELECT call_id FROM objections")]
    assert erased not in objected and audit.verify(store) == []


def test_erased_file_named_call_is_recognised_when_its_folder_is_ingested_again(
    store: Store, tmp_path: Path
) -> None:
    rows = [_row("0612345678.wav", "", caller=CALLER)]
    rows[0].pop("call_id")
    _ingest_and_process(store, tmp_path / "in", rows)
    assert governance.subject_erase(store, CALLER, now=NOW).erased == ["0612345678"]
    again = ingest_rows(store, tmp_path / "in", rows, NOW)
    assert again.already_imported == ["0612345678"] and again.imported == []
    assert _call_row(store, "0612345678") is None


def test_subject_access_includes_a_call_past_retention_still_on_disk(
    store: Store, tmp_path: Path
) -> None:
    add_recorded_call(
        store, "late", marker="MK-LATE", started_at=NOW - 190 * DAY, now=NOW, caller_id=CALLER
    )
    assert _visible(store) == set()  # hidden from every governed read
    entries, blobs = _access(store, CALLER, tmp_path / "a.zip")
    assert [(e["call_id"], e["past_retention"]) for e in entries] == [("late", True)]
    assert entries[0]["analysis"]["segments"][0]["text"] == "bonjour MK-LATE agent"
    assert len(blobs) == 1
    governance.purge(store, now=NOW)
    assert _access(store, CALLER, tmp_path / "b.zip") == ([], {})


def test_cli_reads_caller_ids_from_standard_input(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    add_call(store, "c1", caller_id=CALLER)
    add_call(store, "c2", caller_id=OTHER)
    out_zip = tmp_path / "a.zip"
    code, out = _cli(
        settings, "subject", "access", "--caller-id", "-", "--out", str(out_zip), input=CALLER
    )
    assert code == 0 and "1 calls written" in out
    code, out = _cli(settings, "subject", "erase", "--caller-id-stdin", input=CALLER + "\n")
    assert code == 0 and "1 calls erased" in out
    code, out = _cli(settings, "object", "--caller-id", "-", input=OTHER + "\n")
    assert code == 0 and "1 calls removed" in out
    code, out = _cli(settings, "object", "--caller-id", "-", input="")
    assert code == 2 and "no caller id on standard input" in out
    code, out = _cli(settings, "subject", "erase")
    assert code == 2
