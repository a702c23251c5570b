"""Search across redacted transcripts: SQLite FTS5, or PostgreSQL full-text search.

One document per redacted segment (``search_docs``). Its stems (French or English
Snowball stems by the call's language, folded: :func:`analytics.insights.text.index_terms`)
are indexed by the backend's own engine: an FTS5 table ``search_fts`` (rowid = doc_id,
tokenizer unicode61 with diacritics removed) on SQLite, a ``tsvector`` column with a
GIN index (the ``simple`` configuration: the stems are already made) on PostgreSQL.
Stemming the same way on both makes a query find the same segments on both.

Governed like every read: a query returns only segments of visible calls
(:func:`analytics.store.policy.visible`), and a call's documents are deleted with its
other derived rows (:func:`delete_call`, from ``writes.delete_derived``). On SQLite an
FTS5 delete only adds a tombstone to the index; :meth:`Store.checkpoint` after a
deletion merges the index (``optimize``) so the deleted terms leave the file, whose
freed pages ``secure_delete`` overwrites.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, column, delete, func, insert, select, table, text
from sqlalchemy.engine import Connection

from analytics.errors import UsageError
from analytics.insights.text import Term, highlight, index_terms, parse_query, stem_language
from analytics.models import RedactedSegment
from analytics.store.core import Store
from analytics.store.policy import visible
from analytics.store.reads import CallFilter, apply_filter
from analytics.store.schema import (
    SEARCH_SHARD_GLOB,
    calls,
    create_search_shard,
    search_docs,
    search_shard,
    search_shard_table,
    segments,
)

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
SpeakerFilter = Literal["agent", "customer", "unknown"]


@dataclass(frozen=True)
class SearchHit:
    """One matching segment of a visible call, cut into (piece, matched) fragments."""

    call_id: str
    idx: int
    speaker: str
    start: float
    end: float
    started_at: str
    agent_id: str | None
    team: str | None
    language: str | None
    fragments: tuple[tuple[str, bool], ...] = field(repr=False)

    @property
    def text(self) -> str:
        return "".join(piece for piece, _ in self.fragments)


# --- writes ---------------------------------------------------------------------------------


def index_call(
    conn: Connection, call_id: str, language: str | None, segs: Sequence[RedactedSegment]
) -> None:
    """Index the redacted segments of one call (in the caller's transaction)."""
    if not segs:
        return
    conn.execute(insert(search_docs), [{"call_id": call_id, "idx": i} for i in range(len(segs))])
    ids = dict(
        conn.execute(
            select(search_docs.c.idx, search_docs.c.doc_id).where(search_docs.c.call_id == call_id)
        ).all()
    )
    rows = [
        {"doc_id": ids[i], "terms": index_terms(seg.text, language)} for i, seg in enumerate(segs)
    ]
    _add_terms(conn, rows)


def _by_shard(doc_ids: Sequence[int]) -> dict[int, list[int]]:
    shards: dict[int, list[int]] = {}
    for doc_id in doc_ids:
        shards.setdefault(search_shard(doc_id), []).append(doc_id)
    return shards


def _add_terms(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if conn.dialect.name == "sqlite":
        bulk_add_terms(conn, [(row["doc_id"], row["terms"]) for row in rows])
    else:
        conn.execute(
            text(
                "UPDATE search_docs SET tsv = to_tsvector('simple', :terms) WHERE doc_id = :doc_id"
            ),
            rows,
        )


def add_documents(conn: Connection, docs: Sequence[dict[str, Any]]) -> None:
    """Bulk-index documents of stored segments: ``doc_id``, ``call_id``, ``idx``, ``terms``
    each (``terms`` from :func:`analytics.insights.text.index_terms`). For bulk loads
    (benchmarks); the pipeline indexes through ``save_analysis``."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            insert(search_docs), [{k: d[k] for k in ("doc_id", "call_id", "idx")} for d in docs]
        )
        _add_terms(conn, docs)
        return
    conn.execute(
        text(
            "INSERT INTO search_docs (doc_id, call_id, idx, tsv) "
            "VALUES (:doc_id, :call_id, :idx, to_tsvector('simple', :terms))"
        ),
        docs,
    )
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('search_docs', 'doc_id'), "
            "(SELECT max(doc_id) FROM search_docs))"
        )
    )


def bulk_add_terms(conn: Connection, pairs: Sequence[tuple[int, str]]) -> None:
    """Add (doc_id, terms) pairs of stored ``search_docs`` rows to the SQLite FTS5 index,
    on the raw driver (bulk loads: benchmarks)."""
    terms = dict(pairs)
    raw: Any = conn.connection.dbapi_connection
    for shard, doc_ids in _by_shard(list(terms)).items():
        name = create_search_shard(conn, shard)
        raw.executemany(
            f"INSERT INTO {name} (rowid, terms) VALUES (?, ?)", [(d, terms[d]) for d in doc_ids]
        )


def delete_call(conn: Connection, call_id: str) -> int:
    """Delete a call's documents; the number deleted."""
    dirty: set[int] = set()
    if conn.dialect.name == "sqlite":
        doc_ids = conn.execute(
            select(search_docs.c.doc_id).where(search_docs.c.call_id == call_id)
        ).scalars()
        for shard, ids in _by_shard(list(doc_ids)).items():
            conn.execute(
                text(
                    f"DELETE FROM {search_shard_table(shard)} "
                    "WHERE rowid IN (SELECT value FROM json_each(:ids))"
                ),
                {"ids": json.dumps(ids)},
            )
            dirty.add(shard)
    deleted = conn.execute(delete(search_docs).where(search_docs.c.call_id == call_id)).rowcount
    owner = conn.info.get("callqa.store")
    if dirty and owner is not None:
        owner.search_dirty |= dirty  # these shards are merged at the next checkpoint
    return int(deleted or 0)


def reindex_call(conn: Connection, call_id: str) -> None:
    """Index a call again from its stored segments (its language was rectified)."""
    delete_call(conn, call_id)
    language = conn.execute(
        select(calls.c.language).where(calls.c.call_id == call_id)
    ).scalar_one_or_none()
    rows = conn.execute(
        select(segments).where(segments.c.call_id == call_id).order_by(segments.c.idx)
    ).mappings()
    segs = [
        RedactedSegment(speaker=r["speaker"], start=r["start_s"], end=r["end_s"], text=r["text"])
        for r in rows
    ]
    index_call(conn, call_id, language, segs)


def shards(conn: Connection) -> list[int]:
    """The FTS5 shards of the index, newest first (SQLite)."""
    names = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB :g"),
        {"g": SEARCH_SHARD_GLOB},
    ).scalars()
    return sorted((int(name.rsplit("_", 1)[1]) for name in names), reverse=True)


def optimize(conn: Connection, only: Iterable[int] | None = None) -> None:
    """Merge each FTS5 shard (or these) into one b-tree: its deleted terms leave the
    file (SQLite). A shard's cost grows with the shard, not with the whole index."""
    if conn.dialect.name != "sqlite":
        return
    present = set(shards(conn))
    for shard in sorted(present if only is None else present & set(only)):
        name = search_shard_table(shard)
        conn.execute(text(f"INSERT INTO {name} ({name}) VALUES ('optimize')"))


# --- queries --------------------------------------------------------------------------------


def _languages(language: str | None) -> tuple[str | None, ...]:
    code = stem_language(language)
    return (code,) if code else ("fr", "en")


def fts5_query(terms: Sequence[Term], languages: tuple[str | None, ...]) -> str:
    """An FTS5 MATCH expression; every operand is a quoted string of word characters."""

    def group(term: Term) -> str:
        options = []
        for leaf in term.leaves():
            for option in leaf.alternatives(languages):
                quoted = '"' + " ".join(option) + '"'
                options.append(quoted + "*" if leaf.kind == "prefix" else quoted)
        return "(" + " OR ".join(options) + ")"

    positive = [group(t) for t in terms if not t.negated]
    negative = [group(t) for t in terms if t.negated]
    return " AND ".join(positive) + "".join(f" NOT {g}" for g in negative)


def tsquery(terms: Sequence[Term], languages: tuple[str | None, ...]) -> str:
    """A ``to_tsquery('simple', ...)`` expression, built from word characters only."""

    def group(term: Term) -> str:
        options = []
        for leaf in term.leaves():
            for option in leaf.alternatives(languages):
                if leaf.kind == "prefix":
                    options.append(f"{option[0]}:*")
                else:
                    options.append("(" + " <-> ".join(option) + ")")
        return "(" + " | ".join(options) + ")"

    parts = [group(t) for t in terms if not t.negated]
    parts += ["!" + group(t) for t in terms if t.negated]
    return " & ".join(parts)


Plan = Literal["auto", "index", "filter"]
# The filter-first plan probes the index once per document the filter keeps (~100 µs
# each); the index-first plan walks about limit / share matches of a common word
# (~5 µs each), share being the part of all documents the filter keeps. Filter first
# pays when kept² < limit × documents / 20 (measured at 20 000 and 1 000 000 calls).
PROBE_TO_WALK_COST = 20
MIN_FILTER_FIRST_DOCS = 200


def filter_first_docs(limit: int, documents: int) -> int:
    """Up to how many kept documents the filter-first plan is the cheaper one."""
    return max(MIN_FILTER_FIRST_DOCS, math.isqrt(limit * documents // PROBE_TO_WALK_COST))


def search(
    store: Store,
    query: str,
    now: datetime,
    *,
    flt: CallFilter | None = None,
    speaker: SpeakerFilter | None = None,
    language: str | None = None,
    limit: int = DEFAULT_LIMIT,
    plan: Plan = "auto",
) -> list[SearchHit]:
    """Segments of visible calls matching a query, newest documents first.

    Args:
        query: words (stemmed), "phrases", prefix* and -excluded words, all required;
            ``a OR b``: either.
        flt: the calls to search (team, agent, dates, category...).
        speaker: only what this speaker said.
        language: only calls in this language, the query stemmed for it (default: any
            language, the query stemmed in French and in English).
        plan: SQLite's way to the hits (the same hits either way; tests and benchmarks
            pin it): ``index`` walks the word's matches newest first, keeping those the
            filter keeps; ``filter`` lists the documents the filter keeps and probes the
            index for each; ``auto`` takes ``filter`` when the filter keeps at most
            :data:`FILTER_FIRST_DOCS` documents (a common word and one agent's week),
            ``index`` otherwise.
    """
    terms = parse_query(query)
    if not any(not t.negated for t in terms):
        raise UsageError("search: the query needs at least one word to find")
    limit = max(1, min(limit, MAX_LIMIT))
    languages = _languages(language)
    flt = flt or CallFilter()
    if store.backend == "sqlite":
        rows = _sqlite_search(store, fts5_query(terms, languages), now, flt, speaker, language,
                              limit, plan)  # fmt: skip
    else:
        rows = _postgres_search(store, tsquery(terms, languages), now, flt, speaker, language,
                                limit)  # fmt: skip
    log.info("search: %d hits", len(rows))
    return [
        SearchHit(
            call_id=row["call_id"],
            idx=row["idx"],
            speaker=row["speaker"],
            start=row["start_s"],
            end=row["end_s"],
            started_at=row["started_at"],
            agent_id=row["agent_id"],
            team=row["team"],
            language=row["language"],
            fragments=highlight(row["text"], terms, row["language"]),
        )
        for row in rows
    ]


_COLUMNS = (
    search_docs.c.doc_id,
    search_docs.c.call_id,
    search_docs.c.idx,
    segments.c.speaker,
    segments.c.start_s,
    segments.c.end_s,
    segments.c.text,
    calls.c.started_at,
    calls.c.agent_id,
    calls.c.team,
    calls.c.language,
)


def _documents() -> Any:
    return search_docs.join(
        segments,
        (segments.c.call_id == search_docs.c.call_id) & (segments.c.idx == search_docs.c.idx),
    ).join(calls, calls.c.call_id == search_docs.c.call_id)


def _governed(
    stmt: Any,
    store: Store,
    now: datetime,
    flt: CallFilter,
    speaker: SpeakerFilter | None,
    language: str | None,
) -> Any:
    """Only segments of visible calls the filter keeps."""
    stmt = apply_filter(stmt.where(visible(store, now)), flt)
    if speaker:
        stmt = stmt.where(segments.c.speaker == speaker)
    if language:
        stmt = stmt.where(calls.c.language == language)
    return stmt


def _postgres_search(
    store: Store,
    q: str,
    now: datetime,
    flt: CallFilter,
    speaker: SpeakerFilter | None,
    language: str | None,
    limit: int,
) -> list[Any]:
    # No ORDER BY: a GIN index cannot return rows in order, and sorting every match
    # of a common word costs a heap visit per match. The scan stops at ``limit``
    # governed hits; they are shown newest first (below). Narrow by dates to get
    # the newest of a word found in very many calls.
    stmt = (
        select(*_COLUMNS)
        .select_from(_documents())
        .where(text("search_docs.tsv @@ to_tsquery('simple', :q)"))
    )
    stmt = _governed(stmt, store, now, flt, speaker, language).limit(bindparam("limit"))
    with store.read() as conn:
        rows = conn.execute(stmt, {"q": q, "limit": limit}).mappings().all()
    return sorted(rows, key=lambda row: row["doc_id"], reverse=True)


def _narrows(flt: CallFilter) -> bool:
    return flt != CallFilter()


def _sqlite_search(
    store: Store,
    q: str,
    now: datetime,
    flt: CallFilter,
    speaker: SpeakerFilter | None,
    language: str | None,
    limit: int,
    plan: Plan,
) -> list[Any]:
    with store.read() as conn:
        shard_ids = shards(conn)
        if plan != "index" and (plan == "filter" or _narrows(flt)):
            # The documents the filter keeps, up to the threshold (their ids only).
            kept = _governed(
                select(search_docs.c.doc_id).select_from(_documents()),
                store, now, flt, speaker, language,
            )  # fmt: skip
            most = filter_first_docs(
                limit, conn.execute(select(func.max(search_docs.c.doc_id))).scalar() or 0
            )
            if plan == "auto":
                kept = kept.limit(most + 1)
            doc_ids = list(conn.execute(kept).scalars())
            if plan == "filter" or len(doc_ids) <= most:
                return _probe(conn, q, doc_ids, limit)
        return _walk(conn, store, q, now, flt, speaker, language, limit, shard_ids)


def _probe(conn: Connection, q: str, doc_ids: list[int], limit: int) -> list[Any]:
    """Filter first: which of these documents match, newest first, probed shard by shard
    (FTS5 seeks each rowid in the word's doclist instead of reading all of it)."""
    found: list[int] = []
    for shard, ids in sorted(_by_shard(doc_ids).items(), reverse=True):
        name = search_shard_table(shard)
        found += conn.execute(
            text(
                f"SELECT rowid FROM {name} WHERE {name} MATCH :q "
                "AND rowid IN (SELECT value FROM json_each(:ids))"
            ),
            {"q": q, "ids": json.dumps(ids)},
        ).scalars()
    newest = sorted(found, reverse=True)[:limit]
    if not newest:
        return []
    stmt = (
        select(*_COLUMNS)
        .select_from(_documents())
        .where(search_docs.c.doc_id.in_(newest))
        .order_by(search_docs.c.doc_id.desc())
    )
    return list(conn.execute(stmt).mappings().all())


def _walk(
    conn: Connection,
    store: Store,
    q: str,
    now: datetime,
    flt: CallFilter,
    speaker: SpeakerFilter | None,
    language: str | None,
    limit: int,
    shard_ids: list[int],
) -> list[Any]:
    """Index first: each shard's matches in rowid order, newest shard first: a common
    word stops after the first ``limit`` governed hits instead of sorting every match."""
    rows: list[Any] = []
    for shard in shard_ids:
        name = search_shard_table(shard)
        fts = table(name, column("rowid"))
        stmt = (
            select(*_COLUMNS)
            .select_from(fts.join(_documents(), search_docs.c.doc_id == fts.c.rowid))
            .where(text(f"{name} MATCH :q"))
            .order_by(fts.c.rowid.desc())
        )
        stmt = _governed(stmt, store, now, flt, speaker, language).limit(bindparam("limit"))
        rows += conn.execute(stmt, {"q": q, "limit": limit - len(rows)}).mappings().all()
        if len(rows) >= limit:
            break
    return rows
