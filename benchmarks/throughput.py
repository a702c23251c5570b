"""Throughput: bare faster-whisper, `callqa process` local, and on Ray with one and two nodes.

Same calls, same model, one run:
(a) bare: ``WhisperModel.transcribe(..., vad_filter=True)`` (default beam 5), each channel
    on its own, one after the other (benchmarks/throughput_bare.py);
(b) callqa local: the whole ``process`` — decode, transcribe, redact, quality, abuse,
    redacted audio, store — with its default settings (thread pool, ``workers``; the
    row marked PRODUCT DEFAULT), and with each kept setting changed (LOCAL_VARIANTS:
    whole 30 s encoder windows as before ``encoder_pad_s``, 1 worker x 2 threads), and
    with code constants changed (LOCAL_PATCHES: the language read from the whole first
    window, as before it was read from the fitted encoding);
(c) callqa on Ray, one node: a head started with ``ray start --head --num-cpus=N``
    (N = the machine's cores), joined with ``--ray-address``;
    the default (1 CPU per actor) and 1 actor of N CPUs (``cpu_threads`` N);
(d) callqa on Ray, two nodes: a head and a second ``ray start --address`` node, with
    half the cores each (on one machine: the same cores, split between two raylets).
Model loading (and, on Ray, joining the cluster and starting the actors) is excluded
everywhere. Each Ray cluster runs in a network namespace of its own, on loopback
(tests/ray_cluster.py). Prints seconds, CPU seconds of the in-process runs (a, b; less
disturbed by a shared machine's load than wall time), the ratio to (a), the real-time factor, hours
of audio per node-hour and the nodes 10,000 five-minute calls a day need, and the word
error rate of bare and callqa on the real clips of ../shared/audio.

With ``--repeat N`` every run is measured N times, round after round (bare first in
each), and the table gives the median seconds and ratio with each round's ratio, and
the best (fastest) seconds of each run against the best of bare.

Run: ``nice -n 10 python benchmarks/throughput.py [--calls N] [--no-ray]
[--variants all|default] [--repeat N]`` (``default``: the product default rows only;
needs espeak-ng; the Ray part needs root for ``unshare --net``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ray_cluster import DEPLOYED_ENV, RayCluster
from throughput_bare import REFERENCES, bare_transcribe_seconds

from analytics import transcribe
from analytics.audio import decode
from analytics.config import Settings, load_settings
from analytics.ingest import ingest
from analytics.pipeline import ProcessReport, build_engines, process
from analytics.store import Store, get_call, utcnow
from analytics.synth import Turn, synthesize_call
from analytics.transcribe import resolve_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "audio"
CORES = os.cpu_count() or 1
CALLS_PER_DAY = 10_000
CALL_S = 300.0
SCRIPT = (
    Turn(
        "agent", "Good morning, you are through to roadside assistance, how can I help you today?"
    ),
    Turn(
        "customer",
        "Hello, my car has broken down on the motorway and I am stuck on the hard shoulder.",
    ),
    Turn("agent", "I am sorry to hear that. Are you and your passengers in a safe place?"),
    Turn("customer", "Yes, we are all behind the barrier, but it is getting cold and dark."),
    Turn(
        "agent", "Understood. I am sending a tow truck now, it should arrive within forty minutes."
    ),
    Turn("customer", "Thank you very much, that is a relief."),
    Turn("agent", "You are welcome. Stay behind the barrier. Goodbye and take care."),
)
BARE = "(a) bare faster-whisper, sequential, beam 5"
REAL = {"jfk": "mono", "stereo_diarization": "agent_left"}
# `process` with these settings beside the product default (its own settings, none
# changed), each printed in the same run as bare: what each kept setting is worth.
DEFAULT_VARIANT = "default"
CALLS_AT_ONCE = "calls at once"  # not a setting: `process(workers=)` beside the model's
LOCAL_VARIANTS: dict[str, dict[str, object]] = {
    DEFAULT_VARIANT: {},
    "whole 30 s windows (before)": {"encoder_pad_s": 30.0},
    "1 worker x 2 threads": {"workers": 1, "cpu_threads": 2},
    # One model of 2 threads, but two calls in flight: the other stages (audio, VAD,
    # separation, redacted audio) of one call overlap the other's transcription.
    "2 calls at once on one model x 2 threads": {
        "workers": 1,
        "cpu_threads": 2,
        CALLS_AT_ONCE: 2,
    },
}
# Variants of the code's own constants (analytics.transcribe), set for one local run:
# what a change that has no setting is worth, measured beside the default.
LOCAL_PATCHES: dict[str, dict[str, object]] = {
    "language read from the whole first window (before)": {"DETECT_FITTED_MAX_SHARE": 0.0},
}
RAY_VARIANTS: tuple[tuple[str, tuple[int, ...], dict[str, object]], ...] = (
    ("one node", (CORES,), {}),
    ("one node, 1 actor x 2 CPUs", (CORES,), {"cpu_threads": CORES}),
    ("two nodes", (CORES // 2, CORES - CORES // 2), {}),
)

_RAY_DRIVER = textwrap.dedent(
    """
    import json, time
    from analytics.config import Settings, load_settings
    from analytics.pipeline import process
    from analytics.store import Store
    store = Store.open(load_settings({home!r}, env={{}}))
    report = process(store, executor="ray", address={address!r})
    print(json.dumps({{"wall_s": report.wall_s, "startup_s": report.startup_s,
                      "done": len(report.done), "failed": report.failed,
                      "nodes": len(report.nodes)}}))
    """
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def corpus(folder: Path, n_calls: int) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    items: list[tuple[Path, str]] = [
        (SHARED / f"{name}.{ext}", REAL[name])
        for name, ext in (("jfk", "flac"), ("stereo_diarization", "wav"))
    ]
    for index in range(n_calls):
        path = folder / f"synth-{index}.wav"
        turns = SCRIPT[index % len(SCRIPT) :] + SCRIPT[: index % len(SCRIPT)]  # all differ
        synthesize_call(turns, path, layout="agent_left", language="en")
        items.append((path, "agent_left"))
    return items


def workspace(home: Path, items: list[tuple[Path, str]], metadata: Path) -> Store:
    store = Store.open(load_settings(home, env={}))
    metadata.write_text(
        "recording,call_id,channel_layout,started_at\n"
        + "".join(f"{p},{p.stem},{layout},{utcnow().isoformat()}\n" for p, layout in items)
    )
    report = ingest(store, [], metadata, roots=sorted({SHARED, *(p.parent for p, _ in items)}))
    assert not report.rejects, report.rejects
    return store


def callqa_texts(store: Store) -> dict[tuple[str, str], str]:
    """What callqa wrote for the real clips, per (file, speaker) as REFERENCES names them."""
    now = utcnow()
    out = {}
    for file_name, speaker in REFERENCES:
        record = get_call(store, Path(file_name).stem, now)
        segments = record["segments"]
        if speaker != "unknown":
            segments = [s for s in segments if s["speaker"] == speaker]
        out[file_name, speaker] = " ".join(s["text"] for s in segments)
    return out


def wer(texts: dict[tuple[str, str], str]) -> dict[str, float]:
    return {
        f"{Path(f).stem}/{spk}": float(jiwer.wer(_norm(ref), _norm(texts.get((f, spk), ""))))
        for (f, spk), ref in REFERENCES.items()
    }


@contextmanager
def patched(patches: dict[str, object]) -> Iterator[None]:
    """analytics.transcribe's constants set to ``patches`` for the block."""
    old = {name: getattr(transcribe, name) for name in patches}
    for name, value in patches.items():
        setattr(transcribe, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(transcribe, name, value)


def run_local(
    home: Path,
    items: list[tuple[Path, str]],
    overrides: dict[str, object],
    patches: dict[str, object] | None = None,
) -> tuple[float, float, dict[tuple[str, str], str], str, str]:
    """``process`` on a thread pool with these settings: seconds and CPU seconds (model
    loading excluded), texts of the real clips, time by stage, and the settings used."""
    at_once = overrides.get(CALLS_AT_ONCE)
    settings = load_settings(
        home, env={}, **{k: v for k, v in overrides.items() if k != CALLS_AT_ONCE}
    )
    store = workspace(home, items, home.parent / f"{home.name}.csv")
    engines = build_engines(settings, settings.workers)
    engines.transcriber.load()  # loading is excluded from both sides
    cpu = time.process_time()
    with patched(patches or {}):
        # the store was opened with default settings: pass the variant's worker count
        report: ProcessReport = process(
            store, engines=engines, workers=int(at_once or settings.workers)
        )
    cpu = time.process_time() - cpu
    assert not report.failed, report.failed
    texts = callqa_texts(store)
    store.close()
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.stage_s.items())
    used = describe(settings) + (f", {at_once} calls at once" if at_once else "")
    return report.wall_s, cpu, texts, stages, used


