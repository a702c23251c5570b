"""Tables and versioned migrations.

There is no column for raw transcript text anywhere: ``segments.text`` and
``abuse_events.text`` hold redacted text only (the write functions accept only
``RedactedTranscript`` records).
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Connection

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("call_id", String, primary_key=True),
    Column("state", String, nullable=False, index=True),
    Column("started_at", String),  # ISO 8601, UTC, second precision: sorts as text
    Column("agent_id", String),
    Column("team", String),
    Column("caller_hash", String, index=True),
    Column("channel_layout", String),
    Column("language", String),  # from metadata, then the detected one
    Column("language_probability", Float),
    Column("duration_s", Float),
    Column("channels", Integer),
    Column("sample_rate", Integer),
    Column("codec", String),
    Column("audio_sha256", String, unique=True),
    Column("audio_path", String),  # relative to the workspace
    Column("source_name", String),
    Column("redacted_audio_path", String),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("imported_at", String),
    Column("processed_at", String),
    Column("updated_at", String),
    Column("claimed_by", String),  # the run working on it (state "processing")
)
Index("ix_calls_started", calls.c.started_at)
Index("ix_calls_team_agent", calls.c.team, calls.c.agent_id)
# An agent's calls newest first (Find calls, evaluations, v10) and one agent's calls
# of one day (what a rollup refresh reads after a write, v11).
IX_CALLS_AGENT_STARTED = Index("ix_calls_agent_started", calls.c.agent_id, calls.c.started_at)
# Find calls newest first walks these (keyset on start, then call id; v14): every
# call's, and one team's.
IX_CALLS_STARTED_WALK = Index("ix_calls_started_walk", calls.c.started_at, calls.c.call_id)
IX_CALLS_TEAM_STARTED = Index(
    "ix_calls_team_started", calls.c.team, calls.c.started_at, calls.c.call_id
)

segments = Table(
    "segments",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("speaker", String, nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("text", Text, nullable=False),  # redacted
    Column("loudness_db", Float),
    # Mono calls: the separation's confidence in ``speaker`` (0..1); NULL on stereo calls.
    Column("speaker_confidence", Float),
)

pii_counts = Table(
    "pii_counts",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("entity_type", String, primary_key=True),
    Column("count", Integer, nullable=False),
)

quality = Table(
    "quality",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("talk_time_agent_s", Float),
    Column("talk_time_customer_s", Float),
    Column("non_talk_time_s", Float),
    Column("longest_silence_s", Float),
    Column("overtalk_s", Float),
    Column("interruptions", Integer),
    Column("agent_wpm", Float),
    Column("customer_wpm", Float),
    Column("greeting", Boolean),
    Column("agent_identified", Boolean),
    Column("closing", Boolean),
    Column("empathy", Boolean),
    Column("hold_etiquette", Boolean),
    Column("sentiment_start", Float),
    Column("sentiment_end", Float),
    Column("score", Integer, index=True),
    Column("breakdown_json", Text),
)

abuse = Table(
    "abuse",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("flagged", Boolean, nullable=False, index=True),
    Column("severity", String, nullable=False),
    Column("reviewed", Boolean, nullable=False, default=False),
    Column("reviewed_by", String),
    Column("reviewed_at", String),
    Column("review_comment", Text),
)

abuse_events = Table(
    "abuse_events",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("speaker", String, nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("category", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("text", Text, nullable=False),  # redacted
    Column("matched", String),
    Column("shouted", Boolean),
    Column("score", Float),  # the abuse model's score of the span; NULL: the model did not run
)

objections = Table(
    "objections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String, index=True),
    Column("caller_hash", String, index=True),
    Column("filed_at", String, nullable=False),
    Column("actor", String),
)

holds = Table(
    "holds",
    metadata,
    Column("call_id", String, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("held_at", String, nullable=False),
    Column("actor", String),
)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("row", Integer, nullable=False, default=0),  # 0: not a CSV row
    Column("reason", Text, nullable=False),
    Column("first_seen", String, nullable=False),
    Column("last_seen", String, nullable=False),
    UniqueConstraint("source", "row", "reason", name="uq_rejects"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String, nullable=False),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False, index=True),
    Column("call_id", String),
    Column("detail", Text),  # JSON, never personal data
    Column("prev_hash", String, nullable=False),
    Column("hash", String, nullable=False),  # HMAC-SHA256 with audit.key (see analytics.audit)
    Column("call_ref", String),  # keyed hash of call_id: what the chain covers
    Column("label_mac", String),  # signs a call_id label changed by erasure
    Column("chain", Integer),  # chain version; NULL: the unkeyed chain of old releases
)

# The runs of `callqa process` working on the queue, and when each last said it lives
# (system clock, epoch seconds: a lease, compared across machines kept in time by NTP).
runs = Table(
    "runs",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("host", String),
    Column("pid", Integer),
    Column("started_at", String),
    Column("heartbeat_s", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String, primary_key=True),
    Column("role", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("created_at", String, nullable=False),
    Column("agent_id", String),  # role agent: the agent whose calls and evaluations they see
)

# Failed sign-ins, per user name and per client (a keyed hash of its address): the
# dashboard's growing delay and lock read and write them (analytics.store.accounts).
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("scope", String, primary_key=True),  # "user" or "client"
    Column("key", String, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", String, nullable=False),
    Column("locked_until", String),
)


# Categories (analytics.insights.categories): each definition is versioned; a call's
# matches name the version they were computed with, and the matching segments.
category_definitions = Table(
    "category_definitions",
    metadata,
    Column("name", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("source", Text, nullable=False),  # canonical JSON of the definition
    Column("created_at", String, nullable=False),
    Column("actor", String),
    Column("active", Boolean, nullable=False),  # the latest version, not removed
)

category_matches = Table(
    "category_matches",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("name", String, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON list of segment indexes
    Column("matched_at", String, nullable=False),
)
Index("ix_category_matches_name", category_matches.c.name, category_matches.c.call_id)

# The search index of redacted segments: one document per segment. The stems live in
# an FTS5 table (SQLite) keyed by doc_id, or in a tsvector column (PostgreSQL), both
# made by the v9 migration (analytics.store.search); deleted with the call's other rows.
search_docs = Table(
    "search_docs",
    metadata,
    Column("doc_id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    Column("idx", Integer, nullable=False),
    UniqueConstraint("call_id", "idx", name="uq_search_docs"),
)
Index("ix_search_docs_call", search_docs.c.call_id)

# On SQLite the stems live in FTS5 tables of SEARCH_SHARD_DOCS documents each, by doc_id
# (shard n holds doc_ids n * SEARCH_SHARD_DOCS ...): an objection merges only the shard
# of the call's documents so its words leave the file, not the whole index (v12).
SEARCH_SHARD_BITS = 17
SEARCH_SHARD_DOCS = 1 << SEARCH_SHARD_BITS
SEARCH_SHARD_GLOB = "search_fts_[0-9][0-9][0-9][0-9][0-9]"  # not its shadow tables


def search_shard(doc_id: int) -> int:
    """The FTS5 shard holding a document."""
    return doc_id >> SEARCH_SHARD_BITS


def search_shard_table(shard: int) -> str:
    """The name of a shard's FTS5 table (a fixed pattern: safe in SQL)."""
    return f"search_fts_{int(shard):05d}"


