"""The dashboard rollups give exactly the row-level answers, after any writes.

A hypothesis state machine stores calls (processed at once, or pending and then
processed), files objections by call and by caller, holds and releases, purges,
erases subjects, rectifies agent, team, language, start and caller, reviews alerts
and lets time pass (retention moves with no write at all). After every step the
rollup reads (:func:`kpis`, :func:`weekly_trends`, :func:`alert_totals`,
:func:`filter_options`, :func:`league_table` by agent and by team, the score
:func:`distribution` in 5- and 10-point bins, by team too) must equal their row-level twins for a set of filters, at
the machine's clock and at moments around it. Runs on both backends.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import NOW, add_call, make_analysis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from analytics import governance
from analytics.config import Settings, load_settings
from analytics.errors import GovernanceError, NotFoundError, UsageError
from analytics.reviews import mark_reviewed
from analytics.store import CallFilter, Store
from analytics.store import aggregates as agg
from analytics.store.writes import save_analysis

TEST_BACKEND = os.environ.get("CALLQA_TEST_BACKEND", "sqlite")
# The same machine runs on both backends; each PostgreSQL example costs several times a
# SQLite one (every step compares every read, rollup against rows), so the PostgreSQL
# pass draws fewer: it checks the dialect's SQL, the SQLite pass the breadth.
EXAMPLES = int(
    os.environ.get("ROLLUP_PROPS_EXAMPLES", "4" if TEST_BACKEND == "postgresql" else "12")
)
AGENTS = ("A1", "A2", "A3")
TEAMS = ("Niort-1", "Lyon-2")
CALLERS = ("06 11 11 11 11", "06 22 22 22 22", "07 33 33 33 33")
# Filters the dashboard makes: none, one team, agents, a language, a date range that
# starts and ends inside a day, flagged only.
FILTERS = (
    CallFilter(),
    CallFilter(team="Niort-1"),
    CallFilter(agent=["A1", "A3"], language="fr"),
    CallFilter(language=["en"]),
    CallFilter(since=NOW - timedelta(days=40, hours=5), until=NOW - timedelta(days=3, hours=7)),
    CallFilter(since=NOW - timedelta(days=300)),
    CallFilter(until=NOW - timedelta(days=100)),
    CallFilter(team=["Lyon-2"], flagged=True),
)


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return False
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def same(got: Any, want: Any, where: str) -> None:
    """Equal, floats up to rounding (sums are added in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    else:
        assert close(got, want), (where, got, want)


def check_reads(store: Store, now: datetime, filters: tuple[CallFilter, ...] = FILTERS) -> None:
    same(agg.filter_options(store, now), agg.filter_options_rows(store, now), "options")
    for flt in filters:
        label = repr(flt)
        same(agg.kpis(store, now, flt), agg.kpis_rows(store, now, flt), f"kpis {label}")
        same(
            agg.weekly_trends(store, now, flt),
            agg.weekly_trends_rows(store, now, flt),
            f"weekly {label}",
        )
        same(
            agg.alert_totals(store, now, flt),
            agg.alert_totals_rows(store, now, flt),
            f"alerts {label}",
        )
        for by in agg.LEAGUE_KEYS:
            same(
                agg.league_table(store, now, flt, by=by),
                agg.league_table_rows(store, now, flt, by=by),
                f"league by {by} {label}",
            )
        for width, by_team in ((5.0, False), (10.0, True)):
            same(
                agg.distribution(store, now, flt, bin_width=width, by_team=by_team),
                agg.distribution_rows(store, now, flt, bin_width=width, by_team=by_team),
                f"distribution {width} {by_team} {label}",
            )


class RollupMachine(RuleBasedStateMachine):
    make_settings: Callable[[Path], Settings]

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="callqa-rollups-"))
        self.store = Store.open(self.make_settings(self.tmp / "home"))
        self.now = NOW
        self.ids: list[str] = []
        self.pending: list[str] = []
        self.caller_of: dict[str, str | None] = {}
        self.counter = 0
        self.checks = 0

    def teardown(self) -> None:
        try:
            # The last state is checked under every filter; the steps before it under a
            # rotating pair (see rollups_equal_rows).
            for moment in (self.now, self.now + timedelta(hours=11, seconds=1)):
                check_reads(self.store, moment)
        finally:
            self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(self.ids)) if self.ids else None

    @rule(
        age=st.integers(min_value=0, max_value=4000),  # hours before now
        agent=st.sampled_from(AGENTS),
        team=st.sampled_from(TEAMS),
        language=st.sampled_from(("fr", "en")),
        caller=st.one_of(st.none(), st.sampled_from(CALLERS)),
        severity=st.sampled_from(("none", "none", "low", "high")),
        score=st.integers(min_value=0, max_value=100),
        talk=st.floats(min_value=0, max_value=600, allow_nan=False),
        interruptions=st.integers(min_value=0, max_value=9),
        greeting=st.booleans(),
        held=st.booleans(),
        pending=st.booleans(),
        n=st.integers(min_value=1, max_value=3),
    )
    def store_calls(
        self,
        age: int,
        agent: str,
        team: str,
        language: str,
        caller: str | None,
        severity: str,
        score: int,
        talk: float,
        interruptions: int,
        greeting: bool,
        held: bool,
        pending: bool,
        n: int,
    ) -> None:
        for i in range(n):
            self.counter += 1
            call_id = f"c{self.counter}"
            started = self.now - timedelta(hours=age, minutes=7 * i)
            add_call(
                self.store,
                call_id,
                started_at=started,
                agent_id=agent,
                team=team,
                caller_id=caller,
                state="pending" if pending else "done",
                legal_hold=held and age > 24 * 100,
                now=self.now,
                language=language,
                abuse_severity=severity,
                score=score,
                figures={
                    "talk_time_agent_s": talk,
                    "interruptions": interruptions,
                    "greeting": greeting,
                    "empathy": not greeting,
                },
            )
            self.ids.append(call_id)
            self.caller_of[call_id] = caller
            if pending:
                self.pending.append(call_id)

    @rule(data=st.data(), severity=st.sampled_from(("none", "medium")))
    def process_pending(self, data: st.DataObject, severity: str) -> None:
        if not self.pending:
            return
        call_id = data.draw(st.sampled_from(self.pending))
        self.pending.remove(call_id)
        with self.store.write() as conn:
            save_analysis(
                conn,
                call_id,
                make_analysis(call_id, language="en", abuse_severity=severity, score=61),
                now=self.now,
                redacted_audio_path=None,
            )

    @rule(data=st.data())
    def object_call(self, data: st.DataObject) -> None:
        call_id = self._pick(data)
        if call_id is None:
            return
        with contextlib.suppress(NotFoundError, GovernanceError, UsageError):
            governance.object_calls(self.store, call_id=call_id, now=self.now, actor="t")

    @rule(caller=st.sampled_from(CALLERS))
    def object_caller(self, caller: str) -> None:
        governance.object_calls(self.store, caller_id=caller, now=self.now, actor="t")

    @rule(data=st.data())
    def hold(self, data: st.DataObject) -> None:
        call_id = self._pick(data)
        if call_id is None:
            return
        with contextlib.suppress(NotFoundError, GovernanceError):
            governance.hold(self.store, call_id, "dispute", now=self.now, actor="t")

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        call_id = self._pick(data)
        if call_id is None:
            return
        with contextlib.suppress(NotFoundError):
            governance.release(self.store, call_id, now=self.now, actor="t")

    @rule()
    def purge(self) -> None:
        governance.purge(self.store, now=self.now, actor="t")

    @rule(caller=st.sampled_from(CALLERS))
    def erase(self, caller: str) -> None:
        governance.subject_erase(self.store, caller, now=self.now, actor="t")
        # An erased call leaves the queue: processing never claims it again.
        self.pending = [c for c in self.pending if self.caller_of[c] != caller]

    @rule(
        data=st.data(),
        field=st.sampled_from(("agent_id", "team", "language", "started_at", "caller_id")),
        shift_h=st.integers(min_value=1, max_value=3000),
    )
    def rectify(self, data: st.DataObject, field: str, shift_h: int) -> None:
        call_id = self._pick(data)
        if call_id is None:
            return
        value = {
            "agent_id": data.draw(st.sampled_from(AGENTS)),
            "team": data.draw(st.sampled_from((*TEAMS, "Paris-3"))),
            "language": data.draw(st.sampled_from(("fr", "en", "de"))),
            "started_at": (self.now - timedelta(hours=shift_h)).isoformat(),
            "caller_id": data.draw(st.sampled_from(CALLERS)),
        }[field]
        with contextlib.suppress(NotFoundError, UsageError):
            governance.rectify(self.store, call_id, {field: value}, now=self.now, actor="t")
            if field == "caller_id":
                self.caller_of[call_id] = value

    @rule(data=st.data())
    def review(self, data: st.DataObject) -> None:
        call_id = self._pick(data)
        if call_id is None:
            return
        with contextlib.suppress(NotFoundError, UsageError, GovernanceError):
            mark_reviewed(self.store, call_id, actor="t", comment="seen", now=self.now)

    @rule(hours=st.integers(min_value=1, max_value=24 * 40))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours, seconds=13)

    @invariant()
    def rollups_equal_rows(self) -> None:
        # Every read under every filter after every step made this test a third of the
        # suite's time; a rollup that drifts stays wrong until a later write mends it, so
        # each step checks the unfiltered reads and one filter in turn, and the teardown
        # checks them all.
        rotating = FILTERS[1 + self.checks % (len(FILTERS) - 1)]
        self.checks += 1
        for moment in (self.now, self.now + timedelta(hours=11, seconds=1)):
            check_reads(self.store, moment, (FILTERS[0], rotating))


