"""pandas access to the redacted dataset, for notebooks and ad-hoc analysis.

Every loader reads through the governed query layer (:mod:`analytics.store.reads`):
objected calls, calls past retention (unless held) and unprocessed calls are never
in a frame, whether or not ``purge`` has run. Frames hold redacted text only.

Column names follow the flattened export (``quality_*``, ``abuse_*``, ``pii_*``),
so code written against :func:`load_calls` also reads ``callqa export --format
parquet``. Dtypes suit analysis: ``started_at`` is ``datetime64[us, UTC]``;
teams, agents, languages, speakers and severities are categoricals (severity
ordered ``none < low < medium < high``); flags are ``boolean``; counts are
``Int64``; ids and text are ``string``. An empty workspace gives empty frames
with the same columns and dtypes.

Example:
    >>> from analytics.dataset import load_calls
    >>> calls = load_calls("callqa-home", since="2026-11-01", team="Niort-1")
    >>> calls.groupby("agent_id", observed=True)["quality_score"].mean()
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from analytics import audit
from analytics.config import Settings, load_settings
from analytics.errors import NotFoundError, UsageError
from analytics.models import ABUSE_CATEGORIES, CHANNEL_LAYOUTS, QUALITY_CHECKS, SEVERITIES
from analytics.store import CallFilter, Store, call_rows, iter_call_records, pii_rows, segment_rows
from analytics.store import evaluations as evaluation_rows
from analytics.store.categories import names_by_call
from analytics.store.core import utcnow
from analytics.store.reads import QUALITY_FIELDS

__all__ = [
    "ABUSE_EVENT_COLUMNS",
    "CALL_COLUMNS",
    "EVALUATION_COLUMNS",
    "RUBRIC_COLUMNS",
    "SEGMENT_COLUMNS",
    "SEVERITY_DTYPE",
    "as_call_dtypes",
    "as_segment_dtypes",
    "load_abuse_events",
    "load_calls",
    "load_rubric",
    "load_segments",
    "to_moment",
]

log = logging.getLogger(__name__)

Home = str | Path | Settings | None
Moment = str | date | datetime | None
Names = str | Sequence[str] | None

SEVERITY_DTYPE = pd.CategoricalDtype(list(SEVERITIES), ordered=True)
SPEAKER_DTYPE = pd.CategoricalDtype(["agent", "customer", "unknown"])
LAYOUT_DTYPE = pd.CategoricalDtype(list(CHANNEL_LAYOUTS))
ABUSE_CATEGORY_DTYPE = pd.CategoricalDtype(list(ABUSE_CATEGORIES))

_CALL_KEYS: dict[str, Any] = {
    "call_id": "string",
    "started_at": "datetime",
    "agent_id": "category",
    "team": "category",
    "language": "category",
}
_EVENT_KEYS = ("speaker", "start", "end", "category", "severity", "text")
_QUALITY_BOOLS = QUALITY_CHECKS
_QUALITY_INTS = ("interruptions", "score")

CALL_COLUMNS: dict[str, Any] = {
    **_CALL_KEYS,
    "duration_s": "float64",
    "channel_layout": LAYOUT_DTYPE,
    "language_probability": "float64",
    **{
        f"quality_{name}": "boolean"
        if name in _QUALITY_BOOLS
        else "Int64"
        if name in _QUALITY_INTS
        else "float64"
        for name in QUALITY_FIELDS
    },
    "abuse_flagged": "boolean",
    "abuse_severity": SEVERITY_DTYPE,
    "abuse_reviewed": "boolean",
}
"""Columns of :func:`load_calls` before the ``pii_<TYPE>`` columns (Int64 each)."""

SEGMENT_COLUMNS: dict[str, Any] = {
    **_CALL_KEYS,
    "segment": "int64",
    "speaker": SPEAKER_DTYPE,
    "start": "float64",
    "end": "float64",
    "text": "string",
    "loudness_db": "float64",
    # How sure the speaker is on a mono call (diarization × agent side); empty on stereo.
    "speaker_confidence": "float64",
}

RUBRIC_COLUMNS: dict[str, Any] = {
    **_CALL_KEYS,
    "item": "category",
    "weight": "float64",
    "earned": "float64",
    "applicable": "boolean",
    "missed": "boolean",
    "reason": "string",
}

# analytics.load_evaluations(): one row per call × evaluation (form version) × question.
EVALUATION_COLUMNS: dict[str, Any] = {
    **_CALL_KEYS,
    "evaluation_id": "string",
    "form": "string",
    "form_version": "Int64",
    "current": "boolean",
    "status": "string",
    "evaluated_at": "datetime",
    "automatic_score": "float64",
    "final_score": "float64",
    "question": "string",
    "automatic_answer": "string",  # empty: a manual question
    "human_answer": "string",  # empty: no evaluator answered it
    "final_answer": "string",
    "evaluator": "string",
    "answered_at": "datetime",
}

ABUSE_EVENT_COLUMNS: dict[str, Any] = {
    **_CALL_KEYS,
    "event": "int64",
    "speaker": SPEAKER_DTYPE,
    "start": "float64",
    "end": "float64",
    "category": ABUSE_CATEGORY_DTYPE,
    "severity": SEVERITY_DTYPE,
    "text": "string",
}


def load_calls(
    home: Home = None,
    *,
    since: Moment = None,
    until: Moment = None,
    team: Names = None,
    agent: Names = None,
) -> pd.DataFrame:
    """One row per visible call: metadata, quality figures, abuse summary, PII counts.

    Args:
        home: the workspace folder, or its Settings; default ``CALLQA_HOME``.
        since: keep calls started at or after this moment (str, date or datetime;
            naive values are UTC).
        until: keep calls started before this moment (exclusive).
        team: one team or several.
        agent: one agent id or several.

    Returns:
        Columns :data:`CALL_COLUMNS` then ``pii_<TYPE>`` (redactions per entity
        type, 0 when none), then ``categories`` (the names of the categories the call
        matches, a list), sorted by ``started_at``.

    Raises:
        NotFoundError: there is no workspace database at ``home``.
        UsageError: a bound cannot be read as a date.
    """
    flt = _call_filter(since, until, team, agent)
    with _open_store(home) as store:
        moment = utcnow()
        rows = call_rows(store, moment, flt)
        pii = pii_rows(store, moment, flt)
        categories = names_by_call(store, [row["call_id"] for row in rows])
        _audit_load(store, "calls", len(rows))
    frame = _typed_frame(
        [{_call_column(key): value for key, value in row.items()} for row in rows], CALL_COLUMNS
    )
    frame = frame.join(_pii_columns(pii, frame["call_id"]))
    # The names of the categories each call matches (a list, empty when none).
    frame["categories"] = pd.Series(
        [categories.get(cid, []) for cid in frame["call_id"]], index=frame.index, dtype=object
    )
    log.debug("loaded %d calls", len(frame))
    return frame


def load_evaluations(
    home: Home = None,
    *,
    since: Moment = None,
    until: Moment = None,
    team: Names = None,
    agent: Names = None,
) -> pd.DataFrame:
    """One row per visible call, evaluation and question: the automatic answer, the
    human one (when an evaluator gave it), the final answer, who and when.

    Every evaluation of a call is there, rescored ones too (``current`` marks the one
    shown now). Filters as :func:`load_calls`.

    Returns:
        Columns :data:`EVALUATION_COLUMNS`, sorted by ``started_at``.
    """
    flt = _call_filter(since, until, team, agent)
    with _open_store(home) as store:
        moment = utcnow()
        filtered = any(v is not None for v in (since, until, team, agent))
        ids = [row["call_id"] for row in call_rows(store, moment, flt)] if filtered else None
        rows = evaluation_rows.evaluation_answer_rows(store, moment, ids)
        _audit_load(store, "evaluations", len({row["call_id"] for row in rows}))
    out = [
        {
            **{key: row[key] for key in _CALL_KEYS},
            "evaluation_id": row["evaluation_id"],
            "form": row["form_name"],
            "form_version": row["form_version"],
            "current": bool(row["current"]),
            "status": row["status"],
            "evaluated_at": row["evaluated_at"],
            "automatic_score": row["automatic_score"],
            "final_score": row["final_score"],
            "question": row["question_id"],
            "automatic_answer": row["automatic_value"],
            "human_answer": row["final_value"] if row["answered_by"] else None,
            "final_answer": row["final_value"],
            "evaluator": row["answered_by"],
            "answered_at": row["answered_at"],
        }
        for row in rows
    ]
    return _typed_frame(out, EVALUATION_COLUMNS)


def load_segments(
    home: Home = None,
    *,
    since: Moment = None,
    until: Moment = None,
    team: Names = None,
    agent: Names = None,
) -> pd.DataFrame:
    """One row per redacted segment of the visible calls (filters as :func:`load_calls`).

    Returns:
        Columns :data:`SEGMENT_COLUMNS`, ordered by call start then segment index.
    """
    flt = _call_filter(since, until, team, agent)
    with _open_store(home) as store:
        rows = segment_rows(store, utcnow(), flt)
        _audit_load(store, "segments", len({row["call_id"] for row in rows}))
    frame = _typed_frame(rows, SEGMENT_COLUMNS)
    log.debug("loaded %d segments", len(frame))
    return frame


def load_rubric(
    home: Home = None,
    *,
    since: Moment = None,
    until: Moment = None,
    team: Names = None,
    agent: Names = None,
) -> pd.DataFrame:
    """One row per rubric item of each visible call's quality score.

    ``applicable`` is false for an item that did not count for this call (weight 0,
    e.g. hold etiquette when nobody was put on hold); ``missed`` is true when an
    applicable item earned less than its weight; ``reason`` is the explanation a
    trainer reads out (filters as :func:`load_calls`).

    Returns:
        Columns :data:`RUBRIC_COLUMNS`.
    """
    flt = _call_filter(since, until, team, agent)
    with _open_store(home) as store:
        rows = call_rows(store, utcnow(), flt)
    items = [
        {
            **{key: row[key] for key in _CALL_KEYS},
            "item": item["name"],
            "weight": item["weight"],
            "earned": item["earned"],
            "applicable": item["weight"] > 0,
            "missed": item["earned"] < item["weight"],
            "reason": item.get("reason", ""),
        }
        for row in rows
        for item in json.loads(row["breakdown_json"] or "[]")
    ]
    return _typed_frame(items, RUBRIC_COLUMNS)


def load_abuse_events(
    home: Home = None,
    *,
    since: Moment = None,
    until: Moment = None,
    team: Names = None,
    agent: Names = None,
) -> pd.DataFrame:
    """One row per verbal-abuse event of the visible calls (filters as :func:`load_calls`).

    ``start``/``end`` are seconds from the start of the call; ``text`` is the
    redacted segment text.

    Returns:
        Columns :data:`ABUSE_EVENT_COLUMNS`.
    """
    flt = _call_filter(since, until, team, agent)
    with _open_store(home) as store:
        events = [
            {
                **{key: record[key] for key in _CALL_KEYS},
                "event": idx,
                **{key: event[key] for key in _EVENT_KEYS},
            }
            for record in iter_call_records(store, utcnow(), flt)
            for idx, event in enumerate(record["abuse"]["events"])
        ]
    return _typed_frame(events, ABUSE_EVENT_COLUMNS)


def as_call_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a flat call table with :func:`load_calls` dtypes on the columns it has.

    For writers of the same fields (the Parquet export), so files read back with
    the dtypes of :func:`load_calls`. ``pii_*`` and ``abuse_event_count`` become
    Int64; other unknown columns are left alone.
    """
    return _apply_dtypes(frame, CALL_COLUMNS)


