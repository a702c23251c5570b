"""The pipeline: every pending call through the stages, resumable, never storing raw text."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pipeline_fakes import PLANTED, FakeTranscriber, fake_engines, write_call
from sqlalchemy import func, select

from analytics import governance
from analytics.errors import UnredactedTextError, UsageError
from analytics.ingest import ingest
from analytics.models import RawSegment, RawTranscript
from analytics.pipeline import process, single_run
from analytics.store import Store, call_rows, get_call
from analytics.store.schema import calls, segments
from analytics.store.writes import save_analysis, set_state
from analytics.workspace import opaque_call_id

REPO = Path(__file__).resolve().parents[1]


def _ingest_calls(store: Store, folder: Path, n: int, now) -> list[str]:
    for i in range(n):
        write_call(folder / f"call-{i}.wav", seed=i)
    report = ingest(store, [folder], now=now)
    assert not report.rejects
    return sorted(report.imported)


def _workspace_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_process_stores_only_redacted_results(store: Store, tmp_path: Path, now) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 3, now)
    report = process(store, engines=fake_engines(), now=now)
    assert sorted(report.done) == ids and not report.failed
    record = get_call(store, ids[0], now)
    assert [s["speaker"] for s in record["segments"]] == ["agent", "customer"]
    assert "<PERSON>" in record["segments"][0]["text"]
    assert record["pii"] == {"PERSON": 2, "PHONE_NUMBER": 2}
    assert record["quality"]["score"] is not None
    store.checkpoint()
    blob = _workspace_bytes(store.settings.home)
    for value in PLANTED:
        assert value.encode() not in blob
    rows = call_rows(store, now)
    assert all((store.settings.home / row["redacted_audio_path"]).is_file() for row in rows)


def test_store_refuses_a_raw_transcript(store: Store, tmp_path: Path, now) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 1, now)
    analysis = process.__globals__["analyse_call"]  # the real function, used below with fakes
    assert callable(analysis)
    raw = RawTranscript(ids[0], "en", 1.0, 1.0, (RawSegment("agent", 0, 1, "Zoltan"),))
    from factories import make_analysis

    from analytics.models import CallAnalysis

    good = make_analysis(ids[0])
    bad = CallAnalysis(transcript=raw, quality=good.quality, abuse=good.abuse)  # type: ignore[arg-type]
    with pytest.raises(UnredactedTextError) as caught, store.write() as conn:
        save_analysis(conn, ids[0], bad, now=now, redacted_audio_path=None)
    assert "Zoltan" not in str(caught.value)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(segments)).scalar_one() == 0


def test_a_call_that_fails_to_decode_is_marked_and_the_others_go_on(
    store: Store, tmp_path: Path, now
) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 2, now)
    with store.read() as conn:
        broken = conn.execute(
            select(calls.c.audio_path).where(calls.c.call_id == ids[0])
        ).scalar_one()
    (store.settings.home / broken).write_bytes(b"RIFF....WAVEjunk" * 10)
    report = process(store, engines=fake_engines(), now=now)
    assert report.done == [ids[1]]
    assert ids[0] in report.failed
    with store.read() as conn:
        state, error = conn.execute(
            select(calls.c.state, calls.c.error).where(calls.c.call_id == ids[0])
        ).one()
    assert state == "failed" and error
    again = process(store, engines=fake_engines(), now=now, retry_failed=True)
    assert ids[0] in again.failed  # still broken, still reported, nothing duplicated


def test_calls_left_processing_by_a_crash_are_done_once(store: Store, tmp_path: Path, now) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 2, now)
    with store.write() as conn:
        set_state(conn, ids[0], "processing", now)
    report = process(store, engines=fake_engines(), now=now)
    assert report.requeued == 1 and sorted(report.done) == ids
    process(store, engines=fake_engines(), now=now)  # nothing pending: a no-op
    with store.read() as conn:
        per_call = dict(
            conn.execute(
                select(segments.c.call_id, func.count()).group_by(segments.c.call_id)
            ).all()
        )
    assert per_call == {ids[0]: 2, ids[1]: 2}


def test_an_objection_filed_during_processing_wins(store: Store, tmp_path: Path, now) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 1, now)

    class ObjectingTranscriber(FakeTranscriber):
        def transcribe_speech(self, call_id, speech, duration_s, language=None):  # type: ignore[no-untyped-def]
            governance.object_calls(store, call_id=call_id, now=now)
            return super().transcribe_speech(call_id, speech, duration_s, language)

    engines = fake_engines()
    engines.transcriber = ObjectingTranscriber()  # type: ignore[assignment]
    report = process(store, engines=engines, now=now)
    assert report.skipped == ids and not report.done
    assert call_rows(store, now) == []
    assert not any(store.settings.redacted_audio_dir.iterdir())
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(segments)).scalar_one() == 0


def test_calls_past_retention_are_never_processed(store: Store, tmp_path: Path, now) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 2, now)
    later = now + timedelta(days=store.settings.retention_days + 1)
    report = process(store, engines=fake_engines(), now=later)
    assert report.done == []
    with store.read() as conn:
        # purged at the start of process, under opaque ids (the old ones may be numbers)
        gone = [opaque_call_id(store.key, call_id) for call_id in ids]
        states = set(conn.execute(select(calls.c.state).where(calls.c.call_id.in_(gone))).scalars())
    assert states == {"expired"}


@pytest.mark.sqlite_only  # on PostgreSQL several runs share the queue (test_backends)
def test_one_process_run_per_workspace(store: Store) -> None:
    with single_run(store.settings), pytest.raises(UsageError, match="another"):
        process(store, engines=fake_engines())


def test_unknown_executor_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError, match="executor"):
        process(store, engines=fake_engines(), executor="spark")


_RUNNER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from datetime import datetime
    from analytics.config import load_settings
    from analytics.pipeline import process
    from analytics.store import Store
    from pipeline_fakes import fake_engines
    store = Store.open(load_settings({home!r}, env={{}}))
    process(store, engines=fake_engines(delay_s=0.4), workers=1, now=datetime.fromisoformat({now!r}))
    """
)


