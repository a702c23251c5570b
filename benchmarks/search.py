"""Search latency over many calls' redacted segments, on SQLite (FTS5) and PostgreSQL.

Fills a fresh workspace with synthetic processed calls (bulk inserts, no models):
``--segments`` segments a call of French (85 %) or English template sentences, with
words of several frequencies — common (in most calls), medium (about 1 call in 100),
rare (about 1 in 10 000) — 1 % of calls objected, 3 % past retention. Then times
``analytics.store.search.search`` (the governed query the CLI and dashboard run:
visible calls only, 50 newest hits) for a common word, a medium word, a rare word,
a phrase, a prefix, a word with a team filter and a word no call has: the median of
five runs after one warm-up, in ms, and the database size; then the time of one
objection (SQLite merges one FTS5 shard, PostgreSQL rewrites one partition).
Target: ≤ 1 s at 2 million calls. ``--backend postgresql`` starts a PostgreSQL server of the Debian package
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

import numpy as np
from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from bulk import insert_rows  # noqa: E402

from analytics import governance  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.insights.text import index_terms, stem  # noqa: E402
from analytics.store import Store, iso  # noqa: E402
from analytics.store.reads import CallFilter  # noqa: E402
from analytics.store.schema import objections  # noqa: E402
from analytics.store.search import add_bulk_terms, bulk_add_terms, optimize, search  # noqa: E402

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
SYLLABLES = ("ba", "ko", "ri", "tu", "ne", "lo", "mi", "sa", "dor", "vel", "pa", "zu")
CHUNK = 20_000  # calls a transaction
CALL_COLUMNS = (
    "call_id", "state", "started_at", "agent_id", "team", "language", "duration_s",
    "audio_sha256", "attempts", "imported_at", "processed_at",
)  # fmt: skip
SEGMENT_COLUMNS = ("call_id", "idx", "speaker", "start_s", "end_s", "text")


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Made-up words (three or four syllables), drawn with Zipf weights: each segment
    gets one, so the index holds a long tail of words as real speech does."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((3, 4)))))
    return sorted(words)


class Generator:
    """Rows of calls ``first .. first + n - 1``: tuples for bulk inserts, the search
    documents' stems made once per template and once per made-up word (numpy draws)."""

    def __init__(self, per_call: int, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.per_call = per_call
        self.vocab = _vocabulary(random.Random(seed))
        weights = np.array([1 / (rank + 1) for rank in range(len(self.vocab))])
        self.weights = weights / weights.sum()
        self.word_terms = {lang: [stem(w, lang) for w in self.vocab] for lang in ("fr", "en")}
        self.sentences = {"fr": FR, "en": EN}
        self.template_terms = {
            lang: [index_terms(text_, lang) for text_ in sentences]
            for lang, sentences in self.sentences.items()
        }
        self.extra_terms = {
            (lang, word): index_terms(word, lang) for lang in ("fr", "en") for word in MEDIUM + RARE
        }

    def chunk(self, first: int, n: int, total: int) -> dict[str, list[tuple[Any, ...]]]:
        rng, per_call = self.rng, self.per_call
        out: dict[str, list[tuple[Any, ...]]] = {"calls": [], "segments": [], "docs": []}
        docs = n * per_call
        words = rng.choice(len(self.vocab), size=docs, p=self.weights).tolist()
        medium = (rng.random(docs) < 0.01 / per_call * len(MEDIUM)).tolist()
        medium_word = rng.integers(0, len(MEDIUM), docs).tolist()
        rare = (rng.random(docs) < 0.0001 / per_call * len(RARE)).tolist()
        rare_word = rng.integers(0, len(RARE), docs).tolist()
        # calls are processed as they arrive: ~190 days, the oldest ~4 % past retention
        index = np.arange(first, first + n)
        age_s = (190 * (1 - index / total) + rng.uniform(0, 2, n)) * 86400 + rng.integers(
            0, 3601, n
        )
        french = (rng.random(n) < 0.85).tolist()
        shifts = rng.integers(0, 3, n).tolist()
        now_s = NOW.timestamp()
        doc_id = first * per_call
        for k, i in enumerate(range(first, first + n)):
            call_id = f"s-{i:07d}"
            started = iso(datetime.fromtimestamp(now_s - int(age_s[k]), UTC))
            lang = "fr" if french[k] else "en"
            out["calls"].append(
                (call_id, "done", started, f"A{100 + i % 300}", TEAMS[i % len(TEAMS)], lang,
                 8.0 * per_call, f"sha-{call_id}", 1, started, started)
            )  # fmt: skip
            sentences, template_terms = self.sentences[lang], self.template_terms[lang]
            word_terms, shift = self.word_terms[lang], shifts[k]
            for idx in range(per_call):
                tid = (idx + shift) % len(sentences)
                d = doc_id - first * per_call
                word = words[d]
                text_ = f"{sentences[tid]} {self.vocab[word]}"
                terms = f"{template_terms[tid]} {word_terms[word]}"
                if medium[d]:
                    extra = MEDIUM[medium_word[d]]
                    text_ += " " + extra
                    terms += " " + self.extra_terms[lang, extra]
                if rare[d]:
                    extra = RARE[rare_word[d]]
                    text_ += " " + extra
                    terms += " " + self.extra_terms[lang, extra]
                doc_id += 1
                speaker = "agent" if idx % 2 == 0 else "customer"
                out["segments"].append((call_id, idx, speaker, idx * 8.0, idx * 8.0 + 7.0, text_))
                out["docs"].append((doc_id, call_id, idx, terms))
        return out


FILLED_TABLES = ("calls", "segments", "search_docs")


def _drop_indexes(conn: Any, backend: str) -> list[str]:
    """Drop the secondary indexes of the filled tables; their CREATE statements (made
    again once after the rows: one sort instead of a b-tree insert per row)."""
    if backend == "sqlite":
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN {FILLED_TABLES}"
        ).all()
    else:
        found = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            f" AND (tablename IN {FILLED_TABLES} OR indexname = 'ix_search_terms_tsv')"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).all()
    for name, _sql in found:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    # the partitions' GIN index is made again by add_bulk_terms
    return [sql for name, sql in found if name != "ix_search_terms_tsv"]