def as_segment_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a segment table with :func:`load_segments` dtypes on the columns it has."""
    return _apply_dtypes(frame, SEGMENT_COLUMNS)


def to_moment(value: str | date | datetime) -> datetime:
    """A timezone-aware UTC datetime from an ISO string, a date or a datetime.

    A date means its midnight UTC; a naive datetime (or string) is taken as UTC.

    Raises:
        UsageError: a string that is not an ISO 8601 date or time.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(f"not an ISO 8601 date or time: {value!r}") from None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _call_filter(since: Moment, until: Moment, team: Names, agent: Names) -> CallFilter:
    return CallFilter(
        since=None if since is None else to_moment(since),
        until=None if until is None else to_moment(until),
        team=team,
        agent=agent,
    )


def _audit_load(store: Store, table: str, calls: int) -> None:
    """A notebook read is an export of the redacted dataset: it goes to the audit log."""
    actor = os.environ.get("USER") or "notebook"
    audit.log_event(
        store, actor, "export", detail={"format": "dataframe", "table": table, "calls": calls}
    )


def _settings(home: Home) -> Settings:
    return home if isinstance(home, Settings) else load_settings(home)


@contextmanager
def _open_store(home: Home) -> Iterator[Store]:
    settings = _settings(home)
    # Opening creates a workspace; a reader given a wrong path should hear so instead.
    if not settings.database_url and not settings.db_path.exists():
        raise NotFoundError(
            f"{settings.home}: no callqa workspace here (no {settings.db_path.name})"
        )
    store = Store.open(settings)
    try:
        yield store
    finally:
        store.close()