@pytest.mark.sqlite_only  # the SQLite file's integrity; PostgreSQL leases: test_backends
def test_sigkill_during_process_then_rerun_loses_and_duplicates_nothing(
    store: Store, tmp_path: Path, now
) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 8, now)
    script = _RUNNER.format(
        tests=str(REPO / "tests"), home=str(store.settings.home), now=now.isoformat()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLQA_")}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    db = store.settings.db_path
    while time.monotonic() < deadline:
        with sqlite3.connect(db, timeout=30) as raw:
            done = raw.execute("select count(*) from calls where state='done'").fetchone()[0]
        if done >= 2:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 2 <= done < len(ids), "the kill must land mid-run"
    rerun = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=120)
    assert rerun.returncode == 0
    with sqlite3.connect(db) as raw:
        assert raw.execute("pragma integrity_check").fetchone()[0] == "ok"
        states = dict(raw.execute("select state, count(*) from calls group by state").fetchall())
        per_call = raw.execute("select call_id, count(*) from segments group by call_id").fetchall()
        quality_rows = raw.execute("select count(*) from quality").fetchone()[0]
    assert states == {"done": len(ids)}
    assert sorted(per_call) == [(cid, 2) for cid in ids]
    assert quality_rows == len(ids)


@pytest.mark.slow
def test_the_ray_executor_processes_every_call_once(store: Store, tmp_path: Path, now) -> None:
    import pipeline_fakes
    import ray  # a dev dependency: make test installs it

    # The actors cannot import the tests folder: ship the fakes by value.
    ray.cloudpickle.register_pickle_by_value(pipeline_fakes)
    ids = _ingest_calls(store, tmp_path / "in", 3, now)
    report = process(
        store, executor="ray", workers=2, engine_factory=pipeline_fakes.fake_engine_factory, now=now
    )
    assert sorted(report.done) == ids and not report.failed
    with store.read() as conn:
        per_call = dict(
            conn.execute(
                select(segments.c.call_id, func.count()).group_by(segments.c.call_id)
            ).all()
        )
    assert per_call == dict.fromkeys(ids, 2)
    for value in PLANTED:
        assert value not in str(get_call(store, ids[0], now))


