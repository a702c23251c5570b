"""Search across redacted transcripts: SQLite FTS5, or PostgreSQL full-text search.

One document per redacted segment (``search_docs``). Its stems (French or English
Snowball stems by the call's language, folded: :func:`analytics.insights.text.index_terms`)
are indexed by the backend's own engine: an FTS5 table ``search_fts`` (rowid = doc_id,
tokenizer unicode61 with diacritics removed) on SQLite, a ``tsvector`` column with a
GIN index (the ``simple`` configuration: the stems are already made) on PostgreSQL.
Stemming the same way on both makes a query find the same segments on both. Both are
split into shards of ``SEARCH_SHARD_DOCS`` documents by doc_id: FTS5 tables on SQLite,
partitions of ``search_terms`` on PostgreSQL; a search walks them newest first.

Governed like every read: a query returns only segments of visible calls
(:func:`analytics.store.policy.visible`), and a call's documents are deleted with its
other derived rows (:func:`delete_call`, from ``writes.delete_derived``). On SQLite an
FTS5 delete only adds a tombstone to the index; :meth:`Store.checkpoint` after a
deletion merges the shards that lost documents (``optimize``) so the deleted terms
leave the file, whose freed pages ``secure_delete`` overwrites. On PostgreSQL a deleted
row stays in the heap until its space is reused and GIN never drops a key: the
checkpoint rewrites the partitions that lost documents (:func:`rewrite_partitions`).
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
from analytics.store import schema
from analytics.store.core import Store
from analytics.store.policy import visible
from analytics.store.reads import CallFilter, apply_filter
from analytics.store.schema import (
    SEARCH_PARTITION_PATTERN,
    SEARCH_SHARD_GLOB,
    calls,
    create_search_partition,
    create_search_shard,
    create_search_terms_index,
    search_docs,
    search_partition_table,
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
        return
    for shard in _by_shard([row["doc_id"] for row in rows]):
        _ensure_partition(conn, shard)
    conn.execute(
        text(
            "INSERT INTO search_terms (doc_id, tsv) VALUES (:doc_id, to_tsvector('simple', :terms))"
        ),
        rows,
    )


def reserve_partitions(conn: Connection, documents: int) -> None:
    """Make, before the transaction touches ``search_docs``, the partitions the next
    ``documents`` documents and half a partition beyond them will need (PostgreSQL).

    Creating a partition takes a lock on ``search_docs`` (its foreign key's triggers)
    after the partition lock: a writer that already held a lock on ``search_docs`` (its
    call's old documents deleted, its new ones inserted) and then waited for the
    partition lock deadlocked with the one creating it. Made here, at the start of a
    write, no such wait happens; :func:`_add_terms` still makes a missing one (a burst
    of over half a partition between two writes).
    """
    if conn.dialect.name != "postgresql":
        return
    top = conn.execute(select(func.max(search_docs.c.doc_id))).scalar() or 0
    ahead = top + documents + schema.SEARCH_SHARD_DOCS // 2
    for shard in range(search_shard(top), search_shard(ahead) + 1):
        _ensure_partition(conn, shard)


def _ensure_partition(conn: Connection, shard: int) -> None:
    """Make the ``search_terms`` partition of a shard if it is missing (PostgreSQL): one
    catalog look-up per call indexed, a CREATE once per SEARCH_SHARD_DOCS documents."""
    name = search_partition_table(shard)
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
        create_search_partition(conn, shard)


def add_bulk_terms(conn: Connection, staging: str) -> None:
    """Index, in bulk, stored ``search_docs`` rows whose stems are in the table ``staging``
    (``doc_id``, ``terms``: from :func:`analytics.insights.text.index_terms`), then make
    the GIN index if missing (PostgreSQL; bulk loads: benchmarks)."""
    if not staging.isidentifier():
        raise ValueError("add_bulk_terms: the staging table must be a plain name")
    found = conn.execute(
        text(f"SELECT DISTINCT doc_id >> :bits FROM {staging}"),
        {"bits": schema.SEARCH_SHARD_BITS},
    ).scalars()
    for shard in sorted(found):
        create_search_partition(conn, shard)
    conn.execute(
        text(
            "INSERT INTO search_terms (doc_id, tsv)"
            f" SELECT doc_id, to_tsvector('simple', terms) FROM {staging} ORDER BY doc_id"
        )
    )
    create_search_terms_index(conn)


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
    doc_ids = conn.execute(
        select(search_docs.c.doc_id).where(search_docs.c.call_id == call_id)
    ).scalars()
    by_shard = _by_shard(list(doc_ids))
    dirty = set(by_shard)  # PostgreSQL: the search_docs delete cascades to search_terms
    if conn.dialect.name == "sqlite":
        for shard, ids in by_shard.items():
            conn.execute(
                text(
                    f"DELETE FROM {search_shard_table(shard)} "
                    "WHERE rowid IN (SELECT value FROM json_each(:ids))"
                ),
                {"ids": json.dumps(ids)},
            )
    deleted = conn.execute(delete(search_docs).where(search_docs.c.call_id == call_id)).rowcount
    owner = conn.info.get("callqa.store")
    if dirty and owner is not None:
        owner.search_dirty |= dirty  # merged (SQLite) or rewritten at the next checkpoint
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
    """The shards of the index, newest first: FTS5 tables (SQLite) or partitions of
    ``search_terms`` (PostgreSQL)."""
    if conn.dialect.name == "sqlite":
        names = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB :g"),
            {"g": SEARCH_SHARD_GLOB},
        ).scalars()
    else:
        names = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'search_terms'::regclass AND c.relname ~ :p"
            ),
            {"p": f"^{SEARCH_PARTITION_PATTERN}$"},
        ).scalars()
    return sorted((int(name.rsplit("_", 1)[1]) for name in names), reverse=True)


def rewrite_partitions(conn: Connection, only: Iterable[int]) -> list[str]:
    """Rewrite these ``search_terms`` partitions (PostgreSQL, ``conn`` in autocommit):
    VACUUM FULL writes a new file of the live rows and a new GIN index, so the stems of
    deleted documents leave the files. The names rewritten."""
    present = set(shards(conn))
    names = [search_partition_table(shard) for shard in sorted(present & set(only))]
    for name in names:
        conn.execute(text(f"VACUUM FULL {name}"))
    return names


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
        plan: the way to the hits, on both backends (the same hits either way; tests
            and benchmarks pin it): ``index`` walks the shards newest first, each
            shard's matches newest first, keeping those the filter keeps; ``filter``
            lists the documents the filter keeps and probes the index for each;
            ``auto`` takes ``filter`` when the filter keeps at most
            :func:`filter_first_docs` documents (a common word and one agent's week),
            ``index`` otherwise.
    """
    terms = parse_query(query)
    if not any(not t.negated for t in terms):
        raise UsageError("search: the query needs at least one word to find")
    limit = max(1, min(limit, MAX_LIMIT))
    languages = _languages(language)
    flt = flt or CallFilter()
    q = fts5_query(terms, languages) if store.backend == "sqlite" else tsquery(terms, languages)
    rows = _rows(store, q, now, flt, speaker, language, limit, plan)
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


def _narrows(flt: CallFilter) -> bool:
    return flt != CallFilter()


def _rows(
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
                # The calls the filter keeps first, on the calls table alone (its date,
                # agent and team indexes): joined to the documents, PostgreSQL's planner
                # walks every document in call-id order to find recent calls' ones.
                kept_calls = apply_filter(select(calls.c.call_id).where(visible(store, now)), flt)
                if language:
                    kept_calls = kept_calls.where(calls.c.language == language)
                call_ids = list(conn.execute(kept_calls.limit(most + 1)).scalars())
                if len(call_ids) > most:  # at least a document each: too many to probe
                    return _walk(conn, store, q, now, flt, speaker, language, limit, shard_ids)
                kept = kept.where(search_docs.c.call_id.in_(call_ids)).limit(most + 1)
            doc_ids = list(conn.execute(kept).scalars())
            if plan == "filter" or len(doc_ids) <= most:
                return _probe(conn, q, doc_ids, limit)
        return _walk(conn, store, q, now, flt, speaker, language, limit, shard_ids)


def _match(conn: Connection, shard: int) -> tuple[Any, str]:
    """A shard's table (its key column ``rowid``/``doc_id``) and its full-text predicate."""
    if conn.dialect.name == "sqlite":
        name = search_shard_table(shard)
        return table(name, column("rowid")).c.rowid, f"{name} MATCH :q"
    name = search_partition_table(shard)
    return table(name, column("doc_id")).c.doc_id, f"{name}.tsv @@ to_tsquery('simple', :q)"


def _probe(conn: Connection, q: str, doc_ids: list[int], limit: int) -> list[Any]:
    """Filter first: which of these documents match, newest first, probed shard by shard
    (FTS5 seeks each rowid in the word's doclist instead of reading all of it)."""
    found: list[int] = []
    present = set(shards(conn))
    for shard, ids in sorted(_by_shard(doc_ids).items(), reverse=True):
        if shard not in present:
            continue
        key, match = _match(conn, shard)
        if conn.dialect.name == "sqlite":
            within: Any = text("rowid IN (SELECT value FROM json_each(:ids))")
            values: Any = json.dumps(ids)
        else:
            within = key == func.any(bindparam("ids"))
            values = ids
        found += conn.execute(
            select(key).where(text(match), within), {"q": q, "ids": values}
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
    if conn.dialect.name != "sqlite":
        return _walk_partitions(conn, store, q, now, flt, speaker, language, limit, shard_ids)
    rows: list[Any] = []
    for shard in shard_ids:
        key, match = _match(conn, shard)
        stmt = (
            select(*_COLUMNS)
            .select_from(key.table.join(_documents(), search_docs.c.doc_id == key))
            .where(text(match))
            .order_by(key.desc())
        )
        stmt = _governed(stmt, store, now, flt, speaker, language).limit(bindparam("limit"))
        rows += conn.execute(stmt, {"q": q, "limit": limit - len(rows)}).mappings().all()
        if len(rows) >= limit:
            break
    return rows


# PostgreSQL plans a query over the governed joins in ~10 ms, for each partition: the
# walk asks each partition for its newest matches alone (planned in well under 1 ms),
# then keeps the governed ones among them in one query; batches grow when the filter
# keeps few of them.
FIRST_BATCH_FACTOR = 2
BATCH_GROWTH = 4
MAX_BATCH = 20_000


def _walk_partitions(
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
    """Index first on PostgreSQL: the partitions newest first, each one's matches newest
    first in batches (its primary key walked backwards for a common word, its GIN
    index and a sort for a rarer one), the governed hits among each batch kept in
    doc_id order: the same hits as one query sorted by doc_id, stopping at ``limit``."""
    governed = _governed(
        select(*_COLUMNS).select_from(_documents()), store, now, flt, speaker, language
    )
    governed = (
        governed.where(search_docs.c.doc_id == func.any(bindparam("ids")))
        .order_by(search_docs.c.doc_id.desc())
        .limit(bindparam("limit"))
    )
    rows: list[Any] = []
    for shard in shard_ids:
        key, match = _match(conn, shard)
        batch, below = max(1, min(limit * FIRST_BATCH_FACTOR, MAX_BATCH)), None
        while True:
            stmt = select(key).where(text(match)).order_by(key.desc()).limit(batch)
            if below is not None:
                stmt = stmt.where(key < below)
            found = list(conn.execute(stmt, {"q": q}).scalars())
            if not found:
                break
            rows += conn.execute(governed, {"ids": found, "limit": limit - len(rows)}).mappings()
            if len(rows) >= limit:
                return rows
            if len(found) < batch:
                break  # this partition has no more matches
            batch, below = min(batch * BATCH_GROWTH, MAX_BATCH), found[-1]
    return rows
