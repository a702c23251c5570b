"""The product's promises on both backends: the SQLite file and a real PostgreSQL server.

The same flows — ingest, process, the governed reads and the aggregates, objections,
holds, purge, subject requests, the audit chain — run on each; PostgreSQL is a real
server started for the session (tests/postgres_server.py), listening on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import postgres_server
import pytest
from alembic.runtime.migration import MigrationContext
from factories import NOW
from governance_fixtures import ingest_rows, read_archive, write_wav
from pipeline_fakes import fake_engines
from sqlalchemy import inspect, select, text, update

from analytics import audit, governance
from analytics.config import Settings
from analytics.export import export_calls
from analytics.pipeline import process
from analytics.store import Store, call_rows, get_call, queue, segment_rows
from analytics.store import aggregates as agg
from analytics.store.queue import pending_rows
from analytics.store.schema import LATEST_VERSION, calls, runs, schema_version
from analytics.store.writes import call_row
from analytics.workspace import opaque_call_id

CALLER = "+33 6 12 34 56 78"
OTHER = "+33 6 98 76 54 32"
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    settings = Settings(home=tmp_path / "home", database_url=url)
    with Store.open(settings) as store:
        assert store.backend == request.param
        yield store


def _rows(caller: str = CALLER) -> list[dict[str, str]]:
    return [
        {"recording": "a.wav", "call_id": "a", "caller_id": caller, "team": "Lyon-2",
         "agent_id": "A1", "started_at": (NOW - 2 * DAY).isoformat()},
        {"recording": "b.wav", "call_id": "b", "caller_id": OTHER, "team": "Lyon-2",
         "agent_id": "A2", "started_at": (NOW - 9 * DAY).isoformat()},
        {"recording": "old.wav", "call_id": "old", "caller_id": OTHER, "team": "Niort-1",
         "agent_id": "A2", "started_at": (NOW - 150 * DAY).isoformat(), "legal_hold": "true"},
    ]  # fmt: skip


def _processed(store: Store, tmp_path: Path) -> None:
    report = ingest_rows(store, tmp_path / "in", _rows(), NOW)
    assert sorted(report.imported) == ["a", "b", "old"], report
    done = process(store, engines=fake_engines(), now=NOW)
    assert sorted(done.done) == ["a", "b", "old"], done.failed


def _visible(store: Store, now=NOW) -> set[str]:  # type: ignore[no-untyped-def]
    return {row["call_id"] for row in call_rows(store, now)}


def test_ingest_process_read_and_aggregate(backend_store: Store, tmp_path: Path) -> None:
    _processed(backend_store, tmp_path)
    assert _visible(backend_store) == {"a", "b", "old"}
    assert {r["call_id"] for r in segment_rows(backend_store, NOW)} == {"a", "b", "old"}
    record = get_call(backend_store, "a", NOW)
    assert "<PERSON>" in " ".join(s["text"] for s in record["segments"])
    assert agg.kpis(backend_store, NOW)["calls"] == 3
    weeks = agg.weekly_trends(backend_store, NOW)
    assert sum(w["calls"] for w in weeks) == 3
    # weeks start on Monday (UTC), the same on both backends
    monday = (NOW - 2 * DAY) - timedelta(days=(NOW - 2 * DAY).weekday())
    assert monday.date().isoformat() in {w["week"] for w in weeks}
    teams = {r["team"]: r["calls"] for r in agg.league_table(backend_store, NOW, by="team")}
    assert teams == {"Lyon-2": 2, "Niort-1": 1}
    out = tmp_path / "calls.jsonl"
    assert export_calls(backend_store, "jsonl", out, now=NOW) == 3
    assert {json.loads(line)["call_id"] for line in out.read_text().splitlines()} == {
        "a", "b", "old",
    }  # fmt: skip


def test_an_objection_removes_the_callers_calls_at_once(
    backend_store: Store, tmp_path: Path
) -> None:
    _processed(backend_store, tmp_path)
    report = governance.object_calls(backend_store, caller_id="0612345678", now=NOW)
    assert report.calls == ["a"]
    assert _visible(backend_store) == {"b", "old"}
    assert {r["call_id"] for r in segment_rows(backend_store, NOW)} == {"b", "old"}
    assert agg.kpis(backend_store, NOW)["calls"] == 2
    # a new recording from the same caller is refused at ingest
    again = ingest_rows(
        backend_store,
        tmp_path / "in2",
        [{"recording": "c.wav", "call_id": "c", "caller_id": "33612345678"}],
        NOW,
        seed=7,
    )
    assert again.objected == ["c"] and again.imported == []
    assert audit.verify(backend_store) == []


def test_retention_holds_and_purge(backend_store: Store, tmp_path: Path) -> None:
    _processed(backend_store, tmp_path)
    later = NOW + 40 * DAY  # "old" (150 days) is past retention, kept by its hold
    assert _visible(backend_store, later) == {"a", "b", "old"}
    governance.release(backend_store, "old", now=later)
    assert _visible(backend_store, later) == {"a", "b"}
    gone = opaque_call_id(backend_store.key, "old")
    assert {h["call_id"] for h in governance.holds_list(backend_store)} == set()
    with backend_store.read() as conn:
        assert call_row(conn, "old") is None
        assert (call_row(conn, gone) or {}).get("state") == "expired"
    status = governance.purge_status(backend_store, later)
    assert status["expired_awaiting_purge"] == 0
    assert audit.verify(backend_store) == []


def test_subject_access_and_erasure(backend_store: Store, tmp_path: Path) -> None:
    _processed(backend_store, tmp_path)
    archive = tmp_path / "access.zip"
    assert governance.subject_access(backend_store, OTHER, archive, now=NOW) == 2
    entries, blobs = read_archive(archive)
    assert sorted(e["call_id"] for e in entries) == ["b", "old"] and len(blobs) == 2
    erased = governance.subject_erase(backend_store, OTHER, now=NOW)
    assert erased.erased == ["b"] and erased.kept_on_hold == ["old"]
    assert _visible(backend_store) == {"a", "old"}
    assert audit.verify(backend_store) == []


def test_writers_at_once_never_fork_the_audit_chain(backend_store: Store) -> None:
    def write(actor: str) -> None:
        for _ in range(15):
            audit.log_event(backend_store, actor, "purge", None, {"calls": 0})

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = audit.entries(backend_store)
    assert sorted(r["id"] for r in rows) == list(range(1, 61))
    assert audit.verify(backend_store) == []


def test_the_same_folder_ingested_twice_at_once_imports_each_recording_once(
    backend_store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    for offset, row in enumerate(_rows()):
        write_wav(folder / row["recording"], seed=offset)
    reports = []

    def run(seed: int) -> None:  # each its own CSV; the recordings are the same files
        reports.append(ingest_rows(backend_store, folder, _rows(), NOW, seed=seed))

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    imported = sorted(cid for r in reports for cid in r.imported)
    seen = sorted(cid for r in reports for cid in (*r.imported, *r.already_imported))
    assert imported == ["a", "b", "old"], reports
    assert seen == ["a", "a", "b", "b", "old", "old"], reports
    assert sorted(r["call_id"] for r in pending_rows(backend_store, NOW)) == ["a", "b", "old"]


def test_a_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    from analytics.errors import StoreError

    with pytest.raises(StoreError, match="only postgresql"):
        Store.open(Settings(home=tmp_path / "h", database_url="mysql://x@127.0.0.1/db"))


def test_a_password_in_the_url_never_shows_in_the_error(tmp_path: Path) -> None:
    from analytics.errors import StoreError

    url = "postgresql://callqa:s3cret-pw@127.0.0.1:1/nowhere"  # nothing listens on port 1
    with pytest.raises(StoreError) as caught:
        Store.open(Settings(home=tmp_path / "h", database_url=url))
    assert "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(Settings(database_url=url))


_WORKER = """
import json, sys
from datetime import datetime
sys.path.insert(0, {tests!r})
from pipeline_fakes import fake_engines
from analytics import clock
from analytics.config import Settings
from analytics.pipeline import process
from analytics.store import Store
moment = datetime.fromisoformat({now!r})
clock.use(lambda: moment)
store = Store.open(Settings(home=__import__("pathlib").Path({home!r}), database_url={url!r}))
engines = fake_engines(delay_s=0.15)
report = process(store, engines=engines, workers=2)
print(json.dumps({{"done": report.done, "heard": engines.transcriber.heard}}))
"""


def test_two_process_runs_on_one_postgresql_queue_process_every_call_once(
    postgres: postgres_server.PostgresServer, tmp_path: Path
) -> None:
    """Two `process` runs started at once on one database (as on two machines) share
    the queue: every call is transcribed exactly once, and both runs did work."""
    url = postgres.new_database()
    settings = Settings(home=tmp_path / "home", database_url=url)
    rows = [{"recording": f"r{n}.wav", "call_id": f"r{n}"} for n in range(16)]
    with Store.open(settings) as store:
        report = ingest_rows(store, tmp_path / "in", rows, NOW)
        assert len(report.imported) == 16, report
    script = _WORKER.format(
        tests=str(Path(__file__).parent), now=NOW.isoformat(), home=str(settings.home), url=url
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [json.loads(run.communicate(timeout=300)[0].splitlines()[-1]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    heard = [call_id for out in outputs for call_id in out["heard"]]
    done = [call_id for out in outputs for call_id in out["done"]]
    assert sorted(heard) == sorted(done) == sorted(r["call_id"] for r in rows)
    assert all(out["done"] for out in outputs), "one run took every call: no sharing shown"
    with Store.open(settings) as store:
        assert _visible(store) == {r["call_id"] for r in rows}
        assert pending_rows(store, NOW) == []


def test_a_workspace_of_a_release_before_alembic_is_stamped_then_upgraded(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home")
    with Store.open(settings) as store:
        ingest_rows(store, tmp_path / "in", _rows()[:1], NOW)
        with store.write() as conn:  # what version 5 of the schema looked like
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(text("DROP TABLE runs"))
            conn.execute(text("ALTER TABLE calls DROP COLUMN claimed_by"))
            conn.execute(text("PRAGMA user_version = 5"))
    with Store.open(settings) as store, store.read() as conn:
        assert schema_version(conn) == LATEST_VERSION
        assert MigrationContext.configure(conn).get_current_revision() == f"{LATEST_VERSION:04d}"
        assert "claimed_by" in {c["name"] for c in inspect(conn).get_columns("calls")}
        assert [r["call_id"] for r in pending_rows(store, NOW)] == ["a"]  # data kept


def test_machines_opening_a_new_postgresql_database_at_once_migrate_it_once(
    postgres: postgres_server.PostgresServer, tmp_path: Path
) -> None:
    url = postgres.new_database()
    errors: list[BaseException] = []

    def open_it(n: int) -> None:
        try:
            Store.open(Settings(home=tmp_path / f"home{n}", database_url=url)).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    settings = Settings(home=tmp_path / "home0", database_url=url)
    with Store.open(settings) as store, store.read() as conn:
        assert schema_version(conn) == LATEST_VERSION
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(f"{LATEST_VERSION:04d}",)]


def test_a_dead_runs_claims_return_to_the_queue_and_a_live_runs_stay(
    backend_store: Store, tmp_path: Path
) -> None:
    rows = [{"recording": f"q{n}.wav", "call_id": f"q{n}"} for n in range(3)]
    ingest_rows(backend_store, tmp_path / "in", rows, NOW)
    for run in ("alive", "dead"):
        queue.start_run(backend_store, run, host="h", pid=1, now=NOW)
    with backend_store.write() as conn:
        assert queue.claim(conn, backend_store, "q0", NOW, "alive")
        assert queue.claim(conn, backend_store, "q1", NOW, "dead")
        assert not queue.claim(conn, backend_store, "q1", NOW, "alive")  # taken
        conn.execute(  # "dead" has not beaten for two leases
            update(runs).where(runs.c.run_id == "dead").values(heartbeat_s=time.time() - 120)
        )
    with backend_store.write() as conn:
        back, failed = queue.requeue_interrupted(conn, NOW, "me", lease_s=queue.LEASE_S)
    assert (back, failed) == (1, [])
    states = {r["call_id"]: r["state"] for r in _all_calls(backend_store)}
    assert states == {"q0": "processing", "q1": "pending", "q2": "pending"}
    # without a lease (one run per workspace, SQLite's file lock) every other claim is dead
    with backend_store.write() as conn:
        assert queue.requeue_interrupted(conn, NOW, "me") == (1, [])
    assert {r["state"] for r in _all_calls(backend_store)} == {"pending"}


def _all_calls(store: Store) -> list[dict[str, object]]:
    with store.read() as conn:
        return [dict(row) for row in conn.execute(select(calls)).mappings()]


def test_every_schema_step_has_its_alembic_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from analytics.store.schema import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", "analytics.store:migrations")
    script = ScriptDirectory.from_config(config)
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert chain == [f"{number:04d}" for number, _, _ in MIGRATIONS]
    assert script.get_current_head() == f"{LATEST_VERSION:04d}"
