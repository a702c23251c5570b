"""The workspace database: pragmas, migrations, no raw text, pseudonymised callers,
secure deletion, and the governed query layer."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import frozen_run
import pytest
from click.testing import CliRunner
from conftest import make_audio
from factories import NOW, add_call, make_analysis
from sqlalchemy import inspect, select, text

from analytics import audit
from analytics.cli import cli
from analytics.config import Settings, load_settings
from analytics.errors import NotFoundError, UnredactedTextError, UsageError
from analytics.governance import hold, object_calls, purge
from analytics.ingest import ingest
from analytics.models import CallAnalysis, RawSegment, RawTranscript, Reject
from analytics.store import CallFilter, Store, call_rows, get_call, iter_call_records, status
from analytics.store.core import BUSY_TIMEOUT_MS
from analytics.store.schema import LATEST_VERSION, MIGRATIONS, calls, migrate, schema_version
from analytics.store.writes import delete_derived, record_reject
from analytics.workspace import hash_caller, load_key, normalise_caller_id


def pragma(store: Store, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def db_bytes(settings: Settings) -> bytes:
    files = [settings.db_path, Path(f"{settings.db_path}-wal"), Path(f"{settings.db_path}-shm")]
    return b"".join(p.read_bytes() for p in files if p.exists())


# --- the database -------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_pragmas(store: Store) -> None:
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "busy_timeout") == 30_000
    assert pragma(store, "secure_delete") == 1
    assert pragma(store, "foreign_keys") == 1


def test_migrations_are_versioned_and_idempotent(store: Store, settings: Settings) -> None:
    assert [v for v, _, _ in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    with store.read() as conn:
        assert schema_version(conn) == LATEST_VERSION
    with store.write() as conn:
        assert migrate(conn) == []  # nothing left to apply
    store.close()
    with Store.open(settings) as again, again.read() as conn:
        assert schema_version(conn) == LATEST_VERSION


def test_states_and_metadata_columns(store: Store) -> None:
    columns = {c["name"] for c in inspect(store.engine).get_columns("calls")}
    for name in (
        "call_id",
        "state",
        "started_at",
        "agent_id",
        "team",
        "caller_hash",
        "channel_layout",
        "language",
        "duration_s",
        "channels",
        "sample_rate",
        "audio_sha256",
        "audio_path",
    ):
        assert name in columns
    assert "caller_id" not in columns  # only the keyed hash is kept
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "segments",
        "pii_counts",
        "quality",
        "abuse",
        "abuse_events",
        "objections",
        "holds",
        "audit",
        "rejects",
    } <= tables


def test_no_column_for_raw_text(store: Store) -> None:
    insp = inspect(store.engine)
    textual = {
        (table, col["name"])
        for table in insp.get_table_names()
        for col in insp.get_columns(table)
        if any(w in col["name"].lower() for w in ("text", "transcript", "raw", "words"))
    }
    # the only text columns hold redacted text (the write path accepts nothing else)
    assert textual == {("segments", "text"), ("abuse_events", "text")}


def test_store_refuses_a_raw_transcript(store: Store) -> None:
    add_call(store, "c1", state="pending")
    raw = RawTranscript(
        call_id="c1",
        language="fr",
        language_probability=1.0,
        duration_s=3.0,
        segments=(RawSegment("agent", 0.0, 1.0, "Jean Dupont 06 12 34 56 78"),),
    )
    good = make_analysis("c1")
    analysis = CallAnalysis(transcript=raw, quality=good.quality, abuse=good.abuse)  # type: ignore[arg-type]
    from analytics.store.writes import save_analysis

    with pytest.raises(UnredactedTextError, match="c1"), store.write() as conn:
        save_analysis(conn, "c1", analysis, now=NOW, redacted_audio_path=None)
    assert b"Dupont" not in db_bytes(store.settings)
    with store.read() as conn:
        assert conn.execute(select(calls.c.state)).scalar_one() == "pending"


def test_concurrent_writers_wait_instead_of_failing(settings: Settings) -> None:
    stores = [Store.open(settings) for _ in range(3)]
    errors: list[BaseException] = []

    def write(store: Store, start: int) -> None:
        try:
            for i in range(start, start + 15):
                add_call(store, f"t{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s, 100 * n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0].read() as conn:
        assert conn.execute(text("SELECT count(*) FROM calls")).scalar_one() == 45
    for s in stores:
        s.close()


@pytest.mark.sqlite_only
def test_secure_delete_leaves_no_readable_remains(store: Store) -> None:
    marker = "zanzibar-quokka-marker"
    add_call(store, "c1", texts=(("agent", f"bonjour {marker}"),))
    store.checkpoint()
    assert marker.encode() in db_bytes(store.settings)
    with store.write() as conn:
        delete_derived(conn, "c1")
    store.checkpoint()
    assert marker.encode() not in db_bytes(store.settings)


# --- deletion while another process reads ----------------------------------------------

SECRET = "zanzibar-okapi-marker"


@contextmanager
def open_reader(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding a read transaction (a notebook, a shell)."""
    reader = sqlite3.connect(settings.db_path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM segments").fetchone()[0] > 0
    try:
        yield reader
    finally:
        reader.execute("ROLLBACK")
        reader.close()


def _stored_secret(store: Store) -> Store:
    add_call(store, "c1", texts=(("agent", f"bonjour {SECRET}"),))
    add_call(store, "c2")
    assert store.checkpoint().complete
    assert SECRET.encode() in db_bytes(store.settings)
    return store


@pytest.mark.sqlite_only
def test_an_objection_under_an_open_reader_says_what_is_left_and_never_waits(
    store: Store, settings: Settings
) -> None:
    _stored_secret(store)
    with open_reader(settings):
        started = time.monotonic()
        object_calls(store, call_id="c1", now=NOW)
        took = time.monotonic() - started
        scrub = store.last_scrub
        assert scrub is not None and not scrub.complete and scrub.frames_left > 0
        assert f"{scrub.frames_left} pages of old data still in the write-ahead log" in (
            scrub.summary()
        )
        # the truth: the reader keeps the old page, so the text is still in the file
        assert SECRET.encode() in db_bytes(settings)
        assert store.scrub_pending()
        # no blocking checkpoint: the objection returned well before the busy timeout,
        # and another writer gets the lock at once
        assert took < BUSY_TIMEOUT_MS / 1000 / 5
        with Store.open(settings) as other:
            started = time.monotonic()
            audit.log_event(other, "alice", "view_call", "c2", now=NOW)
            assert time.monotonic() - started < BUSY_TIMEOUT_MS / 1000 / 5
    # the reader is gone: the next command finishes the job
    with Store.open(settings) as again:
        done = again.finish_pending_scrub()
        assert done is not None and done.complete
    assert not store.scrub_pending()
    assert SECRET.encode() not in db_bytes(settings)
    assert Path(f"{settings.db_path}-wal").stat().st_size == 0


@pytest.mark.sqlite_only
def test_the_cli_tells_the_truth_and_the_next_command_scrubs(
    store: Store, settings: Settings
) -> None:
    _stored_secret(store)
    home = str(settings.home)
    with open_reader(settings):
        result = CliRunner().invoke(cli, ["--home", home, "object", "--call", "c1"])
        assert result.exit_code == 0, result.output
        assert "1 calls removed" in result.output
        assert "still in the write-ahead log because a reader is open" in result.output
        assert SECRET.encode() in db_bytes(settings)
    result = CliRunner().invoke(cli, ["--home", home, "status"])
    assert result.exit_code == 0, result.output
    assert "write-ahead log" not in result.output
    assert not store.scrub_pending()
    assert SECRET.encode() not in db_bytes(settings)


@pytest.mark.sqlite_only
def test_a_purge_finishes_a_pending_scrub(store: Store, settings: Settings) -> None:
    _stored_secret(store)
    with open_reader(settings):
        object_calls(store, call_id="c1", now=NOW)
        assert store.scrub_pending()
    purge(store, now=NOW)
    assert not store.scrub_pending()
    assert SECRET.encode() not in db_bytes(settings)


@pytest.mark.sqlite_only
def test_a_slow_consumer_of_records_holds_no_read_open(store: Store, settings: Settings) -> None:
    """A notebook iterating over calls must not keep a deletion's pages alive."""
    _stored_secret(store)
    for n in range(5):
        add_call(store, f"more-{n}")
    records = iter_call_records(store, NOW, batch_size=2)
    first = next(records)  # the consumer is mid-way through the calls
    object_calls(store, call_id="c1", now=NOW)
    assert store.last_scrub is not None and store.last_scrub.complete
    assert SECRET.encode() not in db_bytes(settings)
    object_calls(store, call_id="more-4", now=NOW)
    rest = [first["call_id"], *(r["call_id"] for r in records)]
    assert rest == ["c1", "c2", "more-0", "more-1", "more-2", "more-3"]  # objected meanwhile: out


# --- permissions -------------------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a user (022: new files readable by everyone)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_to_others(root: Path) -> list[str]:
    return [
        f"{path} {_mode(path):04o}"
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and _mode(path) & 0o077
    ]


@pytest.mark.usefixtures("usual_umask")
@pytest.mark.sqlite_only
def test_the_database_and_its_log_are_private_from_the_start(settings: Settings) -> None:
    with Store.open(settings) as store:
        add_call(store, "c1")
        audit.log_event(store, "cli", "export", now=NOW)
        wal = Path(f"{settings.db_path}-wal")
        shm = Path(f"{settings.db_path}-shm")
        assert wal.exists() and shm.exists()
        for path in (settings.db_path, wal, shm, settings.key_path, settings.home / "audit.key"):
            assert _mode(path) == 0o600, path
        for folder in (settings.home, settings.recordings_dir, settings.redacted_audio_dir):
            assert _mode(folder) == 0o700, folder
    assert _open_to_others(settings.home) == []


@pytest.mark.usefixtures("usual_umask")
@pytest.mark.sqlite_only
def test_an_old_workspace_is_made_private_when_opened(settings: Settings) -> None:
    with Store.open(settings) as store:
        add_call(store, "c1")
    os.chmod(settings.home, 0o755)
    os.chmod(settings.db_path, 0o644)
    with Store.open(settings):
        assert _mode(settings.home) == 0o700
        assert _mode(settings.db_path) == 0o600


@pytest.mark.usefixtures("usual_umask")
def test_every_file_the_commands_write_is_private(tmp_path: Path, settings: Settings) -> None:
    """Real commands in a real process started under umask 022."""
    make_audio(tmp_path / "in" / "a.wav")
    (tmp_path / "in" / "m.csv").write_text("recording,caller_id\na.wav,0611223344\n")
    home = str(settings.home)
    out = tmp_path / "out"
    for args in (
        ["ingest", "--metadata", str(tmp_path / "in" / "m.csv")],
        ["subject", "access", "--caller-id", "0611223344"],
        ["export", "--format", "csv", "--out", str(out / "calls.csv")],
        ["audit", "checkpoint", "--out", str(out / "checkpoint.json")],
        ["status"],
    ):
        command = frozen_run.command(
            NOW, [sys.executable, "-m", "analytics", "--home", home, *args]
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (args, done.stderr)
        assert "open to other users" not in done.stderr
    archives = list((settings.home / "subject-requests").glob("*.zip"))
    assert len(archives) == 1
    assert list(settings.recordings_dir.rglob("*.wav"))
    assert _open_to_others(settings.home) == []
    assert _mode(out / "calls.csv") == 0o600
    assert _mode(out / "checkpoint.json") == 0o600


def test_status_warns_about_what_others_can_read(store: Store, settings: Settings) -> None:
    add_call(store, "c1")
    leak = settings.home / "subject-requests" / "access-x.zip"
    leak.parent.mkdir(mode=0o700)
    leak.write_bytes(b"PK")
    os.chmod(leak, 0o644)
    extra = settings.home / "exports"  # a folder someone made by hand
    extra.mkdir(mode=0o755)
    os.chmod(extra, 0o755)
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(settings.home), "status"])
    assert result.exit_code == 0, result.output
    assert f"warning: {leak} is open to other users (mode 0644)" in result.output
    assert f"warning: {extra} is open to other users (mode 0755)" in result.output
    found = json.loads(
        runner.invoke(cli, ["--home", str(settings.home), "status", "--json"]).stdout
    )
    assert {w["path"] for w in found["permission_warnings"]} >= {str(leak)}
    os.chmod(leak, 0o600)
    os.chmod(extra, 0o700)
    result = runner.invoke(cli, ["--home", str(settings.home), "status"])
    assert "warning" not in result.output


