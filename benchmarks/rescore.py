"""Rescoring speed: `callqa rescore` over many processed calls.

Fills a fresh SQLite workspace with N synthetic processed calls (bulk executemany,
no models: quality figures with the full rubric breakdown, phrase evidence, an abuse
row), then times :func:`analytics.evaluations.automatic.rescore` under the default form
twice: the first pass over calls without an evaluation, the second one replacing the
current evaluation of every call (the history case). Prints calls per second.

    python benchmarks/rescore.py [--calls 100000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics.config import load_settings  # noqa: E402
from analytics.evaluations import automatic  # noqa: E402
from analytics.quality import RUBRIC_ITEMS, QualityConfig  # noqa: E402
from analytics.store import Store, iso  # noqa: E402
from analytics.store.schema import abuse, call_evidence, calls, quality  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _fill(store: Store, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    weights = dict(QualityConfig.default().weights)
    chunk = 5000
    for start in range(0, n, chunk):
        call_rows, quality_rows, abuse_rows, evidence_rows = [], [], [], []
        for i in range(start, min(n, start + chunk)):
            call_id = f"call-{i:07d}"
            started = NOW - timedelta(minutes=rng.randrange(60 * 24 * 170))
            call_rows.append(
                {
                    "call_id": call_id,
                    "state": "done",
                    "started_at": iso(started),
                    "agent_id": f"A{rng.randrange(300):03d}",
                    "team": f"T{rng.randrange(20):02d}",
                    "audio_sha256": f"sha-{i}",
                    "attempts": 1,
                }
            )
            breakdown = [
                {
                    "name": item,
                    "weight": weights[item],
                    "earned": round(weights[item] * rng.choice((0.0, 0.5, 1.0)), 2),
                    "reason": "synthetic",
                }
                for item in RUBRIC_ITEMS
            ]
            quality_rows.append(
                {
                    "call_id": call_id,
                    "score": rng.randrange(101),
                    "interruptions": rng.randrange(5),
                    "agent_wpm": rng.uniform(90, 210),
                    "longest_silence_s": rng.uniform(0, 40),
                    "breakdown_json": json.dumps(breakdown),
                }
            )
            flagged = rng.random() < 0.03
            abuse_rows.append(
                {
                    "call_id": call_id,
                    "flagged": flagged,
                    "severity": "high" if flagged else "none",
                    "reviewed": False,
                }
            )
            evidence_rows.append(
                {"call_id": call_id, "evidence_json": json.dumps({"greeting": [0], "closing": [9]})}
            )
        with store.write() as conn:
            conn.execute(insert(calls), call_rows)
            conn.execute(insert(quality), quality_rows)
            conn.execute(insert(abuse), abuse_rows)
            conn.execute(insert(call_evidence), evidence_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callqa-rescore-") as tmp:
        settings = load_settings(Path(tmp) / "home", env={})
        with Store.open(settings) as store:
            started = time.perf_counter()
            _fill(store, args.calls)
            print(f"filled {args.calls} calls in {time.perf_counter() - started:.1f} s")
            for label in ("first evaluation", "rescore (history kept)"):
                started = time.perf_counter()
                report = automatic.rescore(store, "default@1", now=NOW, batch_size=args.batch)
                elapsed = time.perf_counter() - started
                print(
                    f"{label}: {report.calls} calls in {elapsed:.1f} s = "
                    f"{report.calls / elapsed:.0f} calls/s"
                )


if __name__ == "__main__":
    main()