def create_search_shard(conn: Connection, shard: int) -> str:
    """Make a shard's FTS5 table if missing; its name."""
    name = search_shard_table(shard)
    conn.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5("
            "terms, tokenize = 'unicode61 remove_diacritics 2')"
        )
    )
    return name


# On PostgreSQL the stems live in ``search_terms`` (doc_id, tsvector), partitioned by
# doc_id ranges of SEARCH_SHARD_DOCS like the FTS5 shards (schema v15), each partition with its
# own GIN index: after an objection only the partitions that lost documents are
# rewritten (VACUUM FULL, which also rebuilds their index), so the deleted stems leave
# the files; a search walks the partitions newest first. Partitions are made as the
# doc_ids grow (create_search_partition). Not in ``metadata``: SQLite has no such table.
SEARCH_TERMS = "search_terms"
SEARCH_PARTITION_PATTERN = "search_terms_[0-9]{5}"
# Held while a partition is made: two writers that need the same one make it once.
_PARTITION_LOCK = 7_411_002


def search_partition_table(shard: int) -> str:
    """The name of a PostgreSQL partition of ``search_terms`` (a fixed pattern: safe in SQL)."""
    return f"search_terms_{int(shard):05d}"


def create_search_terms(conn: Connection) -> None:
    """Make the partitioned ``search_terms`` table and its GIN index (PostgreSQL)."""
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS search_terms ("
            " doc_id INTEGER NOT NULL REFERENCES search_docs (doc_id) ON DELETE CASCADE,"
            " tsv TSVECTOR NOT NULL, PRIMARY KEY (doc_id)) PARTITION BY RANGE (doc_id)"
        )
    )