# --- key and caller ids ---------------------------------------------------------------


def test_key_file_is_private_and_stable(store: Store, settings: Settings) -> None:
    mode = stat.S_IMODE(settings.key_path.stat().st_mode)
    assert mode == 0o600
    assert len(store.key) == 32
    assert load_key(settings) == store.key  # created once, then read


def test_a_damaged_key_is_refused(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.key_path.write_text("not a key")
    with pytest.raises(UsageError, match=r"secret\.key"):
        load_key(settings)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("+33 6 12 34 56 78", "06 12 34 56 78"),
        ("0033612345678", "06.12.34.56.78"),
        ("+44 20 7946 0958", "442079460958"),
    ],
)
def test_caller_ids_hash_alike_whatever_their_spelling(a: str, b: str) -> None:
    key = bytes(32)
    assert normalise_caller_id(a) == normalise_caller_id(b)
    assert hash_caller(key, a) == hash_caller(key, b)
    assert hash_caller(key, a) != hash_caller(bytes([1]) * 32, a)  # keyed
    assert len(hash_caller(key, a)) == 64


def test_no_raw_caller_id_in_the_database_bytes(tmp_path: Path, store: Store) -> None:
    make_audio(tmp_path / "a.wav")
    make_audio(tmp_path / "b.wav", seed=1)
    (tmp_path / "m.csv").write_text(
        "recording,caller_id,objection\na.wav,+33 6 98 76 54 32,false\nb.wav,0698765431,true\n"
    )
    ingest(store, [], tmp_path / "m.csv", now=NOW)
    object_calls(store, caller_id="06 98 76 54 30", now=NOW)
    store.checkpoint()
    raw = db_bytes(store.settings)
    for needle in ("98765432", "98 76 54 32", "0698765431", "698765430", "98765430"):
        assert needle.encode() not in raw
    with store.read() as conn:
        hashes = conn.execute(select(calls.c.caller_hash).where(calls.c.call_id == "a")).scalar()
    assert hashes == hash_caller(store.key, "0698765432")


