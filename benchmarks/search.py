"""Search latency over many calls' redacted segments, on SQLite (FTS5) and PostgreSQL.

Fills a fresh workspace with synthetic processed calls (bulk inserts, no models):
``--segments`` segments a call of French (85 %) or English template sentences, with
words of several frequencies — common (in most calls), medium (about 1 call in 100),
rare (about 1 in 10 000) — 1 % of calls objected, 3 % past retention. Then times
``analytics.store.search.search`` (the governed query the CLI and dashboard run:
visible calls only, 50 newest hits) for a common word, a medium word, a rare word,
a phrase, a prefix, a word with a team filter and a word no call has: the median of
five runs after one warm-up, in ms, and the database size; then the time of one
objection (on SQLite it merges the whole FTS5 index). Target: ≤ 1 s at 2 million
calls. ``--backend postgresql`` starts a PostgreSQL server of the Debian package
(tests/postgres_server.py, 127.0.0.1 only).

    python benchmarks/search.py [--calls 20000] [--segments 8] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
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

from analytics import governance  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.insights.text import index_terms  # noqa: E402
from analytics.store import Store, iso  # noqa: E402
from analytics.store.reads import CallFilter  # noqa: E402
from analytics.store.schema import calls, objections, segments  # noqa: E402
from analytics.store.search import add_documents, search  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TEAMS = [f"{c}-{n}" for c in ("Niort", "Lyon", "Lille", "Nantes", "Paris") for n in (1, 2, 3, 4)]
FR = (
    "bonjour <PERSON> à votre écoute que puis-je faire pour vous",
    "ma voiture est en panne sur l'autoroute près de <LOCATION>",
    "je vais vous envoyer une dépanneuse dans l'heure",
    "pouvez-vous me donner votre numéro de contrat s'il vous plaît",
    "je voudrais savoir si mon assurance couvre le remorquage",
    "je vous mets en attente un instant merci de patienter",
    "votre dossier est enregistré sous le numéro <CLAIM_NUMBER>",
    "je vous rappelle demain matin pour le suivi au revoir",
)
EN = (
    "hello <PERSON> speaking how can I help you today",
    "my car broke down on the motorway near <LOCATION>",
    "a tow truck will be with you within the hour",
    "could you give me your policy number please",
    "I would like to know whether my cover includes towing",
    "I will put you on hold for a moment thank you",
    "your claim is registered under number <CLAIM_NUMBER>",
    "I will call you back tomorrow morning goodbye",
)
MEDIUM = ("franchise", "expertise", "carrosserie", "pare-brise")  # ~1 call in 100 each
RARE = ("quokkazanzibar", "frumplewitz")  # ~1 call in 10 000 each
BATCH = 5000


def _rows(n: int, per_call: int, rng: random.Random, start: int = 0) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"calls": [], "segments": [], "docs": []}
    doc_id = start * per_call
    for i in range(start, start + n):
        call_id = f"s-{i:07d}"
        age = rng.uniform(0, 180) if rng.random() > 0.03 else rng.uniform(190, 260)
        started = NOW - timedelta(days=age, seconds=rng.randint(0, 3600))
        lang = "fr" if rng.random() < 0.85 else "en"
        out["calls"].append(
            {
                "call_id": call_id,
                "state": "done",
                "started_at": iso(started),
                "agent_id": f"A{100 + i % 300}",
                "team": TEAMS[i % len(TEAMS)],
                "language": lang,
                "duration_s": 8.0 * per_call,
                "audio_sha256": f"sha-{call_id}",
                "attempts": 1,
                "imported_at": iso(started),
                "processed_at": iso(started),
            }
        )
        sentences = FR if lang == "fr" else EN
        for idx in range(per_call):
            text_ = sentences[(idx + rng.randint(0, 2)) % len(sentences)]
            if rng.random() < 0.01 / per_call * len(MEDIUM):
                text_ += " " + rng.choice(MEDIUM)
            if rng.random() < 0.0001 / per_call * len(RARE):
                text_ += " " + rng.choice(RARE)
            doc_id += 1
            out["segments"].append(
                {
                    "call_id": call_id,
                    "idx": idx,
                    "speaker": "agent" if idx % 2 == 0 else "customer",
                    "start_s": idx * 8.0,
                    "end_s": idx * 8.0 + 7.0,
                    "text": text_,
                }
            )
            out["docs"].append(
                {
                    "doc_id": doc_id,
                    "call_id": call_id,
                    "idx": idx,
                    "terms": index_terms(text_, lang),
                }
            )
    return out


def fill(store: Store, n: int, per_call: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    began = time.perf_counter()
    chunk = 20_000
    for start in range(0, n, chunk):
        rows = _rows(min(chunk, n - start), per_call, rng, start)
        with store.write() as conn:
            for key, table in (("calls", calls), ("segments", segments)):
                for i in range(0, len(rows[key]), BATCH):
                    conn.execute(insert(table), rows[key][i : i + BATCH])
            for i in range(0, len(rows["docs"]), BATCH):
                add_documents(conn, rows["docs"][i : i + BATCH])
            objected = rng.sample([r["call_id"] for r in rows["calls"]], len(rows["calls"]) // 100)
            conn.execute(
                insert(objections),
                [{"call_id": cid, "filed_at": iso(NOW), "actor": "bench"} for cid in objected],
            )
        print(f"  filled {start + len(rows['calls'])} calls", file=sys.stderr, flush=True)
    return time.perf_counter() - began


QUERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("common word", "contrat", {}),
    ("common word, one team", "voiture", {"flt": CallFilter(team="Lyon-2")}),
    (
        "common word, customer, 30 days",
        "panne",
        {"speaker": "customer", "flt": CallFilter(since=NOW - timedelta(days=30))},
    ),
    (
        "common word, one agent, 7 days",
        "contrat",
        {"flt": CallFilter(agent="A117", since=NOW - timedelta(days=7))},
    ),
    ("medium word", "carrosserie", {}),
    ("rare word", "quokkazanzibar", {}),
    ("phrase", '"numéro de contrat"', {}),
    ("prefix", "dépann*", {}),
    ("two words", "assurance remorquage", {}),
    ("no hit", "zzzabsentword", {}),
)


def time_queries(store: Store) -> list[tuple[str, float, int]]:
    results = []
    for label, query, kwargs in QUERIES:
        search(store, query, NOW, **kwargs)
        times = []
        for _ in range(5):
            began = time.perf_counter()
            hits = search(store, query, NOW, **kwargs)
            times.append(time.perf_counter() - began)
        results.append((label, statistics.median(times) * 1000, len(hits)))
    return results


def size_of(store: Store) -> int:
    if store.backend == "sqlite":
        path = store.settings.db_path
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with store.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())


def run(backend: str, n: int, per_call: int, folder: Path) -> None:
    server = None
    env: dict[str, str] = {}
    if backend == "postgresql":
        import postgres_server

        server = postgres_server.start(folder / "pg")
        env["CALLQA_DATABASE_URL"] = server.new_database()
    try:
        settings = load_settings(folder / f"ws-{backend}", env=env)
        with Store.open(settings) as store:
            fill_s = fill(store, n, per_call)
            if backend == "postgresql":
                with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql("VACUUM ANALYZE")
            else:
                with store.write() as conn:
                    conn.exec_driver_sql("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
                    conn.exec_driver_sql("ANALYZE")
                store.checkpoint()
            print(
                f"{backend}: {n} calls, {n * per_call} segments, filled in {fill_s:.0f} s, "
                f"database {size_of(store) / 2**20:.0f} MiB"
            )
            for label, ms, hits in time_queries(store):
                print(f"  {label:34s} {ms:8.1f} ms  ({hits} hits)")
            # An objection deletes the call's index entries; on SQLite the checkpoint
            # after it merges the whole FTS5 index so the words leave the file.
            began = time.perf_counter()
            governance.object_calls(store, call_id="s-0000001", now=NOW, actor="bench")
            print(
                f"  {'objection (delete + index merge)':34s} {(time.perf_counter() - began) * 1000:8.1f} ms"
            )
    finally:
        if server is not None:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=8, help="segments per call")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    os.environ.pop("CALLQA_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="callqa-search-bench-") as tmp:
        os.chmod(tmp, 0o755)  # the PostgreSQL server runs as its own user
        for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
            run(backend, args.calls, args.segments, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