def create_search_terms_index(conn: Connection) -> None:
    """The GIN index of every partition (made after the rows when moving many)."""
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_search_terms_tsv ON search_terms USING GIN (tsv)")
    )


def create_search_partition(conn: Connection, shard: int) -> str:
    """Make a ``search_terms`` partition if missing (PostgreSQL); its name."""
    name = search_partition_table(shard)
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PARTITION_LOCK})
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF search_terms"
            f" FOR VALUES FROM ({int(shard) * SEARCH_SHARD_DOCS})"
            f" TO ({(int(shard) + 1) * SEARCH_SHARD_DOCS})"
        )
    )
    return name


# Call drivers (analytics.insights.drivers): the topics of the last run, so that the
# next run keeps their ids where they persist. Terms of many calls (min_df), no call id.
driver_topics = Table(
    "driver_topics",
    metadata,
    Column("topic_id", Integer, primary_key=True, autoincrement=False),
    Column("terms", Text, nullable=False),  # JSON list: the topic's name
    Column("vector", Text, nullable=False),  # JSON {term: weight}
    Column("calls", Integer, nullable=False),
    Column("first_seen", String, nullable=False),
    Column("last_seen", String, nullable=False),
    Column("current", Boolean, nullable=False),  # found by the last run
)

# --- evaluations (issue 14): forms, evaluations, answers, history, disputes, coaching,
# calibration. Everything that names a call is derived data: deleted with the call
# (analytics.store.evaluations.delete_for_call, called by writes.tombstone).

