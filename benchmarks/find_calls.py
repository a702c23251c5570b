"""Find calls at scale: a page of the governed call list over many calls.

Fills a fresh SQLite workspace with N synthetic processed calls (bulk executemany:
quality, abuse, one current evaluation each; a few objected and held so the governed
predicate has work), then times one page (50 rows, with the capped match count) for
the dashboard's usual queries: newest first, an agent's calls, a score range, sorted
by score, flagged calls, open disputes, the 100th page. Prints milliseconds per page.

    python benchmarks/find_calls.py [--calls 2000000]
"""

from __future__ import annotations

import argparse
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
from analytics.store import Store, iso  # noqa: E402
from analytics.store.evaluations import MAX_COUNT, CallQuery, find_calls  # noqa: E402
from analytics.store.schema import abuse, calls, evaluations, holds, objections, quality  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _fill(store: Store, n: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    chunk = 20_000
    for start in range(0, n, chunk):
        rows: dict[str, list[dict[str, object]]] = {"c": [], "q": [], "a": [], "e": []}
        for i in range(start, min(n, start + chunk)):
            call_id = f"call-{i:08d}"
            score = rng.randrange(101)
            rows["c"].append(
                {
                    "call_id": call_id,
                    "state": "done",
                    "started_at": iso(NOW - timedelta(seconds=rng.randrange(170 * 86400))),
                    "agent_id": f"A{rng.randrange(2000):04d}",
                    "team": f"T{rng.randrange(60):02d}",
                    "audio_sha256": f"sha-{i}",
                    "attempts": 1,
                }
            )
            rows["q"].append({"call_id": call_id, "score": score, "breakdown_json": "[]"})
            flagged = rng.random() < 0.02
            rows["a"].append(
                {
                    "call_id": call_id,
                    "flagged": flagged,
                    "severity": "high" if flagged else "none",
                    "reviewed": False,
                }
            )
            rows["e"].append(
                {
                    "evaluation_id": f"e{i:08d}",
                    "call_id": call_id,
                    "form_name": "default",
                    "form_version": 1,
                    "current": True,
                    "created_at": iso(NOW),
                    "created_by": "bench",
                    "automatic_score": float(score),
                    "final_score": float(score),
                    "status": rng.choice(("automatic",) * 20 + ("reviewed", "disputed")),
                }
            )
        with store.write() as conn:
            conn.execute(insert(calls), rows["c"])
            conn.execute(insert(quality), rows["q"])
            conn.execute(insert(abuse), rows["a"])
            conn.execute(insert(evaluations), rows["e"])
    with store.write() as conn:
        for i in range(0, n, max(1, n // 200)):
            conn.execute(insert(objections).values(call_id=f"call-{i:08d}", filed_at=iso(NOW)))
        for i in range(1, n, max(1, n // 100)):
            conn.execute(
                insert(holds).values(call_id=f"call-{i:08d}", reason="bench", held_at=iso(NOW))
            )
        conn.exec_driver_sql("ANALYZE")


QUERIES = {
    "newest first": CallQuery(),
    "one agent": CallQuery(agent="A0042"),
    "team + score 40-60": CallQuery(team="T07", min_score=40, max_score=60),
    "sorted by score": CallQuery(sort="score"),
    "sorted by final score": CallQuery(sort="final_score"),
    "flagged": CallQuery(flagged=True),
    "disputed status": CallQuery(status="disputed"),
    "page 100": CallQuery(offset=99 * 50),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callqa-find-") as tmp:
        settings = load_settings(Path(tmp) / "home", env={})
        with Store.open(settings) as store:
            started = time.perf_counter()
            _fill(store, args.calls)
            print(f"filled {args.calls:,} calls in {time.perf_counter() - started:.0f} s")
            for label, query in QUERIES.items():
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    rows, total = find_calls(store, NOW, query)
                    times.append(time.perf_counter() - started)
                shown = f"{total:,}" if total <= MAX_COUNT else f"{MAX_COUNT:,}+"
                print(f"{label:24s} {1000 * min(times):8.1f} ms  ({len(rows)} rows, {shown} match)")


if __name__ == "__main__":
    main()
