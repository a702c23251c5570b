"""Dashboard aggregates: equal to a plain computation over the governed rows, and
blind to objected and expired calls whatever the filter."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import (
    FLAGGED_AGENT,
    FLAGGED_CUSTOMER,
    HELD_OLD,
    HIDDEN_CALLS,
    PLANTED,
    USERS,
    Workspace,
    build_workspace,
)
from factories import NOW

from analytics import audit
from analytics.errors import NotFoundError, UsageError
from analytics.governance import hold, object_calls, purge
from analytics.reviews import mark_reviewed
from analytics.store import CallFilter, Store, call_rows
from analytics.store import aggregates as agg


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("agg") / "ws")


@pytest.fixture
def ws_store(workspace: Workspace) -> Iterator[Store]:
    store = Store.open(workspace.settings)
    yield store
    store.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Store]:
    """A workspace of its own, for tests that write."""
    store = Store.open(build_workspace(tmp_path / "ws").settings)
    yield store
    store.close()


def oracle(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The KPIs computed by hand from the governed per-call rows."""
    n = len(rows)
    scores = [r["score"] for r in rows if r["score"] is not None]
    timed = [r for r in rows if r["duration_s"] is not None]
    return {
        "calls": n,
        "avg_score": sum(scores) / len(scores) if scores else None,
        "flagged": sum(1 for r in rows if r["abuse_flagged"]),
        "abuse_rate": sum(1 for r in rows if r["abuse_flagged"]) / n if n else None,
        "non_talk_ratio": sum(r["non_talk_time_s"] for r in timed)
        / sum(r["duration_s"] for r in timed)
        if timed
        else None,
    }


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9)