def describe(settings: Settings) -> str:
    threads = settings.cpu_threads or max(1, (os.cpu_count() or 1) // settings.workers)
    return (
        f"{settings.workers} workers x {threads} threads, beam {settings.beam_size}, "
        f"batch {settings.batch_size}, encoder_pad_s {settings.encoder_pad_s:g}"
    )


def run_ray(
    root: Path,
    items: list[tuple[Path, str]],
    cpus: tuple[int, ...],
    overrides: dict[str, object],
) -> tuple[dict, Store]:
    store = workspace(root / "home", items, root / "calls.csv")
    if overrides:
        (root / "home" / "config.toml").write_text(
            "".join(f"{key} = {json.dumps(value)}\n" for key, value in overrides.items())
        )
    # As deployed: objects spill only when the store is full (the tests force spilling).
    cluster = RayCluster(
        Path(tempfile.mkdtemp(prefix="callqa-bench-ray-")), system_env=DEPLOYED_ENV
    ).start(cpus=cpus, object_store_mb=200)
    try:
        script = _RAY_DRIVER.format(home=str(store.settings.home), address=cluster.address)
        done = cluster.run([sys.executable, "-c", script], timeout=900)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1]), store
    finally:
        cluster.stop()


@dataclass
class Row:
    """One run of the table over the rounds: its seconds in each round."""

    name: str
    details: str = ""  # settings and cluster shape, as of the last round
    seconds: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)  # in-process runs only (a, b)

    def add(self, seconds: float, cpu: float | None = None) -> None:
        self.seconds.append(seconds)
        if cpu is not None:
            self.cpu_s.append(cpu)

    def ratios(self, bare: Row) -> list[float]:
        """Each round's bare seconds over this run's seconds in that round."""
        return [b / s for b, s in zip(bare.seconds, self.seconds, strict=True)]