def fill(store: Store, n: int, per_call: int, seed: int = 7) -> dict[str, float]:
    """Bulk-load ``n`` calls; the secondary and full-text indexes are built once at the
    end (FTS5 documents inserted in rowid order then merged; the GIN indexes created
    after the rows). SQLite without journal nor fsync, PostgreSQL without foreign-key
    checks: a synthetic fill, not how the product writes. Returns the seconds of each
    part."""
    gen = Generator(per_call, seed)
    backend = store.backend
    times: dict[str, float] = {}
    began = time.perf_counter()
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if backend == "sqlite":
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF",
                           "cache_size = -1000000"):  # fmt: skip
                raw.execute(f"PRAGMA {pragma}")  # outside a transaction: on the driver
        with conn.begin():
            indexes = _drop_indexes(conn, backend)
            if backend == "postgresql":
                conn.exec_driver_sql(
                    "CREATE UNLOGGED TABLE IF NOT EXISTS bench_terms (doc_id integer, terms text)"
                )
        ids: list[str] = []
        for first in range(0, n, CHUNK):
            rows = gen.chunk(first, min(CHUNK, n - first), n)
            with conn.begin():
                if backend == "postgresql":
                    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                insert_rows(raw, backend, "calls", CALL_COLUMNS, rows["calls"])
                insert_rows(raw, backend, "segments", SEGMENT_COLUMNS, rows["segments"])
                insert_rows(raw, backend, "search_docs", ("doc_id", "call_id", "idx"),
                            [d[:3] for d in rows["docs"]])  # fmt: skip
                if backend == "sqlite":
                    bulk_add_terms(conn, [(d[0], d[3]) for d in rows["docs"]])
                else:
                    insert_rows(raw, backend, "bench_terms", ("doc_id", "terms"),
                                [(d[0], d[3]) for d in rows["docs"]])  # fmt: skip
            ids += [row[0] for row in rows["calls"]]
            if (first // CHUNK) % 10 == 9:
                print(f"  filled {first + CHUNK} calls", file=sys.stderr, flush=True)
        times["rows_s"] = time.perf_counter() - began
        began = time.perf_counter()
        with conn.begin():
            if backend == "postgresql":
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                add_bulk_terms(conn, "bench_terms")
                conn.exec_driver_sql("DROP TABLE bench_terms")
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('search_docs', 'doc_id'), "
                    "(SELECT max(doc_id) FROM search_docs))"
                )
            else:
                optimize(conn)
            for sql in indexes:
                conn.exec_driver_sql(sql)
            rng = random.Random(seed + 1)
            conn.execute(
                insert(objections),
                [
                    {"call_id": c, "filed_at": iso(NOW), "actor": "bench"}
                    for c in rng.sample(ids, n // 100)
                ],
            )
        if backend == "sqlite":
            raw.execute("PRAGMA journal_mode = WAL")
    times["index_s"] = time.perf_counter() - began
    began = time.perf_counter()
    if backend == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
        store.checkpoint()
    times["analyze_s"] = time.perf_counter() - began
    return times


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
    (
        "common word, one agent, 7 days 3 mo ago",
        "contrat",
        {
            "flt": CallFilter(
                agent="A117", since=NOW - timedelta(days=97), until=NOW - timedelta(days=90)
            )
        },
    ),
    ("medium word", "carrosserie", {}),
    ("rare word", "quokkazanzibar", {}),
    ("phrase", '"numéro de contrat"', {}),
    ("prefix", "dépann*", {}),
    ("two words", "assurance remorquage", {}),
    ("OR of two medium words", "franchise OR expertise", {}),
    ("OR of two rare words", "quokkazanzibar OR frumplewitz", {}),
    ("no hit", "zzzabsentword", {}),
)