forms = Table(
    "forms",
    metadata,
    Column("name", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String, nullable=False),
    Column("definition_json", Text, nullable=False),  # the parsed form (analytics.evaluations)
    Column("source_sha256", String, nullable=False),
    Column("imported_at", String, nullable=False),
    Column("imported_by", String, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
)

# Evidence found while the transcript was in memory: the segments each phrase check
# rests on (JSON {check: [segment idx, ...]}), reused when a call is rescored.
call_evidence = Table(
    "call_evidence",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("evidence_json", Text, nullable=False),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("evaluation_id", String, primary_key=True),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    Column("form_name", String, nullable=False),
    Column("form_version", Integer, nullable=False),
    Column("current", Boolean, nullable=False),  # the call's evaluation shown now
    Column("created_at", String, nullable=False),
    Column("created_by", String, nullable=False),  # "process", "rescore" or a user
    Column("automatic_score", Float),
    Column("final_score", Float),
    Column("status", String, nullable=False),  # automatic | reviewed | disputed | resolved
    Column("reviewed_by", String),
    Column("reviewed_at", String),
    Column("acknowledged_by", String),
    Column("acknowledged_at", String),
)
Index("ix_evaluations_call", evaluations.c.call_id, evaluations.c.current)
Index("ix_evaluations_current_score", evaluations.c.current, evaluations.c.final_score)
# Find calls sorted by final score walks this index (keyset on score, then call id).
IX_EVALUATIONS_FINAL_WALK = Index(
    "ix_evaluations_final_walk",
    evaluations.c.current,
    evaluations.c.final_score,
    evaluations.c.call_id,
)

# Find calls by evaluation status (v14): a rare status is found, not scanned for.
IX_EVALUATIONS_STATUS = Index("ix_evaluations_status", evaluations.c.status, evaluations.c.current)
# A call's current evaluation with what Find calls filters on (v14). Without it,
# SQLite without statistics (a workspace is never ANALYZEd) joined the current
# evaluation through ix_evaluations_final_walk, which covers those columns but is
# keyed on `current` only: every current evaluation read for each call counted.
IX_EVALUATIONS_CALL_COVER = Index(
    "ix_evaluations_call_cover",
    evaluations.c.call_id,
    evaluations.c.current,
    evaluations.c.final_score,
    evaluations.c.status,
)

evaluation_answers = Table(
    "evaluation_answers",
    metadata,
    Column(
        "evaluation_id",
        String,
        ForeignKey("evaluations.evaluation_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("question_id", String, primary_key=True),
    Column("automatic_value", String),  # NULL: a manual question
    Column("evidence_json", Text),
    Column("final_value", String),  # NULL: not answered yet (manual)
    Column("answered_by", String),  # NULL: the automatic answer stands
    Column("answered_at", String),
    # v12: a human answer carried by rescore from an earlier version ("NAME@N")
    Column("carried_from", String),
)

answer_history = Table(
    "answer_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "evaluation_id",
        String,
        ForeignKey("evaluations.evaluation_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("question_id", String, nullable=False),
    Column("kind", String, nullable=False),  # confirm | override | answer | revise
    Column("previous_value", String),
    Column("value", String),
    Column("evaluator", String, nullable=False),
    Column("reason", Text),
    Column("at", String, nullable=False),
)

disputes = Table(
    "disputes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "evaluation_id",
        String,
        ForeignKey("evaluations.evaluation_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), nullable=False),
    Column("agent_user", String, nullable=False),
    Column("comment", Text, nullable=False),
    Column("status", String, nullable=False, index=True),  # open | upheld | revised
    Column("filed_at", String, nullable=False),
    Column("resolved_by", String),
    Column("resolved_at", String),
    Column("resolution", Text),
)

coaching_notes = Table(
    "coaching_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String, nullable=False, index=True),
    Column("author", String, nullable=False),
    Column("note", Text, nullable=False),
    Column("status", String, nullable=False),  # open | done
    Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False),
)

coaching_links = Table(
    "coaching_links",
    metadata,
    Column(
        "note_id", Integer, ForeignKey("coaching_notes.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("segment_idx", Integer, primary_key=True),  # -1: the whole call
)

calibration_sessions = Table(
    "calibration_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False),
    Column("form_name", String, nullable=False),
    Column("form_version", Integer, nullable=False),
    Column("created_by", String, nullable=False),
    Column("created_at", String, nullable=False),
    Column("evaluators_json", Text, nullable=False),
)

calibration_calls = Table(
    "calibration_calls",
    metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("calibration_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
)

calibration_answers = Table(
    "calibration_answers",
    metadata,
    Column(
        "session_id",
        Integer,
        ForeignKey("calibration_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("evaluator", String, primary_key=True),
    Column("question_id", String, primary_key=True),
    Column("value", String, nullable=False),
    Column("at", String, nullable=False),
)

EVALUATION_TABLES = (
    forms,
    call_evidence,
    evaluations,
    evaluation_answers,
    answer_history,
    disputes,
    coaching_notes,
    coaching_links,
    calibration_sessions,
    calibration_calls,
    calibration_answers,
)

# The figures the league table averages and the yes/no checks it gives rates of; the
# score distribution's buckets (5 points wide; the last holds 100).
ROLLUP_MEASURES = (
    "talk_time_agent_s",
    "longest_silence_s",
    "overtalk_s",
    "interruptions",
    "agent_wpm",
)
ROLLUP_RATES = ("greeting", "agent_identified", "closing", "empathy")
SCORE_BUCKET_WIDTH = 5
SCORE_BUCKETS = tuple(range(0, 101, SCORE_BUCKET_WIDTH))

# Summary rows of the dashboard (analytics.store.rollups): one per UTC day of start x
# team x agent x language x flagged, over the calls processed and not objected (time
# and holds are applied at read time: retention moves every second, a hold is rare).
# Sums, not averages, so groups add up; first/last start for the filter bar's range.
rollup_daily = Table(
    "rollup_daily",
    metadata,
    Column("day", String, nullable=False),  # YYYY-MM-DD (UTC) of started_at
    Column("team", String),
    Column("agent_id", String),
    Column("language", String),
    Column("flagged", Boolean),  # NULL: no abuse row
    Column("calls", Integer, nullable=False),
    Column("scored", Integer, nullable=False),
    Column("score_sum", Integer),
    Column("flagged_n", Integer, nullable=False),
    Column("unreviewed", Integer, nullable=False),
    Column("non_talk_s", Float),
    Column("duration_s", Float),
    Column("first_at", String, nullable=False),
    Column("last_at", String, nullable=False),
    # v12: the league table's sums (sum and count of each averaged figure, count of
    # each yes) and the score distribution's counts per 5-point bucket.
    *[
        column
        for name in ROLLUP_MEASURES
        for column in (Column(f"sum_{name}", Float), Column(f"n_{name}", Integer))
    ],
    *[Column(f"yes_{name}", Integer) for name in ROLLUP_RATES],
    *[Column(f"score_{low:03d}", Integer) for low in SCORE_BUCKETS],
)
Index("ix_rollup_day", rollup_daily.c.day)
# One row: a number every rollup refresh moves (in its transaction). The dashboard's
# cache fingerprint reads it instead of counting two million calls by state.
data_generation = Table(
    "data_generation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", Integer, nullable=False),
)
# Covers the filter bar's choices (grouped in index order) and a team's or agent's rows.
Index(
    "ix_rollup_key",
    rollup_daily.c.team,
    rollup_daily.c.agent_id,
    rollup_daily.c.language,
    rollup_daily.c.day,
    rollup_daily.c.first_at,
    rollup_daily.c.last_at,
)

# The agent's voice in one call (biometric data, README "Agent voiceprints"): a diagonal
# Gaussian over MFCCs and log pitch (JSON {version, frames, mean, var}), from the agent
# channel of a stereo call or the voice a mono call's words named agent. Derived data of
# that call: deleted with it; an agent's voiceprint is pooled on read from the rows of
# their calls still visible (never stored as such).
agent_voices = Table(
    "agent_voices",
    metadata,
    Column("call_id", String, ForeignKey("calls.call_id", ondelete="CASCADE"), primary_key=True),
    Column("source", String, nullable=False),  # stereo | mono
    Column("frames", Integer, nullable=False),
    Column("stats_json", Text, nullable=False),
    Column("created_at", String, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn)


def _v2_dashboard_indexes(conn: Connection) -> None:
    # Covering indexes: the dashboard's weekly aggregates over 100k calls read these
    # columns only, so SQLite never touches the table rows.
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_quality_cover "
            "ON quality (call_id, score, non_talk_time_s)"
        )
    )
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_abuse_cover "
            "ON abuse (call_id, flagged, reviewed, severity)"
        )
    )


def _v3_caller_ids_e164(conn: Connection) -> None:
    # Caller ids are now hashed in E.164. A hash written before cannot be turned back
    # into its number, so it is kept, marked "v1:": a lookup by number recomputes the
    # old hash of that number's spellings (analytics.workspace.caller_hashes) and
    # upgrades what it finds. Marking keeps the two forms from ever being compared.
    for table in ("calls", "objections"):
        conn.execute(
            text(
                f"UPDATE {table} SET caller_hash = 'v1:' || caller_hash "
                "WHERE caller_hash IS NOT NULL AND caller_hash NOT LIKE 'v1:%'"
            )
        )


def _v4_keyed_audit_chain(conn: Connection) -> None:
    # The rows are re-chained with the key by analytics.audit at the first write
    # (the key lives in the workspace, not in the database).
    present = {column["name"] for column in inspect(conn).get_columns("audit")}
    for column, kind in (("call_ref", "VARCHAR"), ("label_mac", "VARCHAR"), ("chain", "INTEGER")):
        if column not in present:
            conn.execute(text(f"ALTER TABLE audit ADD COLUMN {column} {kind}"))


def _v5_signin_failures(conn: Connection) -> None:
    signin_failures.create(conn, checkfirst=True)


def _v6_abuse_event_score(conn: Connection) -> None:
    # A workspace made at v1 after this column was added already has it (create_all).
    columns = {column["name"] for column in inspect(conn).get_columns("abuse_events")}
    if "score" not in columns:
        conn.execute(text("ALTER TABLE abuse_events ADD COLUMN score FLOAT"))


def _v7_speaker_confidence(conn: Connection) -> None:
    # Workspaces made before v7 have segments without the column; new ones get it from v1.
    columns = {column["name"] for column in inspect(conn).get_columns("segments")}
    if "speaker_confidence" not in columns:
        conn.execute(text("ALTER TABLE segments ADD COLUMN speaker_confidence FLOAT"))


def _v8_queue_leases(conn: Connection) -> None:
    present = {column["name"] for column in inspect(conn).get_columns("calls")}
    if "claimed_by" not in present:
        conn.execute(text("ALTER TABLE calls ADD COLUMN claimed_by VARCHAR"))
    runs.create(conn, checkfirst=True)


def _v9_insights(conn: Connection) -> None:
    # Categories, the search index, call drivers (v1's create_all on new databases).
    for table in (category_definitions, category_matches, search_docs, driver_topics):
        table.create(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        # Stems of redacted segments; rowid = search_docs.doc_id (stable: INTEGER PK).
        conn.execute(
            text(
                "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
                "terms, tokenize = 'unicode61 remove_diacritics 2')"
            )
        )
    else:
        conn.execute(text("ALTER TABLE search_docs ADD COLUMN IF NOT EXISTS tsv tsvector"))
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS ix_search_docs_tsv ON search_docs USING GIN (tsv)")
        )


def _v10_evaluations(conn: Connection) -> None:
    # Workspaces made at v1 after these tables were defined already have them.
    present = {column["name"] for column in inspect(conn).get_columns("users")}
    if "agent_id" not in present:
        conn.execute(text("ALTER TABLE users ADD COLUMN agent_id VARCHAR"))
    for table in EVALUATION_TABLES:
        table.create(conn, checkfirst=True)
    for table in EVALUATION_TABLES:
        for index in table.indexes:
            index.create(conn, checkfirst=True)
    IX_CALLS_AGENT_STARTED.create(conn, checkfirst=True)


def _v11_rollups(conn: Connection) -> None:
    # The dashboard's summary rows, filled once from the calls already stored; from
    # here on every write that changes what they count keeps them up to date.
    from analytics.store.rollups import rebuild

    rollup_daily.create(conn, checkfirst=True)
    data_generation.create(conn, checkfirst=True)
    for index in (*rollup_daily.indexes, *calls.indexes):
        if index.name in ("ix_rollup_day", "ix_rollup_key", "ix_calls_agent_started"):
            index.create(conn, checkfirst=True)
    rebuild(conn)


def _v12_search_shards(conn: Connection) -> None:
    # SQLite: the one FTS5 table of v9 split into shards by doc_id (see SEARCH_SHARD_DOCS).
    if conn.dialect.name != "sqlite":
        return
    present = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_fts'")
    ).first()
    if present is None:
        return
    shards = conn.execute(
        text("SELECT DISTINCT rowid >> :bits FROM search_fts"), {"bits": SEARCH_SHARD_BITS}
    ).scalars()
    for shard in list(shards):
        name = create_search_shard(conn, shard)
        conn.execute(
            text(
                f"INSERT INTO {name} (rowid, terms) SELECT rowid, terms FROM search_fts "
                "WHERE rowid >= :lo AND rowid < :hi ORDER BY rowid"
            ),
            {"lo": shard * SEARCH_SHARD_DOCS, "hi": (shard + 1) * SEARCH_SHARD_DOCS},
        )
        conn.execute(text(f"INSERT INTO {name} ({name}) VALUES ('optimize')"))
    conn.execute(text("DROP TABLE search_fts"))


# Find calls sorted by score walks this index (keyset on score, then call id).
IX_QUALITY_SCORE_WALK = Index("ix_quality_score_walk", quality.c.score, quality.c.call_id)


def _v13_score_rollups(conn: Connection) -> None:
    # The league table and the score distribution from the rollup: their sums are
    # added to every rollup row and filled once; the two score sorts of Find calls
    # get an index each to walk. A workspace made at v1 already has the columns.
    from analytics.store.rollups import rebuild

    present = {column["name"] for column in inspect(conn).get_columns("rollup_daily")}
    for column in rollup_daily.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE rollup_daily ADD COLUMN {column.name} {kind}"))
    answers = {column["name"] for column in inspect(conn).get_columns("evaluation_answers")}
    if "carried_from" not in answers:  # rescore carries human answers to a new version
        conn.execute(text("ALTER TABLE evaluation_answers ADD COLUMN carried_from VARCHAR"))
    IX_QUALITY_SCORE_WALK.create(conn, checkfirst=True)
    IX_EVALUATIONS_FINAL_WALK.create(conn, checkfirst=True)
    rebuild(conn)


def _v14_agent_voices(conn: Connection) -> None:
    # The agent's voice per call, for the voiceprint across calls (off by default).
    agent_voices.create(conn, checkfirst=True)


def _v15_search_partitions(conn: Connection) -> None:
    # PostgreSQL: the stems move from search_docs.tsv (one table, one GIN index) to the
    # partitions of search_terms (see SEARCH_TERMS); search_docs is rewritten without
    # the column, so no stem stays in its files. SQLite: nothing (v12's shards).
    if conn.dialect.name != "postgresql":
        return
    create_search_terms(conn)
    present = {column["name"] for column in inspect(conn).get_columns("search_docs")}
    if "tsv" in present:
        shards = conn.execute(
            text("SELECT DISTINCT doc_id >> :bits FROM search_docs WHERE tsv IS NOT NULL"),
            {"bits": SEARCH_SHARD_BITS},
        ).scalars()
        for shard in sorted(shards):
            create_search_partition(conn, shard)
        conn.execute(
            text(
                "INSERT INTO search_terms (doc_id, tsv) SELECT doc_id, tsv FROM search_docs"
                " WHERE tsv IS NOT NULL ORDER BY doc_id"
            )
        )
        conn.execute(text("DROP INDEX IF EXISTS ix_search_docs_tsv"))
        conn.execute(text("ALTER TABLE search_docs DROP COLUMN tsv"))
        # A dropped column stays in the rows until they are rewritten; CLUSTER (unlike
        # VACUUM FULL, allowed in the migration's transaction) writes them without it.
        conn.execute(text("CLUSTER search_docs USING search_docs_pkey"))
    create_search_terms_index(conn)


def _v16_find_calls_walks(conn: Connection) -> None:
    # Find calls at millions of calls: the newest-first pages walk the start times
    # (every call's, one team's) and a status is read from its index.
    for index in (
        IX_CALLS_STARTED_WALK,
        IX_CALLS_TEAM_STARTED,
        IX_EVALUATIONS_STATUS,
        IX_EVALUATIONS_CALL_COVER,
    ):
        index.create(conn, checkfirst=True)


# Append-only: a released workspace is migrated by running the steps it lacks.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "initial schema", _v1_initial),
    (2, "covering indexes for the dashboard", _v2_dashboard_indexes),
    (3, "caller ids hashed in E.164; older hashes marked v1", _v3_caller_ids_e164),
    (4, "keyed audit chain", _v4_keyed_audit_chain),
    (5, "sign-in throttling", _v5_signin_failures),
    (6, "abuse model score per event", _v6_abuse_event_score),
    (7, "speaker confidence of mono-call segments", _v7_speaker_confidence),
    (8, "work queue leases: who claimed a call, which runs live", _v8_queue_leases),
    (9, "categories and the search index", _v9_insights),
    (10, "evaluations: forms, reviews, disputes, coaching, calibration", _v10_evaluations),
    (11, "dashboard rollups: daily sums per team, agent, language", _v11_rollups),
    (12, "search index shards (SQLite): an objection merges one shard", _v12_search_shards),
    (13, "score rollups, score sort indexes, carried answers", _v13_score_rollups),
    (14, "agent voices per call, for agent voiceprints", _v14_agent_voices),
    (15, "search index partitions (PostgreSQL): an objection rewrites one", _v15_search_partitions),
    (16, "Find calls: start-time walks, evaluation status and cover", _v16_find_calls_walks),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def step(version: int) -> Callable[[Connection], None]:
    """The migration step of a schema version (what its Alembic revision runs)."""
    for number, _name, function in MIGRATIONS:
        if number == version:
            return function
    raise KeyError(version)


# Held by the migrating transaction on PostgreSQL (pg_advisory_xact_lock): several
# machines that start at once on a new database migrate it once.
_MIGRATION_LOCK = 7_411_001


def _alembic(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "analytics.store:migrations")
    config.attributes["connection"] = conn
    return config


def _legacy_version(conn: Connection) -> int:
    """The version a release before Alembic recorded (SQLite's user_version)."""
    if conn.dialect.name != "sqlite":
        return 0
    return int(conn.execute(text("PRAGMA user_version")).scalar_one())


def schema_version(conn: Connection) -> int:
    """The schema version of the database (0: empty)."""
    current = MigrationContext.configure(conn).get_current_revision()
    return int(current) if current else _legacy_version(conn)


def migrate(conn: Connection) -> list[int]:
    """Bring the schema to the latest version with Alembic; returns the versions applied.

    A workspace of a release before Alembic (SQLite, ``user_version`` N) is stamped
    at revision N first, then upgraded: its data is never re-created.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    revision = MigrationContext.configure(conn).get_current_revision()
    before = int(revision) if revision else _legacy_version(conn)
    config = _alembic(conn)
    if before and revision is None:
        command.stamp(config, f"{before:04d}")
    if before < LATEST_VERSION:
        command.upgrade(config, "head")
    if conn.dialect.name == "sqlite":  # kept in step, for tools that read it
        conn.execute(text(f"PRAGMA user_version = {LATEST_VERSION}"))
    return list(range(before + 1, LATEST_VERSION + 1))
