"""Categories applied to calls: definitions in, matches out, through the store.

- :func:`import_categories` stores new versions of changed definitions and re-applies
  them to every call within retention (the cloud products apply a new rule only to
  new contacts; here past calls are re-categorised too).
- :func:`categorize` re-applies every active category to every visible call.
- :func:`categorize_call` applies them to one call inside the pipeline's transaction
  that stores its results, so a new call is categorised as it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics import audit
from analytics.config import CONFIG_FILE, Settings
from analytics.insights.categories import CallFacts, Category, from_source, load_file, parse_toml
from analytics.insights.categories import categorize as apply_rules
from analytics.insights.drivers import Document, DriverRun, Topic, discover
from analytics.models import RedactedSegment
from analytics.store import CallFilter, Connection, Store, parse_iso, utcnow
from analytics.store import categories as cat_store
from analytics.store import drivers as drivers_store

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportReport:
    changed: tuple[str, ...]  # new or changed definitions (a new version each)
    unchanged: tuple[str, ...]
    calls: int  # calls re-categorised


def _facts(item: dict[str, Any]) -> CallFacts:
    return CallFacts(
        call_id=item["call_id"],
        language=item["language"],
        duration_s=float(item["duration_s"] or 0.0),
        segments=tuple(
            RedactedSegment(
                speaker=s["speaker"], start=s["start_s"], end=s["end_s"], text=s["text"]
            )
            for s in item["segments"]
        ),
        figures=item["figures"],
    )


def _active(conn: Connection, names: Sequence[str] | None = None) -> list[tuple[Category, int]]:
    found = []
    for definition in cat_store.active_definitions(conn):
        if names is None or definition.name in names:
            found.append((from_source(definition.source), definition.version))
    return found


def _apply(
    conn: Connection, call_ids: Sequence[str], rules: list[tuple[Category, int]], now: datetime
) -> None:
    versions = {category.name: version for category, version in rules}
    names = list(versions)
    categories = [category for category, _ in rules]
    for item in cat_store.call_inputs(conn, call_ids):
        matches = apply_rules(categories, _facts(item))
        cat_store.replace_matches(
            conn,
            item["call_id"],
            [(m.category, versions[m.category], m.evidence) for m in matches],
            names,
            now,
        )


def categorize_call(conn: Connection, call_id: str, now: datetime) -> None:
    """Apply every active category to one call (in the caller's transaction)."""
    rules = _active(conn)
    if rules:
        _apply(conn, [call_id], rules, now)


def categorize(
    store: Store,
    *,
    names: Sequence[str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    batch: int = 200,
) -> int:
    """Re-apply the active categories (or those named) to every visible call.

    Returns the number of calls read. Each batch is its own short transaction.
    """
    now = now or utcnow()
    with store.read() as conn:
        rules = _active(conn, names)
    done = 0
    for ids in cat_store.visible_call_ids(store, now, batch=batch):
        with store.write() as conn:
            _apply(conn, ids, rules, now)
        done += len(ids)
        if progress is not None:
            progress(len(ids))
    log.info("categorised %d calls with %d categories", done, len(rules))
    return done


def import_categories(
    store: Store,
    categories: Sequence[Category],
    *,
    actor: str = "cli",
    now: datetime | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Store the definitions; re-categorise every visible call for those that changed."""
    now = now or utcnow()
    changed: list[str] = []
    unchanged: list[str] = []
    with store.write() as conn:
        for category in categories:
            version = cat_store.save_definition(
                conn, category.name, category.source, actor=actor, now=now
            )
            (changed if version is not None else unchanged).append(category.name)
        if changed:
            audit.record(
                conn, actor, "category_define", None, {"categories": len(changed)}, now=now
            )
    calls = 0
    if changed:
        calls = categorize(store, names=changed, now=now, progress=progress)
        with store.write() as conn:  # moves the dashboard's data version once more
            audit.record(
                conn,
                actor,
                "categorize",
                None,
                {"calls": calls, "categories": len(changed)},
                now=now,
            )
    return ImportReport(tuple(changed), tuple(unchanged), calls)


def import_file(store: Store, path: Path, **kwargs: Any) -> ImportReport:
    return import_categories(store, load_file(path), **kwargs)


def import_text(store: Store, toml: str, source: str = "dashboard", **kwargs: Any) -> ImportReport:
    return import_categories(store, parse_toml(toml, source), **kwargs)


def remove_category(
    store: Store, name: str, *, actor: str = "cli", now: datetime | None = None
) -> bool:
    now = now or utcnow()
    with store.write() as conn:
        removed = cat_store.remove_definition(conn, name)
        if removed:
            audit.record(conn, actor, "category_remove", None, {"categories": 1}, now=now)
    return removed


def config_categories(settings: Settings) -> tuple[Category, ...]:
    """The ``[[categories]]`` of the workspace's config.toml (none without the file)."""
    path = settings.home / CONFIG_FILE
    return load_file(path) if path.exists() else ()


# --- call drivers ---------------------------------------------------------------------------


def run_drivers(
    store: Store,
    *,
    topics: int = 8,
    flt: CallFilter | None = None,
    now: datetime | None = None,
    save: bool = True,
) -> DriverRun:
    """Find the call drivers of the visible calls; their ids follow the previous run's."""
    now = now or utcnow()
    documents = [
        Document(row["call_id"], parse_iso(row["started_at"]), row["text"])
        for row in drivers_store.customer_turns(store, now, flt)
    ]
    previous = [
        Topic(row["topic_id"], tuple(row["terms"]), row["vector"], row["calls"])
        for row in drivers_store.previous_topics(store)
    ]
    run = discover(documents, topics=topics, previous=previous)
    if save and run.topics:
        drivers_store.save_topics(
            store,
            [
                {
                    "topic_id": t.topic_id,
                    "terms": list(t.terms),
                    "vector": dict(t.vector),
                    "calls": t.calls,
                }
                for t in run.topics
            ],
            now,
        )
    log.info("call drivers: %d topics over %d calls", len(run.topics), len(documents))
    return run