def test_a_ray_address_needs_the_ray_executor(store: Store) -> None:
    with pytest.raises(UsageError, match="--ray-address needs --executor ray"):
        process(store, engines=fake_engines(), address="127.0.0.2:6379")


def test_the_ray_address_comes_from_the_option_else_ray_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analytics.pipeline import ray_address

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_address(None) is None  # a local cluster is started
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert ray_address(None) == "10.0.0.5:6379"
    assert ray_address("auto") == "auto"


def test_a_call_whose_worker_died_goes_back_then_fails_after_max_attempts(
    store: Store, tmp_path: Path, now
) -> None:
    from analytics.store import queue

    [call_id] = _ingest_calls(store, tmp_path / "in", 1, now)
    states = []
    for _ in range(queue.MAX_ATTEMPTS):
        with store.write() as conn:
            assert queue.claim(conn, store, call_id, now, "run-a")
            assert queue.give_back(conn, call_id, now, "run-b") is None  # not run-b's
            states.append(queue.give_back(conn, call_id, now, "run-a"))
    assert states == ["pending", "pending", "failed"]
    with store.write() as conn:
        assert queue.state_of(conn, call_id) == "failed"
        assert not queue.is_mine(conn, call_id, "run-a")


# --- hardening (issue 11) ------------------------------------------------------------------


def _states(store: Store) -> dict[str, tuple[str, int, str | None]]:
    with store.read() as conn:
        rows = conn.execute(select(calls.c.call_id, calls.c.state, calls.c.attempts, calls.c.error))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def test_a_call_objected_while_process_runs_is_never_transcribed_even_under_hold(
    store: Store, tmp_path: Path, now
) -> None:
    first, second = _ingest_calls(store, tmp_path / "in", 2, now)
    governance.hold(store, second, "dispute", now=now)

    class ObjectsToTheNext(FakeTranscriber):
        def transcribe_speech(self, call_id, speech, duration_s, language=None):  # type: ignore[no-untyped-def]
            if call_id == first:  # the caller of the next call objects meanwhile
                governance.object_calls(store, call_id=second, now=now)
            return super().transcribe_speech(call_id, speech, duration_s, language)

    engines = fake_engines()
    engines.transcriber = transcriber = ObjectsToTheNext()  # type: ignore[assignment]
    report = process(store, engines=engines, workers=1, now=now)
    assert transcriber.heard == [first]  # the held recording was never decoded
    assert report.done == [first] and report.skipped == [second]
    states = _states(store)
    assert states[second][:2] == ("objected", 0)  # never claimed
    with store.read() as conn:
        assert conn.execute(select(calls.c.audio_path).where(calls.c.call_id == second)).scalar()


class _Killed(BaseException):
    """Stands in for the run being killed (SIGKILL, the OOM killer) while on a call."""


def test_a_call_interrupted_three_times_is_failed_and_the_queue_moves_on(
    store: Store, tmp_path: Path, now
) -> None:
    ids = _ingest_calls(store, tmp_path / "in", 3, now)
    poison = ids[0]  # the first in the queue, as the 2-hour silent FLAC was

    class DiesOnPoison(FakeTranscriber):
        def transcribe_speech(self, call_id, speech, duration_s, language=None):  # type: ignore[no-untyped-def]
            if call_id == poison:
                raise _Killed
            return super().transcribe_speech(call_id, speech, duration_s, language)

    runs = []
    for _ in range(3):
        engines = fake_engines()
        engines.transcriber = DiesOnPoison()  # type: ignore[assignment]
        with pytest.raises(_Killed):
            process(store, engines=engines, workers=2, now=now)
        runs.append(_states(store))
    # Run 1 dies with the poison and its neighbour in flight. Then calls never
    # interrupted go first, and the suspects run alone, fewest interruptions first: the
    # neighbour is done by run 3, and only the poison is charged every crash.
    assert [run[ids[2]][:2] for run in runs] == [("pending", 0), ("done", 1), ("done", 1)]
    assert [run[ids[1]][:2] for run in runs] == [("processing", 1), ("pending", 1), ("done", 2)]
    assert [run[poison][:2] for run in runs] == [("processing", n) for n in (1, 2, 3)]
    report = process(store, engines=fake_engines(), now=now)
    state, attempts, error = _states(store)[poison]
    assert (state, attempts) == ("failed", 3)
    assert error is not None and "interrupted 3 times" in error
    assert poison in report.failed and not report.done
    # --retry-failed gives it a fresh set of attempts.
    retried = process(store, engines=fake_engines(), now=now, retry_failed=True)
    assert retried.done == [poison]


