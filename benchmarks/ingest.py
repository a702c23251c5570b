"""Ingest throughput: files/s for 1,000 short recordings, against a bare baseline.

Two baselines, measured in the same run on the same files: what any
content-addressed import must do (hash each file with SHA-256 and copy it), and
what any *validating* one must do (the same, plus decoding every frame with PyAV).
``callqa ingest`` also applies the objection and retention gates, flushes the
copies to disk and commits one row per call.

Run: ``python benchmarks/ingest.py [N_FILES] [SECONDS_PER_FILE]`` (default 1000, 2.0).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from analytics.config import load_settings
from analytics.ingest import ingest
from analytics.store import Store


def write_corpus(folder: Path, n_files: int, seconds: float) -> list[Path]:
    """Short 8 kHz mono WAVs (a telephone call's format), written with ``wave``: fast."""
    rng = np.random.default_rng(0)
    rate = 8000
    folder.mkdir(parents=True)
    paths = []
    for i in range(n_files):
        samples = (rng.standard_normal(int(seconds * rate)) * 2000).astype(np.int16)
        path = folder / f"call{i:05d}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(samples.tobytes())
        paths.append(path)
    return paths


def baseline(paths: list[Path], target: Path) -> float:
    """Seconds to hash and copy every file: the floor for any content-addressed import."""
    target.mkdir(parents=True)
    started = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        shutil.copyfile(path, target / f"{digest}.wav")
    return time.perf_counter() - started


def baseline_with_decode(paths: list[Path], target: Path) -> float:
    """Hash, copy and fully decode every file: the floor for a validating import."""
    import av

    target.mkdir(parents=True)
    started = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        shutil.copyfile(path, target / f"{digest}.wav")
        with av.open(str(path)) as container:
            for _frame in container.decode(audio=0):
                pass
    return time.perf_counter() - started


def callqa_ingest(folder: Path, home: Path) -> tuple[float, int]:
    with Store.open(load_settings(home, env={})) as store:
        started = time.perf_counter()
        report = ingest(store, [folder])
        elapsed = time.perf_counter() - started
    assert not report.rejects, report.rejects[:3]
    return elapsed, len(report.imported)


def main() -> None:
    n_files = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    with tempfile.TemporaryDirectory(prefix="callqa-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        paths = write_corpus(root / "corpus", n_files, seconds)
        print(f"wrote {n_files} files of {seconds:.1f} s in {time.perf_counter() - started:.1f} s")
        base_s = baseline(paths, root / "baseline")
        decode_s = baseline_with_decode(paths, root / "baseline-decode")
        ingest_s, imported = callqa_ingest(root / "corpus", root / "home")
        again_s, _ = callqa_ingest(root / "corpus", root / "home")  # all already imported
    assert imported == n_files
    base_rate, ingest_rate, again_rate = n_files / base_s, n_files / ingest_s, n_files / again_s
    decode_rate = n_files / decode_s
    print(f"baseline sha256+copy : {base_rate:8.0f} files/s ({base_s:.2f} s)")
    print(f"  + decode (PyAV)    : {decode_rate:8.0f} files/s ({decode_s:.2f} s)")
    print(f"callqa ingest        : {ingest_rate:8.0f} files/s ({ingest_s:.2f} s)")
    print(f"callqa re-ingest     : {again_rate:8.0f} files/s ({again_s:.2f} s, all known)")
    print(f"ingest / baseline    : {ingest_rate / base_rate:.2f}x")
    print(f"ingest / +decode     : {ingest_rate / decode_rate:.2f}x")


if __name__ == "__main__":
    main()