FILTERS = [
    CallFilter(),
    CallFilter(team="Niort-1"),
    CallFilter(team=["Lyon-2"], language="en"),
    CallFilter(agent=["A100", "A103"]),
    CallFilter(since=NOW - timedelta(days=20), until=NOW),
    CallFilter(flagged=True),
    # Filters that name the hidden calls' own values must still find nothing of them.
    CallFilter(team=PLANTED[4]),
    CallFilter(agent=PLANTED[3]),
    CallFilter(call_ids=list(HIDDEN_CALLS)),
    CallFilter(since=NOW - timedelta(days=400), until=NOW - timedelta(days=200)),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_kpis_equal_the_hand_computation_over_governed_rows(
    ws_store: Store, flt: CallFilter
) -> None:
    expected = oracle(call_rows(ws_store, NOW, flt))
    got = agg.kpis(ws_store, NOW, flt)
    for name, value in expected.items():
        assert close(got[name], value), (name, got[name], value)
    weekly = agg.weekly_trends(ws_store, NOW, flt)
    assert sum(w["calls"] for w in weekly) == expected["calls"]
    totals = agg.totals_of(weekly)
    for name in ("calls", "avg_score", "abuse_rate", "non_talk_ratio", "flagged"):
        assert close(totals[name], got[name]), name


@pytest.mark.parametrize("flt", FILTERS)
def test_hidden_calls_never_reach_any_aggregate(ws_store: Store, flt: CallFilter) -> None:
    outputs = [
        agg.kpis(ws_store, NOW, flt),
        agg.weekly_trends(ws_store, NOW, flt),
        agg.league_table(ws_store, NOW, flt, by="agent"),
        agg.league_table(ws_store, NOW, flt, by="team"),
        agg.distribution(ws_store, NOW, flt, figure="score", bin_width=1),
        agg.call_list(ws_store, NOW, flt),
        agg.alerts(ws_store, NOW, flt),
        agg.alert_counts(ws_store, NOW, flt),
        agg.alert_totals(ws_store, NOW, flt),
        agg.filter_options(ws_store, NOW),
    ]
    text = repr(outputs)
    for value in (*PLANTED, *HIDDEN_CALLS):
        assert value not in text
    # The hidden calls all scored 99: no bin of the score histogram may hold one.
    assert all(row["bin"] != 99 for row in outputs[4])


def test_weeks_start_on_monday_and_cover_every_call(ws_store: Store) -> None:
    weeks = agg.weekly_trends(ws_store, NOW)
    from datetime import date

    assert all(date.fromisoformat(w["week"]).weekday() == 0 for w in weeks)
    assert [w["week"] for w in weeks] == sorted(w["week"] for w in weeks)
    rows = call_rows(ws_store, NOW)
    by_week: dict[str, int] = {}
    for row in rows:
        day = date.fromisoformat(row["started_at"][:10])
        monday = (day - timedelta(days=day.weekday())).isoformat()
        by_week[monday] = by_week.get(monday, 0) + 1
    assert {w["week"]: w["calls"] for w in weeks} == by_week


def test_league_tables_rank_by_score_and_sum_to_the_total(ws_store: Store) -> None:
    rows = call_rows(ws_store, NOW)
    agents = agg.league_table(ws_store, NOW, by="agent")
    teams = agg.league_table(ws_store, NOW, by="team")
    assert sum(a["calls"] for a in agents) == sum(t["calls"] for t in teams) == len(rows)
    assert [a["rank"] for a in agents] == list(range(1, len(agents) + 1))
    scores = [a["avg_score"] for a in agents]
    assert scores == sorted(scores, reverse=True)
    for agent in agents:
        mine = [r["score"] for r in rows if r["agent_id"] == agent["agent"]]
        assert close(agent["avg_score"], sum(mine) / len(mine))
    assert {t["team"]: t["agents"] for t in teams} == {
        team: len({r["agent_id"] for r in rows if r["team"] == team})
        for team in {r["team"] for r in rows}
    }
    with pytest.raises(ValueError, match="league table by"):
        agg.league_table(ws_store, NOW, by="language")


def test_distribution_bins_count_every_scored_call(ws_store: Store) -> None:
    rows = call_rows(ws_store, NOW)
    bins = agg.distribution(ws_store, NOW, figure="score", bin_width=10)
    assert sum(b["calls"] for b in bins) == len(rows)
    for b in bins:
        assert b["calls"] == sum(1 for r in rows if b["bin"] <= r["score"] < b["bin"] + 10)
    by_team = agg.distribution(ws_store, NOW, figure="score", bin_width=10, by_team=True)
    assert sum(b["calls"] for b in by_team) == len(rows)
    with pytest.raises(ValueError):
        agg.distribution(ws_store, NOW, figure="caller_hash")


def test_alerts_newest_first_with_speakers_and_filters(ws_store: Store) -> None:
    alerts = agg.alerts(ws_store, NOW)
    assert [a["call_id"] for a in alerts] == [FLAGGED_CUSTOMER, FLAGGED_AGENT]
    assert alerts[0]["severity"] == "high" and alerts[0]["speakers"] == ["customer"]
    assert alerts[0]["categories"] == ["insult"] and alerts[0]["events"] == 1
    assert [a["call_id"] for a in agg.alerts(ws_store, NOW, severities=["low"])] == [FLAGGED_AGENT]
    assert agg.alerts(ws_store, NOW, speakers=["agent"]) == []
    assert agg.alerts(ws_store, NOW, reviewed=True) == []
    assert agg.alert_totals(ws_store, NOW) == {"flagged": 2, "unreviewed": 2}
    assert agg.alert_totals(ws_store, NOW, CallFilter(team="Lyon-2")) == {
        "flagged": 1,
        "unreviewed": 1,
    }
    counts = agg.alert_counts(ws_store, NOW)
    assert [(c["severity"], c["speaker"], c["calls"]) for c in counts] == [
        ("high", "customer", 1),
        ("low", "customer", 1),
    ]


def test_filter_options_list_only_visible_values(ws_store: Store) -> None:
    options = agg.filter_options(ws_store, NOW)
    assert options["teams"] == ["Lyon-2", "Niort-1"]
    assert options["agents"] == ["A100", "A101", "A102", "A103"]
    assert options["languages"] == ["en", "fr"]
    assert options["first"] == (NOW - timedelta(days=250)).isoformat()  # the held call
    assert set(options["agents_by_team"]) == {"Lyon-2", "Niort-1"}


def test_call_list_is_newest_first_and_limited(ws_store: Store) -> None:
    calls = agg.call_list(ws_store, NOW, limit=3)
    assert len(calls) == 3
    assert [c["started_at"] for c in calls] == sorted(
        (c["started_at"] for c in calls), reverse=True
    )
    assert "text" not in calls[0] and "caller_hash" not in calls[0]


def test_data_version_moves_with_objections_holds_and_purges(fresh: Store) -> None:
    first = agg.data_version(fresh, NOW)
    assert agg.data_version(fresh, NOW + timedelta(hours=1)) == first  # nothing crossed
    object_calls(fresh, call_id="c00", now=NOW)
    second = agg.data_version(fresh, NOW)
    assert second != first
    hold(fresh, "c01", "dispute", now=NOW)
    third = agg.data_version(fresh, NOW)
    assert third != second
    assert "c00" not in {c["call_id"] for c in agg.call_list(fresh, NOW)}
    purge(fresh, NOW, actor="test")
    fourth = agg.data_version(fresh, NOW)
    assert fourth != third
    mark_reviewed(fresh, FLAGGED_AGENT, actor="qm", comment="done", now=NOW)
    assert agg.data_version(fresh, NOW) != fourth


def test_data_version_moves_when_a_call_crosses_the_retention_cutoff(fresh: Store) -> None:
    oldest = min(
        c["started_at"] for c in agg.call_list(fresh, NOW, limit=100) if c["call_id"] != HELD_OLD
    )
    crossing = datetime.fromisoformat(oldest) + timedelta(days=fresh.settings.retention_days)
    before = agg.data_version(fresh, crossing - timedelta(seconds=1))
    after = agg.data_version(fresh, crossing + timedelta(seconds=1))
    assert before != after
    seen_before = {
        c["call_id"] for c in agg.call_list(fresh, crossing - timedelta(seconds=1), limit=100)
    }
    seen_after = {
        c["call_id"] for c in agg.call_list(fresh, crossing + timedelta(seconds=1), limit=100)
    }
    assert len(seen_before - seen_after) == 1


def test_mark_reviewed_records_the_review_and_audits_it(fresh: Store) -> None:
    actor = USERS["quality_manager"]
    mark_reviewed(fresh, FLAGGED_CUSTOMER, actor=actor, comment="  caller warned  ", now=NOW)
    (alert,) = agg.alerts(fresh, NOW, reviewed=True)
    assert alert["call_id"] == FLAGGED_CUSTOMER
    assert (alert["reviewed_by"], alert["review_comment"]) == (actor, "caller warned")
    assert alert["reviewed_at"] == NOW.isoformat()
    assert agg.kpis(fresh, NOW)["unreviewed"] == 1
    assert agg.alert_totals(fresh, NOW) == {"flagged": 2, "unreviewed": 1}
    (entry,) = audit.entries(fresh, action="review_abuse")
    assert (entry["actor"], entry["call_id"]) == (actor, FLAGGED_CUSTOMER)
    assert "caller warned" not in entry["detail"]  # only its length is audited
    assert audit.verify(fresh) == []


@pytest.mark.parametrize(
    ("call_id", "comment", "error"),
    [
        (FLAGGED_AGENT, "   ", UsageError),
        (FLAGGED_AGENT, "x" * 2001, UsageError),
        ("c00", "not flagged", NotFoundError),
        ("x-objected-call", "hidden", NotFoundError),
        ("x-expired", "hidden", NotFoundError),
        ("nope", "unknown", NotFoundError),
    ],
)
def test_mark_reviewed_refuses(fresh: Store, call_id: str, comment: str, error: type) -> None:
    with pytest.raises(error):
        mark_reviewed(fresh, call_id, actor="qm", comment=comment, now=NOW)
    assert audit.entries(fresh, action="review_abuse") == []


def test_held_old_call_stays_visible(ws_store: Store) -> None:
    assert HELD_OLD in {c["call_id"] for c in agg.call_list(ws_store, NOW, limit=100)}