@dataclass
class Round:
    """What one round measured besides the rows: texts for the word error rates."""

    bare_texts: dict[tuple[str, str], str] = field(default_factory=dict)
    local_wer: dict[str, dict[str, float]] = field(default_factory=dict)
    stages: str = ""


def one_round(
    work: Path,
    items: list[tuple[Path, str]],
    model_dir: str,
    args: argparse.Namespace,
    rows: dict[str, Row],
) -> Round:
    """Bare, then each local variant, then each Ray cluster, on the same calls."""
    measured = Round()
    cpu = time.process_time()
    bare_s = bare_transcribe_seconds(items, model_dir, texts=measured.bare_texts)  # type: ignore[arg-type]
    bare = rows.setdefault(BARE, Row(BARE))
    bare.add(bare_s, time.process_time() - cpu)

    variants = [(name, overrides, {}) for name, overrides in LOCAL_VARIANTS.items()]
    variants += [(name, {}, patches) for name, patches in LOCAL_PATCHES.items()]
    for name, overrides, patches in variants:
        if args.variants == "default" and name != DEFAULT_VARIANT:
            continue
        seconds, cpu, texts, stages, used = run_local(
            work / f"local-{len(measured.local_wer)}", items, overrides, patches
        )
        measured.local_wer[name] = wer(texts)
        mark = " = PRODUCT DEFAULT" if name == DEFAULT_VARIANT else ""
        row = rows.setdefault(name, Row(f"(b) callqa process, local, {name}{mark}"))
        row.details = used
        row.add(seconds, cpu)
        if name == DEFAULT_VARIANT:
            measured.stages = stages

    if args.no_ray:
        return measured
    for label, cpus, overrides in RAY_VARIANTS:
        default = not overrides
        if args.variants == "default" and not default:
            continue
        figures, ray_store = run_ray(work / label.replace(" ", "-"), items, cpus, overrides)
        assert figures["done"] == len(items) and not figures["failed"], figures
        ray_store.close()
        per_actor = max(1, int(overrides.get("cpu_threads", 1)))  # type: ignore[call-overload]
        actors = sum(c // per_actor for c in cpus)
        mark = " = PRODUCT DEFAULT" if default else ""
        row = rows.setdefault(label, Row(f"(c) callqa on Ray, {label}{mark}"))
        row.details = (
            f"{list(cpus)} CPUs, {actors} actor(s) on {figures['nodes']} node(s); "
            f"start-up {figures['startup_s']:.0f} s excluded"
        )
        row.add(figures["wall_s"] - figures["startup_s"])
    return measured


def print_table(rows: dict[str, Row], audio_s: float, cores: int) -> None:
    """Medians and bests over the rounds, each round's ratio in brackets, and capacity."""
    labels = {
        key: f"{row.name} [{row.details}]" if row.details else row.name for key, row in rows.items()
    }
    width = max(len(label) for label in labels.values())
    # Best of the rounds beside the median: a round slowed by the machine's neighbours
    # only makes a run slower, so the fastest bare against each fastest run is the
    # figure least moved by them (as timeit reports its minimum).
    bare = rows[BARE]
    best_bare = min(bare.seconds)
    print(
        f"{'run':<{width}} {'seconds':>8} {'x bare':>7} {'RTF':>6} {'CPU s':>6} "
        f"{'best s':>7} {'x best':>7}  x bare each round"
    )
    for key, row in rows.items():
        seconds = median(row.seconds)
        used_cpu = f"{median(row.cpu_s):6.1f}" if row.cpu_s else f"{'-':>6}"  # Ray: elsewhere
        ratios = row.ratios(bare)
        each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(
            f"{labels[key]:<{width}} {seconds:8.1f} {median(ratios):7.2f} "
            f"{seconds / audio_s:6.3f} {used_cpu} {min(row.seconds):7.1f} "
            f"{best_bare / min(row.seconds):7.2f}  ({each})"
        )
    print()
    # Both Ray clusters run on this one machine (two nodes share its cores), so
    # capacity is per machine-hour: a node = a machine like this one.
    print(f"capacity ({cores}-core machine = one node; median seconds):")
    hours_per_day = CALLS_PER_DAY * CALL_S / 3600
    for row in rows.values():
        per_node_hour = audio_s / median(row.seconds)  # hours of audio per node-hour
        needed = hours_per_day / (24 * per_node_hour)
        print(
            f"  {row.name:<60} {per_node_hour:6.1f} h audio / node-hour; "
            f"{CALLS_PER_DAY} x {CALL_S / 60:.0f}-min calls a day: {needed:.1f} nodes"
        )


def print_wer(measured: Round) -> None:
    bare_wer = wer(measured.bare_texts)
    mean = lambda d: sum(d.values()) / len(d)  # noqa: E731
    print("WER on ../shared/audio (goal: callqa <= bare + 0.02):")
    for name, rates in {"bare": bare_wer, **measured.local_wer}.items():
        clips = "  ".join(f"{clip} {rate:.3f}" for clip, rate in rates.items())
        mark = " (product default)" if name == DEFAULT_VARIANT else ""
        print(f"  {name + mark:<40} mean {mean(rates):.3f}   {clips}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--calls", type=int, default=4, help="synthetic calls besides the real clips"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray clusters")
    parser.add_argument(
        "--variants",
        choices=("all", "default"),
        default="all",
        help="all: every kept setting variant beside the product default; default: only it",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of every run, one after the other; the table gives medians (bare "
        "faster-whisper on both cores swings with the machine's load: one round can be off)",
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items = corpus(work / "in", args.calls)
        audio_s = sum(decode(path).duration_s for path, _ in items)
        settings = load_settings(work / "local", env={})
        model_dir = resolve_model(settings.model, settings.model_cache_dir)
        print(
            f"corpus: {len(items)} calls, {audio_s:.1f} s of audio; model {settings.model}; "
            f"{cores} cores; {args.repeat} round(s)"
        )
        rows: dict[str, Row] = {}
        measured = Round()
        for index in range(max(1, args.repeat)):
            measured = one_round(work / f"round-{index}", items, str(model_dir), args, rows)
            bare = rows[BARE]
            ratios = ", ".join(
                f"{key} {row.ratios(bare)[-1]:.2f}x" for key, row in rows.items() if key != BARE
            )
            print(f"round {index + 1}: bare {bare.seconds[-1]:.1f} s; {ratios}", flush=True)
        print()
        print_table(rows, audio_s, cores)
        print(f"time by stage, local default, last round (summed over workers): {measured.stages}")
        print()
        print_wer(measured)


if __name__ == "__main__":
    main()