@pytest.mark.slow
def test_rollup_reads_equal_row_level_reads_after_random_writes(
    request: pytest.FixtureRequest,
) -> None:
    if TEST_BACKEND == "postgresql":
        server = request.getfixturevalue("postgres")

        def make(home: Path) -> Settings:
            return replace(load_settings(home, env={}), database_url=server.new_database())
    else:

        def make(home: Path) -> Settings:
            return load_settings(home, env={})

    RollupMachine.make_settings = staticmethod(make)  # type: ignore[assignment]
    run_state_machine_as_test(
        RollupMachine,
        settings=hsettings(
            max_examples=EXAMPLES,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_a_migrated_workspace_is_backfilled(store: Store) -> None:
    """Rows written before the rollup existed (raw, untracked) are counted once rebuilt."""
    from analytics.store import rollups

    for i in range(6):
        add_call(store, f"m{i}", started_at=NOW - timedelta(days=i * 9, hours=3), score=50 + i)
    with store.write() as conn:
        conn.exec_driver_sql("DELETE FROM rollup_daily")
    assert agg.kpis(store, NOW)["calls"] == 0  # the rollup is what the overview reads
    with store.write() as conn:
        rollups.rebuild(conn)
    same(agg.kpis(store, NOW), agg.kpis_rows(store, NOW), "kpis")
    assert agg.kpis(store, NOW)["calls"] == 6


def test_a_hold_keeps_a_call_past_retention_in_the_rollup_reads(store: Store) -> None:
    add_call(store, "old", started_at=NOW - timedelta(days=150), team="T")
    add_call(store, "new", started_at=NOW - timedelta(days=2), team="T")
    governance.hold(store, "old", "dispute", now=NOW, actor="t")
    later = NOW + timedelta(days=60)  # "old" is now past retention; only the hold keeps it
    assert agg.kpis(store, later)["calls"] == 2
    assert (
        agg.filter_options(store, later)["first"] == agg.filter_options_rows(store, later)["first"]
    )
    governance.release(store, "old", now=later, actor="t")
    assert agg.kpis(store, later)["calls"] == 1
    same(agg.weekly_trends(store, later), agg.weekly_trends_rows(store, later), "weekly")


def test_a_filter_the_rollup_does_not_key_is_answered_from_the_rows(store: Store) -> None:
    add_call(store, "a", started_at=NOW - timedelta(days=1))
    add_call(store, "b", started_at=NOW - timedelta(days=1))
    assert agg.kpis(store, NOW, CallFilter(call_ids=["a"]))["calls"] == 1


def test_the_alert_list_reads_on_both_backends(store: Store) -> None:
    """Its per-call lists of speakers and categories are SQL of both dialects."""
    add_call(store, "loud", started_at=NOW - timedelta(days=1), abuse_severity="high")
    add_call(store, "calm", started_at=NOW - timedelta(days=1))
    (alert,) = agg.alerts(store, NOW)
    assert (alert["call_id"], alert["speakers"], alert["categories"]) == (
        "loud",
        ["customer"],
        ["insult"],
    )
    assert alert["fired"] == ["test"]