# --- the governed query layer -----------------------------------------------------------


@pytest.fixture
def governed(store: Store) -> Store:
    add_call(store, "fresh")
    add_call(store, "flagged", abuse_severity="high", team="Niort-2")
    add_call(store, "pending", state="pending")
    add_call(store, "failed", state="failed")
    add_call(store, "old", started_at=NOW - timedelta(days=200))
    add_call(store, "old_held", started_at=NOW - timedelta(days=200))
    # held while it was still within retention (a hold cannot revive an expired call)
    hold(store, "old_held", "case 7", now=NOW - timedelta(days=30))
    add_call(store, "objected_call")
    object_calls(store, call_id="objected_call", now=NOW)
    add_call(store, "objected_caller", caller_id="0611111111")
    object_calls(store, caller_id="+33611111111", now=NOW)
    return store


def test_only_visible_calls_are_read(governed: Store) -> None:
    ids = {r["call_id"] for r in iter_call_records(governed, NOW)}
    assert ids == {"fresh", "flagged", "old_held"}
    assert {r["call_id"] for r in call_rows(governed, NOW)} == ids


def test_retention_applies_before_purge_has_run(governed: Store) -> None:
    later = NOW + timedelta(days=183)
    assert {r["call_id"] for r in iter_call_records(governed, later)} == {"old_held"}


