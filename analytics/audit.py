"""Tamper-evident audit log: who did what to which call, when — no personal data.

Each row carries the hash of the row before it, so changing or deleting a row
breaks the chain at that row, and :func:`verify` names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from analytics.store import Store, iso, utcnow
from analytics.store.schema import audit

GENESIS = "0" * 64
ACTIONS = frozenset(
    {
        "view_call",
        "play_audio",
        "export",
        "purge",
        "object",
        "hold",
        "release",
        "subject_access",
        "subject_erase",
        "rectify",
        "review_abuse",
        "login",
        "login_failed",
        "user_add",
        "user_passwd",
        "user_remove",
        "login_locked",
        "process",
        "ingest",
        "access_denied",
        "evidence_export",
    }
)


@dataclass(frozen=True)
class AuditProblem:
    row_id: int
    reason: str


def _digest(
    prev_hash: str, at: str, actor: str, action: str, call_id: str | None, detail: str
) -> str:
    payload = json.dumps([prev_hash, at, actor, action, call_id, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    conn: Connection,
    actor: str,
    action: str,
    call_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry inside the caller's write transaction.

    ``detail`` must hold counts, formats, roles — never personal data.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    at = iso(now or utcnow())
    detail_text = json.dumps(dict(detail or {}), sort_keys=True, ensure_ascii=False)
    last = conn.execute(
        select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = last or GENESIS
    conn.execute(
        insert(audit).values(
            at=at,
            actor=actor,
            action=action,
            call_id=call_id,
            detail=detail_text,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at, actor, action, call_id, detail_text),
        )
    )


def log_event(
    store: Store,
    actor: str,
    action: str,
    call_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry in its own transaction."""
    with store.write() as conn:
        record(conn, actor, action, call_id, detail, now=now)


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


def verify(store: Store) -> list[AuditProblem]:
    """Walk the chain; every broken link is reported with its row id.

    A changed row fails its own hash; a removed row breaks the link of the row
    after it, and the gap in ids names the rows missing. (Removing the newest
    rows leaves a shorter valid chain: the chain cannot see its own tail.)
    """
    problems: list[AuditProblem] = []
    expected_prev = GENESIS
    previous_id = 0
    with store.read() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.id)).mappings()
        for row in rows:
            problems.extend(_check_row(row, expected_prev, previous_id))
            expected_prev = row["hash"]
            previous_id = row["id"]
    return problems


def _check_row(row: Any, expected_prev: str, previous_id: int) -> list[AuditProblem]:
    problems = []
    gap = row["id"] - previous_id - 1
    if row["prev_hash"] != expected_prev or gap:
        missing = (
            f"rows {previous_id + 1}-{row['id'] - 1} are missing"
            if gap > 1
            else f"row {previous_id + 1} is missing"
            if gap == 1
            else "the row before it was changed"
        )
        problems.append(AuditProblem(row["id"], f"does not follow the row before it ({missing})"))
    digest = _digest(
        row["prev_hash"], row["at"], row["actor"], row["action"], row["call_id"], row["detail"]
    )
    if digest != row["hash"]:
        problems.append(AuditProblem(row["id"], "its content does not match its hash (changed)"))
    return problems
