"""``callqa process --executor ray`` on a real two-node Ray cluster (tests/ray_cluster.py).

The head and a second node are separate ``ray start`` raylets with one CPU each; the
driver joins them by address, as it would a contact centre's cluster. One test runs the
real CLI with the real engines on real speech; one kills the second node mid-run and
checks every call is processed exactly once; one reads every file Ray wrote (logs,
session folders, objects spilled from the object store) for the raw words.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import NOW
from pipeline_fakes import PLANTED, write_call
from ray_cluster import REPO, RayCluster

from analytics.config import load_settings
from analytics.ingest import ingest
from analytics.store import Store
from analytics.synth import Turn, synthesize_call

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SHARED_AUDIO = REPO.parent / "shared" / "audio"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="callqa-ray-"))).start(cpus=(1, 1))
    try:
        yield cluster
    finally:
        cluster.stop()


def _workspace(tmp_path: Path, files: list[Path], layouts: dict[str, str]) -> Store:
    store = Store.open(load_settings(tmp_path / "home", env={}))
    metadata = tmp_path / "calls.csv"
    metadata.write_text(
        "recording,call_id,channel_layout,started_at,language\n"
        + "".join(
            f"{p},{p.stem},{layouts.get(p.stem, 'agent_left')},{NOW.isoformat()},en\n"
            for p in files
        )
    )
    report = ingest(store, [], metadata, roots=[SHARED_AUDIO], now=NOW)
    assert not report.rejects, report.rejects
    return store


def _states(store: Store) -> dict[str, str]:
    with sqlite3.connect(store.settings.db_path, timeout=30) as raw:
        return dict(raw.execute("select call_id, state from calls").fetchall())


def _segments_per_call(store: Store) -> dict[str, int]:
    with sqlite3.connect(store.settings.db_path, timeout=30) as raw:
        rows = raw.execute("select call_id, count(*) from segments group by call_id").fetchall()
    return dict(rows)


def test_the_cli_joins_the_cluster_and_processes_real_calls_on_both_nodes(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """Real engines (tiny.en, Presidio, abuse model) in one actor per node."""
    synth = tmp_path / "in" / "roadside.wav"
    synth.parent.mkdir()
    synthesize_call(
        (
            Turn("agent", "Good morning, roadside assistance, how can I help you?"),
            Turn("customer", "Hello, my car has broken down on the motorway."),
            Turn("agent", "I am sending a tow truck now. Goodbye."),
        ),
        synth,
        layout="agent_left",
    )
    files = [SHARED_AUDIO / "jfk.flac", SHARED_AUDIO / "stereo_diarization.wav", synth]
    store = _workspace(tmp_path, files, {"jfk": "mono"})
    home = store.settings.home
    store.close()
    frozen = REPO / "tests" / "frozen_run.py"
    cli = [sys.executable, str(frozen), NOW.isoformat(), "analytics", "--home", str(home)]
    done = ray_cluster.run(
        [*cli, "process", "--executor", "ray", "--model", "tiny.en"],
        env={"RAY_ADDRESS": ray_cluster.address},  # the address from the environment
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "3 processed, 0 failed" in done.stdout
    assert "on 2 Ray node(s)" in done.stdout  # one actor per node, both worked
    store = Store.open(load_settings(home, env={}))
    assert set(_states(store).values()) == {"done"}
    with sqlite3.connect(store.settings.db_path) as raw:
        jfk = " ".join(t for (t,) in raw.execute("select text from segments where call_id='jfk'"))
        audio = dict(raw.execute("select call_id, redacted_audio_path from calls").fetchall())
    assert "country" in jfk.lower()
    # The redacted copies came back as bytes and were written here, by the driver.
    for call_id in ("jfk", "stereo_diarization", "roadside"):
        assert audio[call_id] and (home / audio[call_id]).read_bytes()[:4] == b"OggS"
    store.close()


_RUNNER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    import ray
    from analytics.config import load_settings
    from analytics.pipeline import process
    from analytics.store import Store
    import pipeline_fakes
    from pipeline_fakes import fake_engines

    def factory(settings, workers):
        return fake_engines(delay_s={delay})

    ray.init(address={address!r}, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(pipeline_fakes)
    kept = []  # every result the driver received, kept alive to be spilled below
    wait = ray.wait

    def keeping(refs, **options):
        ready, rest = wait(refs, **options)
        kept.extend(ready)
        return ready, rest

    ray.wait = keeping
    store = Store.open(load_settings({home!r}, env={{}}))
    report = process(store, executor="ray", engine_factory=factory,
                     now=datetime.fromisoformat({now!r}))
    print("done", len(report.done), "failed", len(report.failed), "nodes", len(report.nodes))
    if {spill}:  # fill the object store: what it holds goes to the spilling folder
        import numpy as np
        filler = [ray.put(np.zeros(16 << 20, np.uint8)) for _ in range(8)]
        import time
        time.sleep(2)  # spilling runs in the background
        print("spilled", len(kept), flush=True)
        sys.stdin.readline()  # the test reads the disk while the objects are alive
    """
)


