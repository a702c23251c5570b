"""Kill -9 an ingest mid-way, run it again: every good file once, the database sound."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import wave
from datetime import timedelta
from pathlib import Path

import frozen_run
import numpy as np
from conftest import make_audio
from factories import NOW, stamp_at

from analytics.ingest import sha256_of

REPO = Path(__file__).resolve().parents[1]
N_GOOD = 200
KILL_AFTER = (10, 40, 80, 120, 160)  # imported rows seen before each kill


def _fast_wav(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(8000) * 3000).astype(np.int16)  # 0.5 s at 16 kHz
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return stamp_at(path, NOW - timedelta(hours=1))


def _corpus(folder: Path) -> tuple[dict[str, str], set[str]]:
    """Good files (call id -> sha) in a few formats, and the names of bad files."""
    good: dict[str, str] = {}
    for i in range(N_GOOD):
        sub = folder / f"batch{i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        if i % 20 == 0:
            path = make_audio(sub / f"call{i:03d}.flac", 0.5, 8000, 1 + i % 2, seed=i)
        else:
            path = _fast_wav(sub / f"call{i:03d}.wav", seed=i)
        good[path.stem] = sha256_of(path)
    (folder / "batch0" / "junk.wav").write_text("not audio")
    (folder / "batch1" / "empty.flac").write_bytes(b"")
    return good, {"junk.wav", "empty.flac"}


def _count_calls(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM calls").fetchone()[0])
    except sqlite3.OperationalError:  # schema not there yet, or locked for a moment
        return 0


def _command(home: Path, folder: Path) -> list[str]:
    return frozen_run.command(
        NOW, [sys.executable, "-m", "analytics", "--home", str(home), "ingest", str(folder)]
    )


def _run_and_kill(home: Path, folder: Path, after: int) -> int:
    proc = subprocess.Popen(
        _command(home, folder),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while (seen := _count_calls(home / "callqa.db")) < after:
            assert proc.poll() is None, f"ingest finished before {after} calls ({seen})"
            assert time.monotonic() < deadline, "ingest too slow"
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return seen


def test_ingest_survives_kill_9(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good, bad = _corpus(folder)
    home = tmp_path / "home"
    seen = [_run_and_kill(home, folder, after) for after in KILL_AFTER]
    assert seen == sorted(seen)  # each killed run had made progress, none was lost
    assert seen[-1] < N_GOOD  # the last kill landed before the end

    final = subprocess.run(
        _command(home, folder), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert final.returncode == 1, final.stderr  # the two bad files
    rejected = [line for line in final.stderr.splitlines() if line.startswith("rejected")]
    assert sorted(Path(line.split(":")[0].split()[1]).name for line in rejected) == sorted(bad)

    db = home / "callqa.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute("SELECT call_id, audio_sha256, audio_path, state FROM calls").fetchall()
        reject_sources = [r[0] for r in conn.execute("SELECT source FROM rejects")]
    # every good file exactly once, with its own content hash
    assert len(rows) == N_GOOD
    assert {call_id: sha for call_id, sha, _, _ in rows} == good
    assert len({sha for _, sha, _, _ in rows}) == N_GOOD
    assert {state for *_, state in rows} == {"pending"}
    # every recording present and whole; nothing on disk that no row names
    referenced = set()
    for _call_id, sha, audio_path, _ in rows:
        stored = home / audio_path
        assert sha256_of(stored) == sha
        referenced.add(stored)
    on_disk = {p for p in (home / "recordings").rglob("*") if p.is_file()}
    assert on_disk == referenced, "stray or temp files left in the workspace"
    # the bad files are each one reject, however many runs saw them
    assert sorted(Path(s).name for s in reject_sources) == sorted(bad)


def test_two_ingests_of_the_same_folder_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = {_fast_wav(folder / f"call{i:03d}.wav", seed=i).stem for i in range(60)}
    home = tmp_path / "home"
    procs = [
        subprocess.Popen(
            _command(home, folder),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "0 rejected" in out
    with sqlite3.connect(home / "callqa.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [row[0] for row in conn.execute("SELECT call_id FROM calls")]
    assert sorted(ids) == sorted(good)
    on_disk = [p for p in (home / "recordings").rglob("*") if p.is_file()]
    assert len(on_disk) == len(good)
