"""The topics of the last call-drivers run (ids persist across runs) and the governed
read of what the drivers learn from: the redacted customer turns of visible calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from analytics.store.core import Store, iso
from analytics.store.reads import CallFilter, segment_rows
from analytics.store.schema import driver_topics


def customer_turns(
    store: Store, now: datetime, flt: CallFilter | None = None
) -> list[dict[str, Any]]:
    """Per visible call: its start and its customer segments' redacted text, joined."""
    calls: dict[str, dict[str, Any]] = {}
    for row in segment_rows(store, now, flt):
        entry = calls.setdefault(
            row["call_id"],
            {"call_id": row["call_id"], "started_at": row["started_at"], "texts": []},
        )
        if row["speaker"] == "customer":
            entry["texts"].append(row["text"])
    return [
        {"call_id": c["call_id"], "started_at": c["started_at"], "text": " ".join(c["texts"])}
        for c in calls.values()
    ]


def previous_topics(store: Store) -> list[dict[str, Any]]:
    """Every topic ever found (current or not): ids are never reused."""
    with store.read() as conn:
        rows = conn.execute(select(driver_topics).order_by(driver_topics.c.topic_id)).mappings()
        return [
            {**dict(r), "terms": json.loads(r["terms"]), "vector": json.loads(r["vector"])}
            for r in rows
        ]


def save_topics(store: Store, topics: list[dict[str, Any]], now: datetime) -> None:
    """Record a run's topics (topic_id, terms, vector, calls); the others stop being current."""
    with store.write() as conn:
        known = set(conn.execute(select(driver_topics.c.topic_id)).scalars())
        conn.execute(update(driver_topics).values(current=False))
        for topic in topics:
            values = {
                "terms": json.dumps(topic["terms"], ensure_ascii=False),
                "vector": json.dumps(topic["vector"], ensure_ascii=False),
                "calls": topic["calls"],
                "last_seen": iso(now),
                "current": True,
            }
            if topic["topic_id"] in known:
                conn.execute(
                    update(driver_topics)
                    .where(driver_topics.c.topic_id == topic["topic_id"])
                    .values(**values)
                )
            else:
                conn.execute(
                    insert(driver_topics).values(
                        topic_id=topic["topic_id"], first_seen=iso(now), **values
                    )
                )
