"""Every figure the dashboard shows, computed in SQL over the governed predicate.

Each query starts from :func:`_governed` — the calls admitted by
:func:`analytics.store.policy.visible` and narrowed by a :class:`CallFilter` — and
lets the database do the GROUP BY. Results are plain dicts and lists, cheap to
cache and to chart.

The overview's figures (:func:`kpis`, :func:`weekly_trends`, :func:`alert_totals`)
and the filter bar's choices (:func:`filter_options`) read the daily rollup
(:mod:`analytics.store.rollups`) for whole days and the rows for the rest, so they
cost the same at two million calls as at two thousand. Each has its row-level
twin (``*_rows``): the reference the property test holds them to, and what a
filter the rollup does not key (a list of call ids) is answered with.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, case, distinct, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from analytics.store import rollups
from analytics.store.core import Store
from analytics.store.policy import retention_cutoff, visible
from analytics.store.reads import CallFilter, apply_filter
from analytics.store.schema import (
    SCORE_BUCKET_WIDTH,
    SCORE_BUCKETS,
    abuse,
    abuse_events,
    audit,
    calls,
    holds,
    objections,
    quality,
)

SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}
LEAGUE_KEYS = ("agent", "team")
# Figures a league table and a distribution may be drawn over.
QUALITY_FIGURES = (
    "score",
    "non_talk_time_s",
    "longest_silence_s",
    "overtalk_s",
    "interruptions",
    "agent_wpm",
    "customer_wpm",
    "duration_s",
)


def _governed(
    store: Store, now: datetime, flt: CallFilter | None, *columns: Any, metrics: bool = True
) -> Select[Any]:
    """SELECT columns FROM visible calls [⟕ quality ⟕ abuse] WHERE filter.

    ``metrics=False`` leaves the two joins out when no column of theirs is asked
    for (about a third of a scan's cost); a ``flagged`` filter still joins abuse.
    """
    flt = flt or CallFilter()
    source: Any = calls
    if metrics:
        source = calls.outerjoin(quality, quality.c.call_id == calls.c.call_id).outerjoin(
            abuse, abuse.c.call_id == calls.c.call_id
        )
    elif flt.flagged is not None:
        source = calls.outerjoin(abuse, abuse.c.call_id == calls.c.call_id)
    query = select(*columns).select_from(source).where(visible(store, now))
    return apply_filter(query, flt)


def _flag_rate(column: Any) -> ColumnElement[Any]:
    return func.avg(case((column.is_(True), 1.0), else_=0.0))


def _sums() -> list[Any]:
    """Additive figures: totals can be summed over groups and divided at the end."""
    return rollups.call_sums()


_SUM_NAMES = rollups.SUM_NAMES


def _ratios(row: dict[str, Any]) -> dict[str, Any]:
    calls_n = row["calls"] or 0
    duration = row["duration_s"] or 0.0
    return {
        "calls": calls_n,
        "avg_score": row["score_sum"] / row["scored"] if row["scored"] else None,
        "flagged": row["flagged"] or 0,
        "unreviewed": row["unreviewed"] or 0,
        "abuse_rate": (row["flagged"] or 0) / calls_n if calls_n else None,
        "non_talk_ratio": (row["non_talk_s"] or 0.0) / duration if duration else None,
        "avg_duration_s": duration / calls_n if calls_n else None,
    }


def _fetch(store: Store, query: Select[Any]) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def kpis(store: Store, now: datetime, flt: CallFilter | None = None) -> dict[str, Any]:
    """Calls, average score, abuse rate, non-talk ratio (of call time), mean duration."""
    flt = flt or CallFilter()
    if not rollups.serves(flt):
        return kpis_rows(store, now, flt)
    total: dict[str, Any] = dict.fromkeys(_SUM_NAMES)
    for sums in _daily(store, now, flt).values():
        rollups.add_sums(total, sums)
    return _ratios(total)


def kpis_rows(store: Store, now: datetime, flt: CallFilter | None = None) -> dict[str, Any]:
    """:func:`kpis` from the rows (the reference the rollup read is checked against)."""
    (row,) = _fetch(store, _governed(store, now, flt, *_sums()))
    return _ratios(row)


def _daily(store: Store, now: datetime, flt: CallFilter) -> dict[str | None, dict[str, Any]]:
    """The sums of the governed calls per UTC day: whole days from the rollup, the
    edges of the read and held calls past retention from the rows."""
    plan = rollups.plan(store, now, flt)
    day = rollups.DAY.label("day")
    with store.read() as conn:
        parts = rollups.daily_rows(conn, plan.window) if plan.window is not None else []
        for piece in plan.pieces:
            query = _governed(store, now, flt, day, *_sums()).where(piece).group_by(day)
            parts += [dict(row) for row in conn.execute(query).mappings()]
    days: dict[str | None, dict[str, Any]] = {}
    for row in parts:
        rollups.add_sums(days.setdefault(row["day"], {}), row)
    return days


def _monday(day: str | None) -> str | None:
    if day is None:
        return None
    moment = date.fromisoformat(day)
    return (moment - timedelta(days=moment.weekday())).isoformat()


class _WeekStart(FunctionElement[str]):
    """The Monday (UTC) of the week of a stored ISO timestamp, as YYYY-MM-DD."""

    type = String()
    name = "week_start"
    inherit_cache = True


@compiles(_WeekStart, "sqlite")
def _week_start_sqlite(element: _WeekStart, compiler: Any, **kw: Any) -> str:
    # the next Sunday (or the day itself), six days back
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(_WeekStart, "postgresql")
def _week_start_postgresql(element: _WeekStart, compiler: Any, **kw: Any) -> str:
    moment = f"CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC'"
    return f"to_char(date_trunc('week', {moment}), 'YYYY-MM-DD')"


class _DistinctList(FunctionElement[str]):
    """The distinct values of a group, joined by commas (order unspecified)."""

    type = String()
    name = "distinct_list"
    inherit_cache = True


@compiles(_DistinctList, "sqlite")
def _distinct_list_sqlite(element: _DistinctList, compiler: Any, **kw: Any) -> str:
    return f"group_concat(DISTINCT {compiler.process(element.clauses, **kw)})"


@compiles(_DistinctList, "postgresql")
def _distinct_list_postgresql(element: _DistinctList, compiler: Any, **kw: Any) -> str:
    return f"string_agg(DISTINCT {compiler.process(element.clauses, **kw)}, ',')"


def _distinct_list(column: Any) -> ColumnElement[Any]:
    return _DistinctList(column)


def week_start(column: Any) -> ColumnElement[Any]:
    """The Monday (UTC) of the week of an ISO timestamp, as YYYY-MM-DD."""
    return _WeekStart(column)


def weekly_trends(
    store: Store, now: datetime, flt: CallFilter | None = None
) -> list[dict[str, Any]]:
    """One row per week (Monday date) with the KPIs of that week, oldest first."""
    flt = flt or CallFilter()
    if not rollups.serves(flt):
        return weekly_trends_rows(store, now, flt)
    weeks: dict[str | None, dict[str, Any]] = {}
    for day, sums in _daily(store, now, flt).items():
        rollups.add_sums(weeks.setdefault(_monday(day), {}), sums)
    ordered = sorted(weeks.items(), key=lambda item: (item[0] is not None, item[0] or ""))
    return [
        {"week": week, **_ratios(sums), **{name: sums[name] for name in _SUM_NAMES}}
        for week, sums in ordered
    ]


def weekly_trends_rows(
    store: Store, now: datetime, flt: CallFilter | None = None
) -> list[dict[str, Any]]:
    """:func:`weekly_trends` from the rows (the reference)."""
    week = week_start(calls.c.started_at).label("week")
    query = _governed(store, now, flt, week, *_sums()).group_by(week).order_by(week)
    return [
        {"week": row["week"], **_ratios(row), **{name: row[name] for name in _SUM_NAMES}}
        for row in _fetch(store, query)
    ]


def totals_of(weeks: list[dict[str, Any]]) -> dict[str, Any]:
    """The KPIs of a whole period from its weekly rows (no second scan).

    Weekly rows carry their raw sums, so the result equals :func:`kpis` over the
    same filter.
    """
    sums = {name: sum(w[name] or 0 for w in weeks) for name in _SUM_NAMES}
    return _ratios(sums)


# League figures: (output name, rollup sum, rollup count); rates are yes / calls.
_LEAGUE_AVERAGES = (
    ("avg_talk_agent_s", "talk_time_agent_s"),
    ("avg_longest_silence_s", "longest_silence_s"),
    ("avg_overtalk_s", "overtalk_s"),
    ("avg_interruptions", "interruptions"),
    ("avg_agent_wpm", "agent_wpm"),
)
_LEAGUE_RATES = (
    ("greeting_rate", "greeting"),
    ("identified_rate", "agent_identified"),
    ("closing_rate", "closing"),
    ("empathy_rate", "empathy"),
)
_ALL_SUMS = (*_SUM_NAMES, *rollups.PAGE_SUM_NAMES)


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best average score first, then most calls; ties in key order (one order for
    the rollup read and the row-level one)."""
    rows.sort(
        key=lambda r: (
            -(r["avg_score"] if r["avg_score"] is not None else -1),
            -r["calls"],
            r.get("agent") or "",
            r["team"] or "",
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _league_row(keys: dict[str, Any], sums: dict[str, Any]) -> dict[str, Any]:
    """A league row from its sums (rollup rows and row-level pieces added up)."""
    calls_n = sums["calls"] or 0
    row = dict(keys)
    for out, name in _LEAGUE_AVERAGES:
        n = sums[f"n_{name}"] or 0
        row[out] = float(sums[f"sum_{name}"]) / n if n else None
    for out, name in _LEAGUE_RATES:
        row[out] = (sums[f"yes_{name}"] or 0) / calls_n if calls_n else None
    return {**row, **_ratios(sums)}


def _league_sums(store: Store, now: datetime, flt: CallFilter) -> dict[tuple[Any, Any], Any]:
    """Every sum per (agent, team): whole days from the rollup, the rest by rows."""
    plan = rollups.plan(store, now, flt)
    keys = [calls.c.agent_id.label("agent_id"), calls.c.team.label("team")]
    with store.read() as conn:
        parts = (
            rollups.grouped_rows(conn, plan.window, ("agent_id", "team"))
            if plan.window is not None
            else []
        )
        for piece in plan.pieces:
            query = (
                _governed(store, now, flt, *keys, *_sums(), *rollups.page_sums())
                .where(piece)
                .group_by(*keys)
            )
            parts += [dict(row) for row in conn.execute(query).mappings()]
    groups: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in parts:
        rollups.add_sums(groups.setdefault((row["agent_id"], row["team"]), {}), row, _ALL_SUMS)
    return groups


def league_table(
    store: Store, now: datetime, flt: CallFilter | None = None, *, by: str = "agent"
) -> list[dict[str, Any]]:
    """One row per agent (with its team) or per team, best average score first.

    Read from the rollup's sums (whole days) and the rows (the rest), like the
    overview; a filter the rollup does not key is answered at row level.
    """
    if by not in LEAGUE_KEYS:
        raise ValueError(f"league table by {by!r}: one of {LEAGUE_KEYS}")
    flt = flt or CallFilter()
    if not rollups.serves(flt):
        return league_table_rows(store, now, flt, by=by)
    groups = _league_sums(store, now, flt)
    if by == "agent":
        rows = [
            _league_row({"agent": agent, "team": team}, sums)
            for (agent, team), sums in groups.items()
        ]
        return _ranked(rows)
    teams: dict[Any, dict[str, Any]] = {}
    agents: dict[Any, int] = {}
    for (agent, team), sums in groups.items():
        rollups.add_sums(teams.setdefault(team, {}), sums, _ALL_SUMS)
        agents[team] = agents.get(team, 0) + (agent is not None)  # COUNT(DISTINCT) skips NULL
    rows = [
        {**_league_row({"team": team}, sums), "agents": agents[team]}
        for team, sums in teams.items()
    ]
    return _ranked(rows)


def league_table_rows(
    store: Store, now: datetime, flt: CallFilter | None = None, *, by: str = "agent"
) -> list[dict[str, Any]]:
    """:func:`league_table` from the rows (the reference the rollup read is checked
    against)."""
    if by not in LEAGUE_KEYS:
        raise ValueError(f"league table by {by!r}: one of {LEAGUE_KEYS}")
    keys = [calls.c.agent_id.label("agent"), calls.c.team] if by == "agent" else [calls.c.team]
    figures = [
        func.avg(quality.c.talk_time_agent_s).label("avg_talk_agent_s"),
        func.avg(quality.c.longest_silence_s).label("avg_longest_silence_s"),
        func.avg(quality.c.overtalk_s).label("avg_overtalk_s"),
        func.avg(quality.c.interruptions).label("avg_interruptions"),
        func.avg(quality.c.agent_wpm).label("avg_agent_wpm"),
        _flag_rate(quality.c.greeting).label("greeting_rate"),
        _flag_rate(quality.c.agent_identified).label("identified_rate"),
        _flag_rate(quality.c.closing).label("closing_rate"),
        _flag_rate(quality.c.empathy).label("empathy_rate"),
    ]
    if by == "team":
        figures.append(func.count(distinct(calls.c.agent_id)).label("agents"))
    query = _governed(store, now, flt, *keys, *_sums(), *figures).group_by(*keys)
    rows = []
    for row in _fetch(store, query):
        ratios = _ratios(row)
        # PostgreSQL's AVG of an integer is NUMERIC: floats, as from the rollup
        extra = {
            k: (float(v) if isinstance(v, Decimal) else v)
            for k, v in row.items()
            if k not in _SUM_NAMES
        }
        rows.append({**extra, **ratios})
    return _ranked(rows)


def _served_width(figure: str, bin_width: float) -> int | None:
    """How many rollup score buckets one bin spans, or None (not served)."""
    if figure != "score":
        return None
    span = bin_width / SCORE_BUCKET_WIDTH
    return int(span) if span >= 1 and span == int(span) else None


def distribution(
    store: Store,
    now: datetime,
    flt: CallFilter | None = None,
    *,
    figure: str = "score",
    bin_width: float = 5.0,
    by_team: bool = False,
) -> list[dict[str, Any]]:
    """Histogram of a per-call figure: rows of (bin start, calls[, team]).

    The score (integer, 0-100) in bins of a multiple of 5 points is read from the
    rollup's bucket counts (whole days) and the rows (the rest); other figures and
    filters the rollup does not key, from the rows.
    """
    if figure not in QUALITY_FIGURES:
        raise ValueError(f"distribution of {figure!r}: one of {QUALITY_FIGURES}")
    flt = flt or CallFilter()
    span = _served_width(figure, bin_width)
    if span is None or not rollups.serves(flt):
        return distribution_rows(
            store, now, flt, figure=figure, bin_width=bin_width, by_team=by_team
        )
    groups = _league_sums(store, now, flt)
    counts: dict[tuple[Any, ...], int] = {}
    for (_agent, team), sums in groups.items():
        bucketed = 0
        for low in SCORE_BUCKETS:
            n = sums[f"score_{low:03d}"] or 0
            bucketed += n
            if n:
                start = float((low // SCORE_BUCKET_WIDTH // span) * span * SCORE_BUCKET_WIDTH)
                key = (start, team) if by_team else (start,)
                counts[key] = counts.get(key, 0) + n
        if bucketed != (sums["scored"] or 0):  # a score outside 0-100: the rows know
            return distribution_rows(
                store, now, flt, figure=figure, bin_width=bin_width, by_team=by_team
            )
    ordered = sorted(counts.items(), key=lambda kv: tuple("" if k is None else k for k in kv[0]))
    if by_team:
        return [{"bin": k[0], "team": k[1], "calls": n} for k, n in ordered]
    return [{"bin": k[0], "calls": n} for k, n in ordered]


def distribution_rows(
    store: Store,
    now: datetime,
    flt: CallFilter | None = None,
    *,
    figure: str = "score",
    bin_width: float = 5.0,
    by_team: bool = False,
) -> list[dict[str, Any]]:
    """:func:`distribution` from the rows (the reference, and every other figure)."""
    if figure not in QUALITY_FIGURES:
        raise ValueError(f"distribution of {figure!r}: one of {QUALITY_FIGURES}")
    column = calls.c.duration_s if figure == "duration_s" else quality.c[figure]
    bin_start = (func.floor(column / bin_width) * bin_width).label("bin")
    keys: list[Any] = [bin_start] + ([calls.c.team] if by_team else [])
    query = (
        _governed(store, now, flt, *keys, func.count().label("calls"))
        .where(column.is_not(None))
        .group_by(*keys)
        .order_by(*keys)
    )
    return [{**row, "bin": float(row["bin"])} for row in _fetch(store, query)]


def _option_query(store: Store, now: datetime) -> Select[Any]:
    keys = (calls.c.team, calls.c.agent_id, calls.c.language)
    return _governed(
        store,
        now,
        None,
        *keys,
        func.min(calls.c.started_at).label("first"),
        func.max(calls.c.started_at).label("last"),
        metrics=False,
    ).group_by(*keys)


def filter_options(store: Store, now: datetime) -> dict[str, Any]:
    """What the filters can choose from: teams, agents per team, languages, date range."""
    plan = rollups.plan(store, now, CallFilter())
    with store.read() as conn:
        rows = rollups.option_rows(conn, plan.window) if plan.window is not None else []
        for piece in plan.pieces:
            query = _option_query(store, now).where(piece)
            rows += [dict(row) for row in conn.execute(query).mappings()]
    return _options(rows)


def filter_options_rows(store: Store, now: datetime) -> dict[str, Any]:
    """:func:`filter_options` from the rows (the reference)."""
    return _options(_fetch(store, _option_query(store, now)))


def _options(rows: list[dict[str, Any]]) -> dict[str, Any]:
    agents_by_team: dict[str, set[str]] = {}
    for row in rows:
        if row["team"] is not None and row["agent_id"] is not None:
            agents_by_team.setdefault(row["team"], set()).add(row["agent_id"])
    return {
        "teams": sorted(agents_by_team),
        "agents": sorted({row["agent_id"] for row in rows if row["agent_id"] is not None}),
        "agents_by_team": {team: sorted(agents) for team, agents in sorted(agents_by_team.items())},
        "languages": sorted({row["language"] for row in rows if row["language"] is not None}),
        "first": min((row["first"] for row in rows), default=None),
        "last": max((row["last"] for row in rows), default=None),
    }


def call_list(
    store: Store, now: datetime, flt: CallFilter | None = None, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Visible calls, newest first, with their headline figures (no text)."""
    query = (
        _governed(
            store,
            now,
            flt,
            calls.c.call_id,
            calls.c.started_at,
            calls.c.agent_id,
            calls.c.team,
            calls.c.language,
            calls.c.duration_s,
            quality.c.score,
            quality.c.non_talk_time_s,
            quality.c.interruptions,
            abuse.c.severity.label("abuse_severity"),
        )
        .order_by(calls.c.started_at.desc(), calls.c.call_id)
        .limit(limit)
    )
    return _fetch(store, query)


def _alerts_query(
    store: Store,
    now: datetime,
    flt: CallFilter | None,
    severities: list[str] | None,
    speakers: list[str] | None,
    reviewed: bool | None,
    *columns: Any,
) -> Select[Any]:
    query = _governed(store, now, flt, *columns).where(abuse.c.flagged.is_(True))
    if severities:
        query = query.where(abuse.c.severity.in_(severities))
    if reviewed is not None:
        query = query.where(abuse.c.reviewed.is_(reviewed))
    if speakers:
        query = query.where(
            calls.c.call_id.in_(
                select(abuse_events.c.call_id).where(abuse_events.c.speaker.in_(speakers))
            )
        )
    return query


def alerts(
    store: Store,
    now: datetime,
    flt: CallFilter | None = None,
    *,
    severities: list[str] | None = None,
    speakers: list[str] | None = None,
    reviewed: bool | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Flagged calls, newest first, with who was abusive, how and the review state."""
    events = (
        select(
            abuse_events.c.call_id,
            _distinct_list(abuse_events.c.speaker).label("speakers"),
            _distinct_list(abuse_events.c.category).label("categories"),
            _distinct_list(abuse_events.c.matched).label("fired"),
            func.max(abuse_events.c.score).label("model_score"),
            func.count().label("events"),
        )
        .group_by(abuse_events.c.call_id)
        .subquery()
    )
    query = _alerts_query(
        store,
        now,
        flt,
        severities,
        speakers,
        reviewed,
        calls.c.call_id,
        calls.c.started_at,
        calls.c.agent_id,
        calls.c.team,
        abuse.c.severity,
        events.c.speakers,
        events.c.categories,
        events.c.fired,
        events.c.model_score,
        events.c.events,
        abuse.c.reviewed,
        abuse.c.reviewed_by,
        abuse.c.reviewed_at,
        abuse.c.review_comment,
    )
    query = (
        query.outerjoin(events, events.c.call_id == calls.c.call_id)
        .order_by(calls.c.started_at.desc(), calls.c.call_id)
        .limit(limit)
    )
    rows = _fetch(store, query)
    for row in rows:
        row["reviewed"] = bool(row["reviewed"])
        row["speakers"] = sorted((row["speakers"] or "").split(",")) if row["speakers"] else []
        row["categories"] = sorted(row["categories"].split(",")) if row["categories"] else []
        row["events"] = row["events"] or 0
        # what fired: lexicon entries, patterns or "model" (names hold no comma)
        names = (row["fired"] or "").split(",")
        row["fired"] = sorted({name.strip() for name in names if name.strip()})
    return rows


def alert_totals(store: Store, now: datetime, flt: CallFilter | None = None) -> dict[str, int]:
    """Flagged visible calls and how many of them await review."""
    flagged_only = replace(flt or CallFilter(), flagged=True)
    if not rollups.serves(flagged_only):
        return alert_totals_rows(store, now, flt)
    totals = kpis(store, now, flagged_only)
    return {"flagged": totals["calls"], "unreviewed": totals["unreviewed"]}


def alert_totals_rows(store: Store, now: datetime, flt: CallFilter | None = None) -> dict[str, int]:
    """:func:`alert_totals` from the rows (the reference; reads the flagged index)."""
    flagged_only = replace(flt or CallFilter(), flagged=True)
    (row,) = _fetch(
        store,
        _governed(
            store,
            now,
            flagged_only,
            func.count().label("flagged"),
            func.sum(case((abuse.c.reviewed.is_(False), 1), else_=0)).label("unreviewed"),
            metrics=False,
        ),
    )
    return {"flagged": row["flagged"] or 0, "unreviewed": row["unreviewed"] or 0}


def alert_counts(
    store: Store, now: datetime, flt: CallFilter | None = None
) -> list[dict[str, Any]]:
    """Abuse events of flagged visible calls counted by severity and speaker."""
    query = (
        _governed(
            store,
            now,
            flt,
            abuse_events.c.severity,
            abuse_events.c.speaker,
            func.count(distinct(calls.c.call_id)).label("calls"),
            func.count().label("events"),
        )
        .join(abuse_events, abuse_events.c.call_id == calls.c.call_id)
        .where(abuse.c.flagged.is_(True))
        .group_by(abuse_events.c.severity, abuse_events.c.speaker)
    )
    rows = _fetch(store, query)
    rows.sort(key=lambda r: (-SEVERITY_RANK.get(r["severity"], 0), r["speaker"]))
    return rows


CATEGORY_ACTIONS = ("category_define", "category_remove", "categorize")


def data_version(store: Store, now: datetime) -> tuple[Any, ...]:
    """A cheap fingerprint of what changes which calls a reader may see.

    It moves with every call processed, objected, rectified or purged (the rollups'
    generation, moved by every write that changes what they count, also when
    another process — the CLI — writes), every objection, every hold or release,
    and with time: its last part is the start of the oldest call still inside the
    retention period, which changes exactly when a call crosses the cut-off. A
    cache keyed on it never serves a call that has since become invisible, yet
    stays warm while nothing changes. Reviews move it through the generation and
    their audit entries (read from the action index). No part scans the calls.
    """
    small = select(
        select(func.max(objections.c.id)).scalar_subquery(),
        select(func.count()).select_from(objections).scalar_subquery(),
        select(func.count()).select_from(holds).scalar_subquery(),
        select(func.max(holds.c.held_at)).scalar_subquery(),
        select(func.min(calls.c.started_at))
        .where(calls.c.started_at >= retention_cutoff(store, now))
        .scalar_subquery(),
        select(func.max(audit.c.id)).where(audit.c.action == "review_abuse").scalar_subquery(),
        # categories defined, changed, removed or re-applied (analytics.insights)
        select(func.max(audit.c.id)).where(audit.c.action.in_(CATEGORY_ACTIONS)).scalar_subquery(),
    )
    with store.read() as conn:
        return (rollups.generation(conn), *conn.execute(small).one())


def explain(conn: Connection, query: Select[Any]) -> list[str]:
    """SQLite's plan for a query (for the benchmark and index tuning)."""
    compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    return [str(row[-1]) for row in rows]


__all__ = [
    "LEAGUE_KEYS",
    "QUALITY_FIGURES",
    "alert_counts",
    "alert_totals",
    "alert_totals_rows",
    "alerts",
    "call_list",
    "data_version",
    "distribution",
    "distribution_rows",
    "explain",
    "filter_options",
    "filter_options_rows",
    "kpis",
    "kpis_rows",
    "league_table",
    "league_table_rows",
    "totals_of",
    "week_start",
    "weekly_trends",
    "weekly_trends_rows",
]