def test_filters_narrow(governed: Store) -> None:
    flagged = call_rows(governed, NOW, CallFilter(flagged=True))
    assert [r["call_id"] for r in flagged] == ["flagged"]
    assert [r["call_id"] for r in call_rows(governed, NOW, CallFilter(team="Niort-2"))] == [
        "flagged"
    ]
    # asking for a hidden call by id does not reveal it
    assert call_rows(governed, NOW, CallFilter(call_ids=["old", "objected_call"])) == []


def test_get_call(governed: Store) -> None:
    assert get_call(governed, "fresh", NOW)["call_id"] == "fresh"
    for hidden in ("old", "objected_call", "pending", "nope"):
        with pytest.raises(NotFoundError):
            get_call(governed, hidden, NOW)


def test_status_counts_states_and_lists_rejects(governed: Store) -> None:
    with governed.write() as conn:
        record_reject(conn, Reject("in/x.wav", "empty file"), NOW)
        record_reject(conn, Reject("m.csv", "bad date", row=4), NOW)
        record_reject(conn, Reject("m.csv", "bad date", row=4), NOW)  # seen again: once
    found = status(governed, NOW)
    assert found["counts"] == {
        "done": 3,  # fresh, flagged, old_held
        "expired": 1,  # old: past retention, not purged yet
        "pending": 1,
        "failed": 1,
        "objected": 2,
    }
    assert found["holds"] == 1
    assert found["rejects"] == [
        {"source": "in/x.wav", "row": None, "reason": "empty file"},
        {"source": "m.csv", "row": 4, "reason": "bad date"},
    ]


def test_settings_fixture_is_isolated(settings: Settings, tmp_path: Path) -> None:
    assert settings.home == tmp_path / "home"
    # the developer's CALLQA_* never leak in; only the backend pass sets its database
    expected = load_settings(tmp_path / "home", env={})
    assert settings == replace(expected, database_url=settings.database_url)