def time_queries(store: Store) -> list[tuple[str, float, float, int]]:
    """(label, first run ms, median of the next five ms, hits) per query: the first run
    reads what the page cache does not hold yet (cold after a restart)."""
    results = []
    for label, query, kwargs in QUERIES:
        began = time.perf_counter()
        search(store, query, NOW, **kwargs)
        first = time.perf_counter() - began
        times = []
        for _ in range(5):
            began = time.perf_counter()
            hits = search(store, query, NOW, **kwargs)
            times.append(time.perf_counter() - began)
        results.append((label, first * 1000, statistics.median(times) * 1000, len(hits)))
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

        server = postgres_server.start(folder / "pg", extra=("shared_buffers=512MB",))
        env["CALLQA_DATABASE_URL"] = server.new_database()
    try:
        settings = load_settings(folder / f"ws-{backend}", env=env)
        with Store.open(settings) as store:
            with store.read() as conn:
                present = conn.exec_driver_sql("SELECT count(*) FROM calls").scalar_one()
            times = {"rows_s": 0.0, "index_s": 0.0, "analyze_s": 0.0}
            if not present:
                times = fill(store, n, per_call)
            print(
                f"{backend}: {n} calls, {n * per_call} segments, rows {times['rows_s']:.0f} s,"
                f" index {times['index_s']:.0f} s, analyze {times['analyze_s']:.0f} s,"
                f" database {size_of(store) / 2**20:.0f} MiB" + (" (reused)" if present else "")
            )
            print(f"  {'query':40s} {'first':>8s}    {'median':>8s}", flush=True)
            for label, first, ms, hits in time_queries(store):
                print(f"  {label:40s} {first:8.1f} ms {ms:8.1f} ms  ({hits} hits)", flush=True)
            # An objection deletes the call's index entries; on SQLite the checkpoint
            # that ends the command merges the FTS5 index so the words leave the file.
            for which, i in (("newest", n - 2), ("middle", n // 2 + 1), ("oldest kept", n // 10)):
                began = time.perf_counter()
                governance.object_calls(store, call_id=f"s-{i:07d}", now=NOW, actor="bench")
                ms = (time.perf_counter() - began) * 1000
                print(f"  {'objection of the ' + which + ' call':40s} {ms:8.1f} ms", flush=True)
    finally:
        if server is not None:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--segments", type=int, default=8, help="segments per call")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--keep",
        type=Path,
        help="fill (or reuse, SQLite) the workspace in this folder and keep it",
    )
    args = parser.parse_args()
    os.environ.pop("CALLQA_DATABASE_URL", None)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        os.chmod(args.keep, 0o755)
        for backend in backends:
            run(backend, args.calls, args.segments, args.keep)
        return 0
    with tempfile.TemporaryDirectory(prefix="callqa-search-bench-") as tmp:
        os.chmod(tmp, 0o755)  # the PostgreSQL server runs as its own user
        for backend in backends:
            run(backend, args.calls, args.segments, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
