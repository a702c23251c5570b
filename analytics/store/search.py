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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, column, delete, insert, select, table, text
from sqlalchemy.engine import Connection

from analytics.errors import UsageError
from analytics.insights.text import Term, highlight, index_terms, parse_query, stem_language
from analytics.models import RedactedSegment
from analytics.store.core import Store
from analytics.store.policy import visible
from analytics.store.reads import CallFilter, apply_filter
from analytics.store.schema import calls, search_docs, segments

log = logging.getLogger(__name__)

search_fts = table("search_fts", column("rowid"), column("terms"))
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


def _add_terms(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts (rowid, terms) VALUES (:doc_id, :terms)"), rows)
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


def delete_call(conn: Connection, call_id: str) -> int:
    """Delete a call's documents; the number deleted."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                "DELETE FROM search_fts WHERE rowid IN "
                "(SELECT doc_id FROM search_docs WHERE call_id = :c)"
            ),
            {"c": call_id},
        )
    deleted = conn.execute(delete(search_docs).where(search_docs.c.call_id == call_id)).rowcount
    if deleted and conn.dialect.name == "sqlite":
        owner = conn.info.get("callqa.store")
        if owner is not None:
            owner.search_dirty = True  # merged at the next checkpoint
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


def optimize(conn: Connection) -> None:
    """Merge the FTS5 index into one b-tree: deleted terms leave the file (SQLite)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('optimize')"))


# --- queries --------------------------------------------------------------------------------


def _languages(language: str | None) -> tuple[str | None, ...]:
    code = stem_language(language)
    return (code,) if code else ("fr", "en")


def fts5_query(terms: Sequence[Term], languages: tuple[str | None, ...]) -> str:
    """An FTS5 MATCH expression; every operand is a quoted string of word characters."""

    def group(term: Term) -> str:
        options = []
        for option in term.alternatives(languages):
            quoted = '"' + " ".join(option) + '"'
            options.append(quoted + "*" if term.kind == "prefix" else quoted)
        return "(" + " OR ".join(options) + ")"

    positive = [group(t) for t in terms if not t.negated]
    negative = [group(t) for t in terms if t.negated]
    return " AND ".join(positive) + "".join(f" NOT {g}" for g in negative)


def tsquery(terms: Sequence[Term], languages: tuple[str | None, ...]) -> str:
    """A ``to_tsquery('simple', ...)`` expression, built from word characters only."""

    def group(term: Term) -> str:
        options = []
        for option in term.alternatives(languages):
            if term.kind == "prefix":
                options.append(f"{option[0]}:*")
            else:
                options.append("(" + " <-> ".join(option) + ")")
        return "(" + " | ".join(options) + ")"

    parts = [group(t) for t in terms if not t.negated]
    parts += ["!" + group(t) for t in terms if t.negated]
    return " & ".join(parts)


def search(
    store: Store,
    query: str,
    now: datetime,
    *,
    flt: CallFilter | None = None,
    speaker: SpeakerFilter | None = None,
    language: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[SearchHit]:
    """Segments of visible calls matching a query, newest documents first.

    Args:
        query: words (stemmed), "phrases", prefix* and -excluded words.
        flt: the calls to search (team, agent, dates, category...).
        speaker: only what this speaker said.
        language: only calls in this language, the query stemmed for it (default: any
            language, the query stemmed in French and in English).
    """
    terms = parse_query(query)
    if not any(not t.negated for t in terms):
        raise UsageError("search: the query needs at least one word to find")
    limit = max(1, min(limit, MAX_LIMIT))
    languages = _languages(language)
    columns = (
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
    docs: Any = search_docs.join(
        segments,
        (segments.c.call_id == search_docs.c.call_id) & (segments.c.idx == search_docs.c.idx),
    ).join(calls, calls.c.call_id == search_docs.c.call_id)
    stmt: Any
    if store.backend == "sqlite":
        # The FTS5 table drives the loop in rowid order, newest first: a common word
        # stops after the first ``limit`` visible hits instead of sorting every match.
        stmt = (
            select(*columns)
            .select_from(search_fts.join(docs, search_docs.c.doc_id == search_fts.c.rowid))
            .where(text("search_fts MATCH :q"), visible(store, now))
            .order_by(search_fts.c.rowid.desc())
        )
        params: dict[str, Any] = {"q": fts5_query(terms, languages)}
    else:
        # No ORDER BY: a GIN index cannot return rows in order, and sorting every match
        # of a common word costs a heap visit per match. The scan stops at ``limit``
        # governed hits; they are shown newest first (below). Narrow by dates to get
        # the newest of a word found in very many calls.
        stmt = (
            select(*columns, search_docs.c.doc_id)
            .select_from(docs)
            .where(text("search_docs.tsv @@ to_tsquery('simple', :q)"), visible(store, now))
        )
        params = {"q": tsquery(terms, languages)}
    stmt = apply_filter(stmt, flt or CallFilter())
    if speaker:
        stmt = stmt.where(segments.c.speaker == speaker)
    if language:
        stmt = stmt.where(calls.c.language == language)
    stmt = stmt.limit(bindparam("limit"))
    with store.read() as conn:
        rows = conn.execute(stmt, {**params, "limit": limit}).mappings().all()
    if store.backend != "sqlite":
        rows = sorted(rows, key=lambda row: row["doc_id"], reverse=True)
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
