"""Find calls at scale: a page of the governed call list over many calls.

Fills a fresh workspace (SQLite, or PostgreSQL on a throwaway server on 127.0.0.1:
``tests/postgres_server.py``) with N synthetic processed calls by bulk inserts —
executemany on SQLite, COPY on PostgreSQL, the secondary indexes built after the rows:
quality, abuse, one current evaluation each, an open dispute on each disputed one; a
few objected and held so the governed predicate has work. Then times one page (50
rows, with the capped match count) for the dashboard's usual queries: newest first,
an agent's calls, a team and score range, sorted by score, flagged calls, an
evaluation status, open disputes, the 100th page. Prints milliseconds per page (best
of ``--repeat``) and the load average. Target: ≤ 1 s a page (a filter change).
SQLite is not ANALYZEd (a workspace never is); PostgreSQL is, as autovacuum would.

    python benchmarks/find_calls.py [--calls 2000000] [--backend sqlite|postgresql]
        [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bulk import insert_rows  # noqa: E402

from analytics.config import load_settings  # noqa: E402
from analytics.store import Store, iso  # noqa: E402
from analytics.store.evaluations import MAX_COUNT, CallQuery, find_calls  # noqa: E402
from analytics.store.schema import holds, objections  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CHUNK = 50_000  # calls a transaction
TABLES = ("calls", "quality", "abuse", "evaluations", "disputes")
COLUMNS = {
    "calls": ("call_id", "state", "started_at", "agent_id", "team", "audio_sha256", "attempts"),
    "quality": ("call_id", "score", "breakdown_json"),
    "abuse": ("call_id", "flagged", "severity", "reviewed"),
    "evaluations": ("evaluation_id", "call_id", "form_name", "form_version", "current",
                    "created_at", "created_by", "automatic_score", "final_score", "status"),
    "disputes": ("evaluation_id", "call_id", "agent_user", "comment", "status", "filed_at"),
}  # fmt: skip
STATUSES = ("automatic",) * 20 + ("reviewed", "disputed")


def _chunk(first: int, n: int, rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    now = iso(NOW)
    for i in range(first, first + n):
        call_id = f"call-{i:08d}"
        score = rng.randrange(101)
        started = iso(NOW - timedelta(seconds=rng.randrange(170 * 86400)))
        agent, team = f"A{rng.randrange(2000):04d}", f"T{rng.randrange(60):02d}"
        rows["calls"].append((call_id, "done", started, agent, team, f"sha-{i}", 1))
        rows["quality"].append((call_id, score, "[]"))
        flagged = rng.random() < 0.02
        rows["abuse"].append((call_id, flagged, "high" if flagged else "none", False))
        status = rng.choice(STATUSES)
        evaluation = f"e{i:08d}"
        rows["evaluations"].append(
            (evaluation, call_id, "default", 1, True, now, "bench", float(score), float(score),
             status)
        )  # fmt: skip
        if status == "disputed":
            rows["disputes"].append((evaluation, call_id, agent, "bench", "open", now))
    return rows


def _secondary_indexes(conn: Any, backend: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the filled tables' indexes that no constraint needs."""
    names = ", ".join(f"'{t}'" for t in TABLES)
    if backend == "sqlite":
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({names})"
        )
    else:
        query = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            f" AND tablename IN ({names}) AND indexname NOT IN"
            " (SELECT conname FROM pg_constraint)"
        )
    return [(str(name), str(sql)) for name, sql in conn.exec_driver_sql(query).all()]


def fill(store: Store, n: int, seed: int = 11) -> dict[str, float]:
    """Bulk insert ``n`` calls; returns the seconds of the rows and of the indexes."""
    rng = random.Random(seed)
    backend = store.backend
    began = time.perf_counter()
    with store.write() as conn:
        indexes = _secondary_indexes(conn, backend)
        for name, _sql in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    for first in range(0, n, CHUNK):
        rows = _chunk(first, min(CHUNK, n - first), rng)
        with store.write() as conn:
            raw = conn.connection.dbapi_connection
            if backend == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FKs
            for table in TABLES:
                insert_rows(raw, backend, table, COLUMNS[table], rows[table])
        if (first // CHUNK) % 10 == 9:
            print(f"  filled {first + CHUNK:,} calls", file=sys.stderr, flush=True)
    times = {"rows_s": time.perf_counter() - began}
    began = time.perf_counter()
    with store.write() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        for _name, sql in indexes:
            conn.exec_driver_sql(sql)
        for i in range(0, n, max(1, n // 200)):
            conn.execute(insert(objections).values(call_id=f"call-{i:08d}", filed_at=iso(NOW)))
        for i in range(1, n, max(1, n // 100)):
            conn.execute(
                insert(holds).values(call_id=f"call-{i:08d}", reason="bench", held_at=iso(NOW))
            )
    times["indexes_s"] = time.perf_counter() - began
    if backend == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does after a bulk load
    else:  # no ANALYZE: a workspace never runs it, so the planner works without statistics
        store.checkpoint()
    return times


QUERIES = {
    "newest first": CallQuery(),
    "one agent": CallQuery(agent="A0042"),
    "team + score 40-60": CallQuery(team="T07", min_score=40, max_score=60),
    "sorted by score": CallQuery(sort="score"),
    "sorted by final score": CallQuery(sort="final_score"),
    "flagged": CallQuery(flagged=True),
    "disputed status": CallQuery(status="disputed"),
    "open dispute": CallQuery(disputed=True),
    "page 100": CallQuery(offset=99 * 50),
}


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def measure(store: Store, repeat: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label, query in QUERIES.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            rows, total = find_calls(store, NOW, query)
            times.append(time.perf_counter() - started)
        shown = f"{total:,}" if total <= MAX_COUNT else f"{MAX_COUNT:,}+"
        figures[label] = min(times)
        verdict = "ok" if min(times) <= 1.0 else "OVER TARGET"
        print(
            f"  {label:24s} first {1000 * times[0]:8.1f} ms  best {1000 * min(times):8.1f} ms"
            f"  ({len(rows)} rows, {shown} match; {verdict})  [{_load()}]",
            flush=True,
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--keep", type=Path, help="build the SQLite workspace here and keep it")
    parser.add_argument("--reuse", action="store_true", help="reuse the --keep workspace")
    args = parser.parse_args()
    if args.backend == "postgresql" and (args.keep or args.reuse):
        parser.error("--keep/--reuse: SQLite only (the PostgreSQL server is thrown away)")
    tmp = Path(tempfile.mkdtemp(prefix="callqa-find-"))
    home = args.keep or tmp / "home"
    reuse = args.reuse and (home / "callqa.db").exists()
    if not reuse and home.exists():
        shutil.rmtree(home)
    server = None
    env: dict[str, str] = {}
    try:
        if args.backend == "postgresql":
            import postgres_server

            folder = Path(tempfile.mkdtemp(prefix="callqa-find-pg-"))  # chowned to postgres
            server = postgres_server.start(folder, extra=("shared_buffers=1GB", "work_mem=64MB"))
            env["CALLQA_DATABASE_URL"] = server.new_database()
        with Store.open(load_settings(home, env=env)) as store:
            print(f"{args.backend}, {args.calls:,} calls [{_load()}]", flush=True)
            if not reuse:
                times = fill(store, args.calls)
                print(
                    f"filled in {times['rows_s']:.0f} s (rows), {times['indexes_s']:.0f} s"
                    f" (indexes) [{_load()}]",
                    flush=True,
                )
            print("a page of 50 and the capped count (target ≤ 1 s):")
            measure(store, args.repeat)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
