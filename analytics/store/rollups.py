"""The dashboard's summary rows: daily sums kept up to date by every write.

``rollup_daily`` holds one row per UTC day of start × team × agent × language ×
flagged, summing the calls that are processed and not objected. Time and holds are
not in it: they change what is visible without any write (retention moves every
second). A read therefore sums the rollup only over whole days at or after the
retention cut-off (and inside the filter's dates), and reads the rest at row level
through the same governed predicate as ever (:func:`analytics.store.policy.visible`):

- the part of the first day before midnight, from the cut-off (or ``since``) on;
- the part of the last day up to ``until``;
- held calls older than that (a hold keeps a call past retention: holds are few).

So a rollup read gives exactly the answer of the row-level query it stands for
(floating sums up to rounding); the property test checks it after random writes.

Writes keep it current through :func:`tracking`: the keys (day, team, agent,
language) a change touches, before and after it, are recomputed from the rows at
the end of the transaction (:meth:`analytics.store.core.Store.write`), each from
a handful of rows, so no increment can drift; a bulk change (a day's purge) is
recomputed a whole day at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection

from analytics.store.core import ON_COMMIT, Store, iso
from analytics.store.core import PENDING_ROLLUP as _PENDING
from analytics.store.policy import not_objected, retention_cutoff
from analytics.store.schema import (
    ROLLUP_MEASURES,
    ROLLUP_RATES,
    SCORE_BUCKET_WIDTH,
    SCORE_BUCKETS,
    abuse,
    calls,
    data_generation,
    holds,
    quality,
    rollup_daily,
)

# The UTC day of a stored start (ISO text, UTC): its first ten characters. Literal
# bounds: PostgreSQL must see the GROUP BY expression as the selected one.
DAY = func.substr(calls.c.started_at, literal_column("1"), literal_column("10"))
Key = tuple[str, str | None, str | None, str | None]  # day, team, agent, language
# The filter fields a rollup read serves; a filter using any other field (a new one
# included) is answered at row level.
SERVED_FILTERS = frozenset({"since", "until", "team", "agent", "language", "flagged"})
# Keys of one day beyond which the whole day is recomputed (fewer: those keys only;
# SQLite bounds the depth of an expression, so a day's OR stays short).
WHOLE_DAY_AT = 40


def call_sums() -> list[Any]:
    """The additive figures of a set of calls (over calls ⟕ quality ⟕ abuse).

    One definition for the row-level aggregates and for the rollup rows.
    """
    return [
        func.count().label("calls"),
        func.count(quality.c.score).label("scored"),
        func.sum(quality.c.score).label("score_sum"),
        func.sum(case((abuse.c.flagged.is_(True), 1), else_=0)).label("flagged"),
        func.sum(
            case(((abuse.c.flagged.is_(True)) & (abuse.c.reviewed.is_(False)), 1), else_=0)
        ).label("unreviewed"),
        # Only calls with a known length count, so the ratio stays a share of time.
        func.sum(
            case((calls.c.duration_s.is_not(None), quality.c.non_talk_time_s), else_=None)
        ).label("non_talk_s"),
        func.sum(calls.c.duration_s).label("duration_s"),
    ]


SUM_NAMES = ("calls", "scored", "score_sum", "flagged", "unreviewed", "non_talk_s", "duration_s")


def rollup_sums() -> list[Any]:
    """The same figures summed over rollup rows."""
    r = rollup_daily.c
    return [
        func.sum(r.calls).label("calls"),
        func.sum(r.scored).label("scored"),
        func.sum(r.score_sum).label("score_sum"),
        func.sum(r.flagged_n).label("flagged"),
        func.sum(r.unreviewed).label("unreviewed"),
        func.sum(r.non_talk_s).label("non_talk_s"),
        func.sum(r.duration_s).label("duration_s"),
    ]


def page_sums() -> list[Any]:
    """The league table's and the score distribution's additive figures (v12): the
    sum and count of each averaged figure, the count of each yes, and the count of
    calls per score bucket. One definition for the row-level pieces and the rollup."""
    sums: list[Any] = []
    for name in ROLLUP_MEASURES:
        sums.append(func.sum(quality.c[name]).label(f"sum_{name}"))
        sums.append(func.count(quality.c[name]).label(f"n_{name}"))
    for name in ROLLUP_RATES:
        sums.append(func.sum(case((quality.c[name].is_(True), 1), else_=0)).label(f"yes_{name}"))
    score = quality.c.score
    for low in SCORE_BUCKETS:
        inside = and_(score >= low, score < low + SCORE_BUCKET_WIDTH)
        sums.append(func.sum(case((inside, 1), else_=0)).label(f"score_{low:03d}"))
    return sums


PAGE_SUM_NAMES = tuple(str(column.name) for column in page_sums())


def rollup_page_sums() -> list[Any]:
    """The same figures summed over rollup rows."""
    return [func.sum(rollup_daily.c[name]).label(name) for name in PAGE_SUM_NAMES]


# --- writing --------------------------------------------------------------------------


def _source() -> Any:
    return calls.outerjoin(quality, quality.c.call_id == calls.c.call_id).outerjoin(
        abuse, abuse.c.call_id == calls.c.call_id
    )


# In the order :func:`_grouped` selects them (the table's order: v12 appended its own).
_INSERTED = [c.name for c in rollup_daily.columns]


def _grouped(where: ColumnElement[bool]) -> Any:
    """The rollup rows of the counted calls matching ``where``."""
    keys = [DAY, calls.c.team, calls.c.agent_id, calls.c.language, abuse.c.flagged]
    sums = call_sums()
    return (
        select(
            *keys,
            *sums,
            func.min(calls.c.started_at),
            func.max(calls.c.started_at),
            *page_sums(),
        )
        .select_from(_source())
        .where(calls.c.state == "done", calls.c.started_at.is_not(None), not_objected(), where)
        .group_by(*keys)
    )


def rebuild(conn: Connection) -> None:
    """Recompute every rollup row from the calls (migration, bulk loads)."""
    conn.execute(delete(rollup_daily))
    conn.execute(insert(rollup_daily).from_select(_INSERTED, _grouped(true())))
    _next_generation(conn)


def _next_generation(conn: Connection) -> None:
    moved = conn.execute(
        update(data_generation).values(generation=data_generation.c.generation + 1)
    ).rowcount
    if not moved:
        conn.execute(insert(data_generation).values(id=1, generation=1))


def generation(conn: Connection) -> int:
    """Moves with every change of what the rollups count (see :func:`refresh`)."""
    found = conn.execute(select(data_generation.c.generation)).scalar_one_or_none()
    return int(found or 0)


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _is(column: Any, value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def _conditions(keys: set[Key]) -> Iterator[tuple[ColumnElement[bool], ColumnElement[bool]]]:
    """(rollup condition, calls condition) per day touched: its keys, or the whole day
    when it has many. The day's range comes first, so each reads one day's index range."""
    by_day: dict[str, list[Key]] = {}
    for key in keys:
        by_day.setdefault(key[0], []).append(key)
    for day, group in sorted(by_day.items()):
        in_day = and_(calls.c.started_at >= day, calls.c.started_at < _next_day(day))
        if len(group) > WHOLE_DAY_AT:
            yield rollup_daily.c.day == day, in_day
            continue
        ordered = sorted(group, key=str)
        yield (
            and_(
                rollup_daily.c.day == day,
                or_(
                    *(
                        and_(
                            _is(rollup_daily.c.team, team),
                            _is(rollup_daily.c.agent_id, agent),
                            _is(rollup_daily.c.language, language),
                        )
                        for _, team, agent, language in ordered
                    )
                ),
            ),
            and_(
                in_day,
                or_(
                    *(
                        and_(
                            _is(calls.c.team, team),
                            _is(calls.c.agent_id, agent),
                            _is(calls.c.language, language),
                        )
                        for _, team, agent, language in ordered
                    )
                ),
            ),
        )


# Namespace of the advisory locks (PostgreSQL) that serialise refreshes of one day.
_LOCK_SPACE = 7_411_009


def refresh(conn: Connection, keys: Iterable[Key]) -> None:
    """Recompute the rollup rows of these keys from the calls.

    On PostgreSQL two transactions refreshing one key at once would each delete what
    the other cannot see yet and both insert: the refresh of a day waits on a lock
    held until commit, then reads (READ COMMITTED: a fresh snapshot per statement)
    everything the one before it committed. Days are locked in order: no deadlock.
    """
    keys = set(keys)
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        for day in sorted({key[0] for key in keys}):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:day))"),
                {"space": _LOCK_SPACE, "day": day},
            )
    for in_rollup, in_calls in _conditions(keys):
        conn.execute(delete(rollup_daily).where(in_rollup))
        conn.execute(insert(rollup_daily).from_select(_INSERTED, _grouped(in_calls)))
    # After the day locks (always taken first): no deadlock on this one row.
    _next_generation(conn)


def keys_of(conn: Connection, where: ColumnElement[bool]) -> set[Key]:
    query = select(DAY, calls.c.team, calls.c.agent_id, calls.c.language).where(
        where, calls.c.started_at.is_not(None)
    )
    return {tuple(row) for row in conn.execute(query).all()}  # type: ignore[misc]


def _flush(conn: Connection) -> None:
    refresh(conn, conn.info.pop(_PENDING, set()))


@contextmanager
def tracking(conn: Connection, where: ColumnElement[bool]) -> Iterator[None]:
    """Keep the rollup right across a change to the calls matching ``where``.

    Their keys are read before and after the change; inside :meth:`Store.write` they
    are recomputed once, before the commit, whatever the number of changes.
    """
    before = keys_of(conn, where)
    yield
    keys = before | keys_of(conn, where)
    hooks = conn.info.get(ON_COMMIT)
    if hooks is None:  # a bare connection: at once
        refresh(conn, keys)
        return
    conn.info.setdefault(_PENDING, set()).update(keys)
    hooks["rollups"] = _flush


def tracking_call(conn: Connection, call_id: str) -> Any:
    return tracking(conn, calls.c.call_id == call_id)


def touch(conn: Connection, call_id: str) -> None:
    """A call was written as it is now (e.g. inserted): recompute its key."""
    with tracking_call(conn, call_id):
        pass


# --- reading --------------------------------------------------------------------------


def serves(flt: Any) -> bool:
    """Whether a filter can be answered from the rollup (only the fields it keys)."""
    return all(getattr(flt, f.name) is None for f in fields(flt) if f.name not in SERVED_FILTERS)


def _day_start(day: str) -> str:
    return f"{day}T00:00:00+00:00"


@dataclass(frozen=True)
class Plan:
    """How a governed read splits: whole days from the rollup, the rest by rows.

    ``window`` is None when no whole day is inside the read (all of it by rows);
    each of ``pieces`` narrows the row-level governed query.
    """

    window: tuple[ColumnElement[bool], ...] | None
    pieces: tuple[ColumnElement[bool], ...] = field(default=())


def plan(store: Store, now: Any, flt: Any) -> Plan:
    cutoff = retention_cutoff(store, now)
    lo = max(cutoff, iso(flt.since)) if flt.since is not None else cutoff
    hi = iso(flt.until) if flt.until is not None else None
    first = lo[:10] if lo == _day_start(lo[:10]) else _next_day(lo[:10])
    end = hi[:10] if hi is not None else None
    if end is not None and end <= first:
        return Plan(window=None, pieces=(true(),))
    window = [rollup_daily.c.day >= first]
    if end is not None:
        window.append(rollup_daily.c.day < end)
    window += _filter_conditions(flt)
    held = calls.c.call_id.in_(select(holds.c.call_id))
    pieces = [and_(or_(calls.c.started_at < lo, calls.c.started_at.is_(None)), held)]
    if lo < _day_start(first):
        pieces.append(and_(calls.c.started_at >= lo, calls.c.started_at < _day_start(first)))
    if hi is not None and end is not None and _day_start(end) < hi:
        pieces.append(and_(calls.c.started_at >= _day_start(end), calls.c.started_at < hi))
    return Plan(window=tuple(window), pieces=tuple(pieces))


def _one_or_many(column: Any, value: str | Sequence[str]) -> ColumnElement[bool]:
    if isinstance(value, str):
        return column == value  # type: ignore[no-any-return]
    return column.in_(list(value))  # type: ignore[no-any-return]


def _filter_conditions(flt: Any) -> list[ColumnElement[bool]]:
    r = rollup_daily.c
    found = []
    if flt.team:
        found.append(_one_or_many(r.team, flt.team))
    if flt.agent:
        found.append(_one_or_many(r.agent_id, flt.agent))
    if flt.language:
        found.append(_one_or_many(r.language, flt.language))
    if flt.flagged is not None:
        found.append(r.flagged == flt.flagged)
    return found


def daily_rows(conn: Connection, window: Sequence[ColumnElement[bool]]) -> list[dict[str, Any]]:
    """The rollup's sums per day inside a read's window."""
    query = select(rollup_daily.c.day, *rollup_sums()).where(*window).group_by(rollup_daily.c.day)
    return [dict(row) for row in conn.execute(query).mappings()]


def option_rows(conn: Connection, window: Sequence[ColumnElement[bool]]) -> list[dict[str, Any]]:
    """Team, agent, language combinations with their first and last start."""
    r = rollup_daily.c
    query = (
        select(
            r.team,
            r.agent_id,
            r.language,
            func.min(r.first_at).label("first"),
            func.max(r.last_at).label("last"),
        )
        .where(*window)
        .group_by(r.team, r.agent_id, r.language)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def add_sums(into: dict[str, Any], row: dict[str, Any], names: Sequence[str] = SUM_NAMES) -> None:
    """Add a row's sums into another (NULL stays NULL only when both are, as in SQL)."""
    for name in names:
        value = row.get(name)
        if value is None:
            into.setdefault(name, None)
        elif into.get(name) is None:
            into[name] = value
        else:
            into[name] += value


def grouped_rows(
    conn: Connection, window: Sequence[ColumnElement[bool]], keys: Sequence[str]
) -> list[dict[str, Any]]:
    """The rollup's sums (all of them, v12's too) per group of key columns inside a
    read's window (``keys``: rollup column names, e.g. ``("agent_id", "team")``)."""
    columns = [rollup_daily.c[key] for key in keys]
    query = select(*columns, *rollup_sums(), *rollup_page_sums()).where(*window).group_by(*columns)
    return [dict(row) for row in conn.execute(query).mappings()]