def _call_column(key: str) -> str:
    return f"quality_{key}" if key in QUALITY_FIELDS else key


def _typed_frame(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    return _apply_dtypes(frame, columns)


def _apply_dtypes(frame: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    frame = frame.copy()
    for name in frame.columns:
        if name in columns:
            frame[name] = _as_dtype(frame[name], columns[name])
        elif str(name).startswith("pii_") or name == "abuse_event_count":
            frame[name] = frame[name].astype("Int64")
    return frame


def _as_dtype(series: pd.Series, dtype: Any) -> pd.Series:
    if dtype == "datetime":
        return pd.to_datetime(series.astype(object), utc=True, format="ISO8601").dt.as_unit("us")
    if dtype == "float64":
        return pd.to_numeric(series.astype(object), errors="raise").astype("float64")
    return series.astype(dtype)


def _pii_columns(rows: Sequence[Mapping[str, Any]], call_ids: pd.Series) -> pd.DataFrame:
    """``pii_<TYPE>`` counts aligned on the call rows; a type a call lacks counts 0."""
    if not rows:
        return pd.DataFrame(index=call_ids.index)
    long = pd.DataFrame.from_records(list(rows), columns=["call_id", "entity_type", "count"])
    wide = long.pivot_table(
        index="call_id", columns="entity_type", values="count", aggfunc="sum", fill_value=0
    )
    wide.columns = [f"pii_{kind}" for kind in wide.columns]
    aligned = wide.reindex(call_ids.astype(object).to_numpy(), fill_value=0)
    aligned.index = call_ids.index
    return aligned.astype("Int64")
