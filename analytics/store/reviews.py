"""The rows of an abuse alert's review (the rules are in :mod:`analytics.reviews`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from analytics.store.core import Store, iso
from analytics.store.policy import visible
from analytics.store.rollups import tracking_call
from analytics.store.schema import abuse, calls


def has_visible_alert(conn: Connection, store: Store, call_id: str, now: datetime) -> bool:
    """The call is visible and its abuse alert is raised."""
    query = (
        select(calls.c.call_id)
        .join(abuse, abuse.c.call_id == calls.c.call_id)
        .where(calls.c.call_id == call_id, abuse.c.flagged.is_(True), visible(store, now))
    )
    return conn.execute(query).first() is not None


def set_reviewed(
    conn: Connection, call_id: str, *, actor: str, comment: str, now: datetime
) -> None:
    with tracking_call(conn, call_id):
        conn.execute(
            update(abuse)
            .where(abuse.c.call_id == call_id)
            .values(reviewed=True, reviewed_by=actor, reviewed_at=iso(now), review_comment=comment)
        )