def test_a_recording_longer_than_max_duration_fails_with_the_reason(tmp_path: Path, now) -> None:
    from analytics.config import load_settings

    home = tmp_path / "home"
    with Store.open(load_settings(home, env={})) as store:
        ids = _ingest_calls(store, tmp_path / "in", 1, now)
    # The limit lowered after ingest: process checks the decoded length itself.
    with Store.open(load_settings(home, env={}, max_duration_s=1.5)) as store:
        report = process(store, engines=fake_engines(), now=now)
        assert list(report.failed) == ids
        assert "longer than max_duration_s = 1.5 s" in report.failed[ids[0]]
        assert _states(store)[ids[0]][0] == "failed"


def test_a_typo_model_is_a_usage_error_that_touches_no_call(store: Store, tmp_path: Path, now):
    from frozen_run import command

    ids = _ingest_calls(store, tmp_path / "in", 2, now)
    before = _states(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLQA_")}
    env["HF_HUB_OFFLINE"] = "1"  # no network, as on the contact centre's machines
    home = str(store.settings.home)
    result = subprocess.run(
        command(
            now, [sys.executable, "-m", "analytics", "--home", home, "process", "--model", "tiny"]
        ),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "'tiny'" in result.stderr and "Traceback" not in result.stderr
    assert _states(store) == before
    assert all(state == ("pending", 0, None) for state in before.values()) and len(before) == 2
    assert sorted(before) == ids


def test_a_model_that_cannot_load_fails_the_run_before_any_claim(
    store: Store, tmp_path: Path, now
) -> None:
    from analytics.errors import ModelError

    _ingest_calls(store, tmp_path / "in", 2, now)
    engines = fake_engines()

    def broken_load() -> None:
        raise ModelError("cannot load Whisper model 'x': damaged")

    engines.transcriber.load = broken_load  # type: ignore[attr-defined,method-assign]
    with pytest.raises(ModelError):
        process(store, engines=engines, now=now)
    assert {state for state, _, _ in _states(store).values()} == {"pending"}
    assert {attempts for _, attempts, _ in _states(store).values()} == {0}


def test_no_space_while_writing_stops_the_run_and_the_call_is_pending_again(
    store: Store, tmp_path: Path, now, monkeypatch
) -> None:
    import errno

    from analytics import audio
    from analytics.errors import DiskFullError

    ids = _ingest_calls(store, tmp_path / "in", 3, now)

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audio, "_encode", full)
    with pytest.raises(DiskFullError, match="no space left") as caught:
        process(store, engines=fake_engines(), workers=1, now=now)
    assert "pending again" in str(caught.value)
    assert _states(store) == {call_id: ("pending", 0, None) for call_id in ids}
    assert not list(store.settings.redacted_audio_dir.iterdir())  # no half-written copy
    monkeypatch.undo()
    assert sorted(process(store, engines=fake_engines(), now=now).done) == ids


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_ingest_refuses_a_recording_past_max_duration_from_its_header(
    tmp_path: Path, now, suffix
) -> None:
    from analytics.config import load_settings

    folder = tmp_path / "in"
    write_call(folder / f"long{suffix}", seconds=6.0)
    write_call(folder / f"short{suffix}", seconds=2.0, seed=1)
    with Store.open(load_settings(tmp_path / "home", env={}, max_duration_s=4)) as store:
        report = ingest(store, [folder], now=now)
        assert report.imported == ["short"]
        [reject] = report.rejects
        assert reject.source.endswith(f"long{suffix}")
        assert reject.reason == (
            "its header announces 6 s, longer than max_duration_s = 4 s "
            "(raise the setting to import it)"
        )
