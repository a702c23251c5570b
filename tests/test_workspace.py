"""The workspace's first-time set-up under concurrency, and a really full disk."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_fakes import fake_engine_factory, write_call
from sqlalchemy import select

from analytics import workspace
from analytics.config import load_settings
from analytics.ingest import ingest
from analytics.store import Store
from analytics.store.schema import calls


def test_a_key_being_written_is_never_read_half_done(tmp_path, monkeypatch):
    """One process is writing the new key when another opens the workspace."""
    settings = load_settings(tmp_path / "home", env={})
    settings.home.mkdir()
    writing, release = threading.Event(), threading.Event()
    real_token_hex = workspace.secrets.token_hex
    first = threading.Lock()

    def slow_token_hex(n: int) -> str:
        if first.acquire(blocking=False):  # the first writer stalls mid-creation
            writing.set()
            release.wait(10)
        return real_token_hex(n)

    monkeypatch.setattr(workspace.secrets, "token_hex", slow_token_hex)
    keys: dict[str, bytes] = {}
    slow = threading.Thread(target=lambda: keys.update(slow=workspace.load_key(settings)))
    slow.start()
    assert writing.wait(10)
    keys["fast"] = workspace.load_key(settings)  # on the old code: "not a callqa key"
    release.set()
    slow.join(10)
    assert keys["slow"] == keys["fast"] == workspace.load_key(settings)
    assert [p.name for p in settings.home.iterdir()] == ["secret.key"]  # no staging left


def _open_at_once(home: str, barrier: object, results: object) -> None:
    settings = load_settings(home, env={})
    barrier.wait()  # type: ignore[attr-defined]
    try:
        with Store.open(settings) as store:
            results.put(("ok", store.key.hex()))  # type: ignore[attr-defined]
    except BaseException as exc:  # every failure is the finding, whatever it is
        results.put(("error", f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_commands_started_at_once_on_a_new_workspace_all_succeed(tmp_path):
    context = multiprocessing.get_context("fork")
    outcomes = []
    for round_ in range(12):
        home = tmp_path / f"ws{round_}" / "home"
        barrier, results = context.Barrier(6), context.Queue()
        workers = [
            context.Process(target=_open_at_once, args=(str(home), barrier, results))
            for _ in range(6)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        round_outcomes = [results.get(timeout=10) for _ in workers]
        assert {kind for kind, _ in round_outcomes} == {"ok"}, round_outcomes
        assert len({key for _, key in round_outcomes}) == 1  # one key for everyone
        outcomes.extend(round_outcomes)
    assert len(outcomes) == 72


# --- a real full disk ------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs: a file system that really fills up (needs root to mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"this test mounts a small tmpfs and needs root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until ``leave`` bytes are free."""
    free = shutil.disk_usage(folder).free
    with (folder / "filler").open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


@pytest.mark.slow
def test_a_full_disk_during_process_is_one_clear_error_and_the_call_is_pending(
    small_disk, tmp_path, now, monkeypatch
):
    from click.testing import CliRunner

    from analytics import pipeline
    from analytics.cli import cli

    home = small_disk / "home"
    with Store.open(load_settings(home, env={})) as store:
        write_call(tmp_path / "in" / "long.wav", seconds=40.0)
        assert not ingest(store, [tmp_path / "in"], now=now).rejects
    _fill(small_disk, leave=96 * 1024)  # room for a claim, not for the redacted audio
    # The real CLI, with fast engines standing in for Whisper and Presidio.
    monkeypatch.setattr(pipeline, "build_engines", fake_engine_factory)
    monkeypatch.setattr(pipeline, "check_model", lambda settings: None, raising=False)
    result = CliRunner().invoke(cli, ["--home", str(home), "process"], env={"CALLQA_HOME": ""})
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no space left" in lines[0], result.stderr
    os.unlink(small_disk / "filler")
    with Store.open(load_settings(home, env={})) as store, store.read() as conn:
        state, attempts, error = conn.execute(
            select(calls.c.state, calls.c.attempts, calls.c.error)
        ).one()
    assert (state, attempts, error) == ("pending", 0, None)
    assert not list((home / "redacted-audio").iterdir())  # no half-written copy
