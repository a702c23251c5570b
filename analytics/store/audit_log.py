"""The rows of the audit log. The chain's rules (keyed MACs, checkpoints, verification)
are in :mod:`analytics.audit`; this module only reads and writes the table.

The chain's head is read inside the writer's transaction (``Store.write`` takes the
write lock first), so two writers never chain onto the same head.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store
from analytics.store.schema import audit

# PostgreSQL: writers of the chain queue on this transaction-scoped advisory lock
# (SQLite's BEGIN IMMEDIATE already serialises them), so no two chain onto one head.
_HEAD_LOCK = 7_411_002


def head(conn: Connection) -> Any:
    """The newest row's id, hash, time and chain version; None for an empty log.

    Read by a writer, it holds the chain's lock until the transaction ends.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _HEAD_LOCK})
    return conn.execute(
        select(audit.c.id, audit.c.hash, audit.c.at, audit.c.chain)
        .order_by(audit.c.id.desc())
        .limit(1)
    ).first()


def append(conn: Connection, **values: Any) -> None:
    conn.execute(insert(audit).values(**values))


def ids_of_ref(conn: Connection, ref: str | None) -> list[int]:
    """The rows that name a call by its keyed reference."""
    if ref is None:
        return []
    return list(conn.execute(select(audit.c.id).where(audit.c.call_ref == ref)).scalars())


def set_label(conn: Connection, seq: int, label: str | None, label_mac: str | None) -> None:
    conn.execute(update(audit).where(audit.c.id == seq).values(call_id=label, label_mac=label_mac))


def all_rows(conn: Connection) -> Sequence[Any]:
    return conn.execute(select(audit).order_by(audit.c.id)).all()


def rewrite_row(conn: Connection, old_id: int, **values: Any) -> None:
    """Re-chain one row (re-keying an old chain: id, reference, hashes)."""
    conn.execute(update(audit).where(audit.c.id == old_id).values(**values))


def iter_rows(conn: Connection) -> Iterator[Any]:
    """Every row, oldest first, streamed."""
    yield from conn.execute(select(audit).order_by(audit.c.id))


def entries(
    store: Store, limit: int | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    """Audit rows, newest first."""
    query = select(audit).order_by(audit.c.id.desc())
    if action:
        query = query.where(audit.c.action == action)
    if limit:
        query = query.limit(limit)
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
