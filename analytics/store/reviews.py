"""Closing an abuse alert: who reviewed it, when, and what they concluded."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from analytics import audit
from analytics.errors import NotFoundError, UsageError
from analytics.store.core import Store, iso, utcnow
from analytics.store.reads import visible
from analytics.store.schema import abuse, calls

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000


def mark_reviewed(
    store: Store,
    call_id: str,
    *,
    actor: str,
    comment: str,
    now: datetime | None = None,
) -> None:
    """Mark the abuse alert of a visible, flagged call as reviewed, with a comment.

    The comment is kept with the alert; the audit log records only that a review
    happened and the comment's length (a comment may quote the call).

    Raises:
        UsageError: empty or too long a comment.
        NotFoundError: the call is not visible (objected, expired...) or not flagged.
    """
    comment = comment.strip()
    if not comment:
        raise UsageError(f"call {call_id}: a review needs a comment")
    if len(comment) > MAX_COMMENT_CHARS:
        raise UsageError(
            f"call {call_id}: a review comment has at most {MAX_COMMENT_CHARS} characters"
        )
    moment = now or utcnow()
    with store.write() as conn:
        flagged = conn.execute(
            select(calls.c.call_id)
            .join(abuse, abuse.c.call_id == calls.c.call_id)
            .where(calls.c.call_id == call_id, abuse.c.flagged.is_(True), visible(store, moment))
        ).first()
        if flagged is None:
            raise NotFoundError(f"call {call_id}: no visible abuse alert to review")
        conn.execute(
            update(abuse)
            .where(abuse.c.call_id == call_id)
            .values(
                reviewed=True,
                reviewed_by=actor,
                reviewed_at=iso(moment),
                review_comment=comment,
            )
        )
        audit.record(
            conn,
            actor,
            "review_abuse",
            call_id,
            detail={"comment_chars": len(comment)},
            now=moment,
        )
    log.info("abuse alert of call %s reviewed by %s", call_id, actor)
