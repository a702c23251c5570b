"""Dashboard accounts and failed sign-ins: the only SQL behind :mod:`analytics.auth`.

The policy (who may sign in, how long to wait, when to lock) lives in
:mod:`analytics.auth`; these functions only read and write the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store
from analytics.store.schema import signin_failures, users


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins of one user name or one client since the counter last restarted."""

    failures: int
    last_failed_at: str
    locked_until: str | None


def user_row(store: Store, name: str) -> dict[str, Any] | None:
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    return dict(row) if row else None


def user_rows(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(
            select(users.c.name, users.c.role, users.c.created_at, users.c.agent_id).order_by(
                users.c.name
            )
        ).mappings()
        return [dict(row) for row in rows]


def created_at(conn: Connection, name: str) -> str | None:
    """When ``name`` was created, inside the caller's transaction (None: no such user)."""
    value = conn.execute(select(users.c.created_at).where(users.c.name == name)).scalar()
    return str(value) if value is not None else None


def insert_user(conn: Connection, name: str, role: str, password_hash: str, at: str) -> None:
    conn.execute(
        insert(users).values(name=name, role=role, password_hash=password_hash, created_at=at)
    )


def update_user(
    conn: Connection, name: str, *, role: str | None = None, password_hash: str | None = None
) -> int:
    values = {k: v for k, v in (("role", role), ("password_hash", password_hash)) if v is not None}
    return conn.execute(update(users).where(users.c.name == name).values(**values)).rowcount


def rehash(store: Store, name: str, old_hash: str, new_hash: str) -> None:
    """Store a stronger hash of the same password, unless it changed meanwhile."""
    with store.write() as conn:
        conn.execute(
            update(users)
            .where(users.c.name == name, users.c.password_hash == old_hash)
            .values(password_hash=new_hash)
        )


def delete_user(conn: Connection, name: str) -> int:
    conn.execute(
        delete(signin_failures).where(
            signin_failures.c.scope == "user", signin_failures.c.key == name
        )
    )
    return conn.execute(delete(users).where(users.c.name == name)).rowcount


def failures(conn: Connection, scope: str, key: str) -> Failures | None:
    row = (
        conn.execute(
            select(signin_failures).where(
                signin_failures.c.scope == scope, signin_failures.c.key == key
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return Failures(row["failures"], row["last_failed_at"], row["locked_until"])


def save_failures(conn: Connection, scope: str, key: str, state: Failures) -> None:
    values = {
        "failures": state.failures,
        "last_failed_at": state.last_failed_at,
        "locked_until": state.locked_until,
    }
    where = (signin_failures.c.scope == scope, signin_failures.c.key == key)
    if not conn.execute(update(signin_failures).where(*where).values(**values)).rowcount:
        conn.execute(insert(signin_failures).values(scope=scope, key=key, **values))


def clear_failures(conn: Connection, scope: str, key: str) -> None:
    conn.execute(
        delete(signin_failures).where(
            signin_failures.c.scope == scope, signin_failures.c.key == key
        )
    )


def set_agent_id(conn: Connection, name: str, agent_id: str | None) -> None:
    """The agent whose calls a user of role agent sees (None for the other roles)."""
    conn.execute(update(users).where(users.c.name == name).values(agent_id=agent_id))