def _fake_run(cluster: RayCluster, store: Store, delay: float, spill: bool = False) -> list[str]:
    script = _RUNNER.format(
        delay=delay,
        address=cluster.address,
        home=str(store.settings.home),
        now=NOW.isoformat(),
        spill=spill,
    )
    return [sys.executable, "-c", script]


def test_no_raw_word_reaches_the_object_store_or_rays_disk(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """The fake transcriber 'hears' planted names and numbers; only the redacted
    record leaves the actor. Everything spilled, logged or stored by Ray is read."""
    files = [write_call(tmp_path / "in" / f"c{i}.wav", seed=i) for i in range(4)]
    store = _workspace(tmp_path, files, {})
    child = ray_cluster.popen(_fake_run(ray_cluster, store, 0.0, spill=True))
    try:
        assert child.stdout is not None and child.stdin is not None
        lines = [child.stdout.readline(), child.stdout.readline()]
        assert lines[0].startswith("done 4 failed 0"), (lines, child.stderr)
        assert lines[1].startswith("spilled"), lines
        spilled = b"".join(p.read_bytes() for p in ray_cluster.spill_dir.rglob("*") if p.is_file())
        files = [p for p in ray_cluster.root.rglob("*") if p.is_file() and not p.is_socket()]
        written = {path: path.read_bytes() for path in files}
        child.stdin.close()
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert set(_states(store).values()) == {"done"}
    # The actors' results were spilled (their redacted text is there): the raw is not.
    assert b"<PERSON>" in spilled, "no result was spilled: the test would read nothing"
    assert len(written) > 20
    for path, data in written.items():
        for word in PLANTED:
            assert word.encode() not in data, f"{word!r} found in {path}"
    store.close()


def test_a_node_killed_mid_run_loses_and_duplicates_no_call(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    ids = [f"c{i}" for i in range(10)]
    files = [
        write_call(tmp_path / "in" / f"{call_id}.wav", seed=i) for i, call_id in enumerate(ids)
    ]
    store = _workspace(tmp_path, files, {})
    second = ray_cluster.nodes[1]
    child = ray_cluster.popen(_fake_run(ray_cluster, store, 1.0))
    try:
        deadline = time.monotonic() + 120
        while sum(state == "done" for state in _states(store).values()) < 2:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.1)
        ray_cluster.kill_node(second)  # its actor and the calls it held are lost
        out, err = child.communicate(timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err[-3000:]
    assert "done 10 failed 0" in out
    states = _states(store)
    assert states == dict.fromkeys(ids, "done")
    assert _segments_per_call(store) == dict.fromkeys(ids, 2)  # each call stored once
    with sqlite3.connect(store.settings.db_path) as raw:
        attempts = dict(raw.execute("select call_id, attempts from calls").fetchall())
        analyses = raw.execute("select count(*) from quality").fetchone()[0]
    assert analyses == len(ids)
    assert max(attempts.values()) == 2  # the lost node's calls were run again elsewhere
    store.close()
    ray_cluster.add_node(1)  # the session's cluster has two nodes again
