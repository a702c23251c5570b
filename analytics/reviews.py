"""Closing an abuse alert: who reviewed it, when, and what they concluded."""

from __future__ import annotations

import logging
from datetime import datetime

from analytics import audit
from analytics.errors import NotFoundError, UsageError
from analytics.store import Store, utcnow
from analytics.store import reviews as rows

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
        if not rows.has_visible_alert(conn, store, call_id, moment):
            raise NotFoundError(f"call {call_id}: no visible abuse alert to review")
        rows.set_reviewed(conn, call_id, actor=actor, comment=comment, now=moment)
        audit.record(
            conn, actor, "review_abuse", call_id, {"comment_chars": len(comment)}, now=moment
        )
    log.info("abuse alert of call %s reviewed by %s", call_id, actor)
