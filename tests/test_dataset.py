"""analytics.dataset: governed pandas frames, their dtypes, filters, and the Parquet export."""

from __future__ import annotations

import random
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from dataset_fixtures import (
    RUBRIC,
    BuiltWorkspace,
    add_processed_call,
    build_workspace,
    realistic_analysis,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import clock
from analytics.config import Settings, load_settings
from analytics.dataset import (
    ABUSE_EVENT_COLUMNS,
    CALL_COLUMNS,
    RUBRIC_COLUMNS,
    SEGMENT_COLUMNS,
    SEVERITY_DTYPE,
    load_abuse_events,
    load_calls,
    load_rubric,
    load_segments,
    to_moment,
)
from analytics.errors import NotFoundError, UsageError
from analytics.export import export_calls
from analytics.governance import hold, object_calls, purge, release
from analytics.quality import RUBRIC_ITEMS
from analytics.store import Store, rights

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LOADERS = (load_calls, load_segments, load_rubric, load_abuse_events)


@pytest.fixture(autouse=True)
def _no_callqa_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CALLQA_RETENTION_DAYS in the developer's shell must not change what is visible.
    import os

    for var in [v for v in os.environ if v.startswith("CALLQA_")]:
        monkeypatch.delenv(var)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltWorkspace:
    return build_workspace(tmp_path_factory.mktemp("dataset") / "ws", now=NOW)


@pytest.fixture(scope="module")
def calls(built: BuiltWorkspace) -> pd.DataFrame:
    return load_calls(built.home)


@pytest.fixture(scope="module")
def segments(built: BuiltWorkspace) -> pd.DataFrame:
    return load_segments(built.home)


# --- governance: what a frame may hold ----------------------------------------------


def test_calls_are_exactly_the_visible_ones(built: BuiltWorkspace, calls: pd.DataFrame) -> None:
    assert set(calls["call_id"]) == built.visible
    assert calls["call_id"].is_unique
    assert not set(calls["call_id"]) & built.hidden
    assert built.held <= set(calls["call_id"])  # old but held: still there


@pytest.mark.parametrize("loader", [load_segments, load_rubric, load_abuse_events])
def test_other_frames_hold_only_visible_calls(built: BuiltWorkspace, loader: object) -> None:
    frame = loader(built.home)  # type: ignore[operator]
    assert len(frame) > 0
    assert set(frame["call_id"]) <= built.visible
    assert not set(frame["call_id"]) & built.hidden


def test_every_visible_call_has_its_segments_and_rubric(
    built: BuiltWorkspace, segments: pd.DataFrame
) -> None:
    assert set(segments["call_id"]) == built.visible
    assert set(load_rubric(built.home)["call_id"]) == built.visible


def test_a_later_objection_removes_the_call_from_every_frame(tmp_path: Path) -> None:
    ws = build_workspace(tmp_path / "ws", now=NOW, calls=6)
    victim = sorted(ws.visible - ws.held)[0]
    assert victim in set(load_segments(ws.home)["call_id"])
    with Store.open(load_settings(ws.home)) as store:
        object_calls(store, call_id=victim, now=NOW, actor="test")
    for loader in LOADERS:
        assert victim not in set(loader(ws.home)["call_id"])
    assert set(load_calls(ws.home)["call_id"]) == ws.visible - {victim}


def test_calls_leave_when_retention_passes_but_held_ones_stay(
    built: BuiltWorkspace, calls: pd.DataFrame
) -> None:
    later = NOW + timedelta(days=200)  # every fixture call is then past 183 days
    with clock.frozen(later):
        assert set(load_calls(built.home)["call_id"]) == built.held
        assert set(load_segments(built.home)["call_id"]) == built.held


def test_releasing_a_hold_on_an_old_call_removes_it(tmp_path: Path) -> None:
    ws = build_workspace(tmp_path / "ws", now=NOW, calls=2)
    (held_id,) = ws.held
    assert held_id in set(load_calls(ws.home)["call_id"])
    with Store.open(load_settings(ws.home)) as store:
        release(store, held_id, now=NOW, actor="test")
    assert held_id not in set(load_calls(ws.home)["call_id"])
    assert held_id not in set(load_segments(ws.home)["call_id"])


# --- dtypes and content --------------------------------------------------------------


def _assert_dtypes(frame: pd.DataFrame, columns: dict[str, object]) -> None:
    for name, dtype in columns.items():
        actual = frame[name].dtype
        if dtype == "datetime":
            assert isinstance(actual, pd.DatetimeTZDtype) and str(actual.tz) == "UTC", name
        elif dtype == "category":
            assert isinstance(actual, pd.CategoricalDtype), name
        else:
            assert actual == dtype, (name, actual, dtype)


@pytest.mark.parametrize(
    ("loader", "columns"),
    [
        (load_calls, CALL_COLUMNS),
        (load_segments, SEGMENT_COLUMNS),
        (load_rubric, RUBRIC_COLUMNS),
        (load_abuse_events, ABUSE_EVENT_COLUMNS),
    ],
)
def test_frames_have_analysis_dtypes(
    built: BuiltWorkspace, loader: object, columns: dict[str, object]
) -> None:
    frame = loader(built.home)  # type: ignore[operator]
    assert list(frame.columns[: len(columns)]) == list(columns)
    _assert_dtypes(frame, columns)


def test_call_dtypes_named_in_the_issue(calls: pd.DataFrame) -> None:
    assert str(calls["started_at"].dt.tz) == "UTC"
    for name in ("team", "agent_id", "language", "abuse_severity"):
        assert isinstance(calls[name].dtype, pd.CategoricalDtype), name
    assert calls["abuse_severity"].dtype == SEVERITY_DTYPE
    assert calls["abuse_severity"].cat.ordered
    assert calls["abuse_flagged"].dtype == "boolean"
    assert calls["quality_hold_etiquette"].isna().any()  # None kept as <NA>, not False
    assert calls["quality_score"].dtype == "Int64"
    assert calls["call_id"].dtype == "string"
    assert calls["started_at"].is_monotonic_increasing


def test_pii_columns_count_the_placeholders_in_the_segments(
    calls: pd.DataFrame, segments: pd.DataFrame
) -> None:
    pii_columns = [c for c in calls.columns if c.startswith("pii_")]
    assert {"pii_PERSON", "pii_LOCATION"} <= set(pii_columns)
    for column in pii_columns:
        assert calls[column].dtype == "Int64"
        assert not calls[column].isna().any()
    kind_counts = (
        segments.assign(kinds=segments["text"].map(lambda t: re.findall(r"<([A-Z_]+)>", t)))
        .explode("kinds")
        .dropna(subset=["kinds"])
        .groupby(["call_id", "kinds"])
        .size()
    )
    for row in calls.itertuples(index=False):
        for column in pii_columns:
            expected = kind_counts.get((row.call_id, column.removeprefix("pii_")), 0)
            assert getattr(row, column) == expected, (row.call_id, column)


def test_rubric_explains_the_score(built: BuiltWorkspace, calls: pd.DataFrame) -> None:
    rubric = load_rubric(built.home)
    # As analytics.quality scores: 100 x earned / weight of the items that apply.
    sums = rubric.groupby("call_id", observed=True)[["earned", "weight"]].sum()
    expected = (100 * sums["earned"] / sums["weight"]).round().astype(int)
    scores = calls.set_index("call_id")["quality_score"].astype(int)
    assert (expected.reindex(scores.index) == scores).all()
    assert (rubric["applicable"] == (rubric["weight"] > 0)).all()
    assert (~rubric["applicable"]).any()  # hold etiquette without a hold
    assert not rubric.loc[~rubric["applicable"], "missed"].any()
    assert (rubric["missed"] == (rubric["earned"] < rubric["weight"])).all()
    assert rubric["missed"].any() and not rubric["missed"].all()


def test_fixture_rubric_items_are_the_scorers_items() -> None:
    # Keeps the fixture (and so the coaching notebook's test data) true to analytics.quality.
    assert [name for name, _weight in RUBRIC] == list(RUBRIC_ITEMS)


def test_abuse_events_match_the_flagged_calls(built: BuiltWorkspace, calls: pd.DataFrame) -> None:
    events = load_abuse_events(built.home)
    flagged = set(calls.loc[calls["abuse_flagged"].fillna(False).astype(bool), "call_id"])
    assert flagged and set(events["call_id"]) == flagged
    worst = events.groupby("call_id", observed=True)["severity"].max()
    by_call = calls.set_index("call_id")["abuse_severity"]
    for call_id, severity in worst.items():
        assert by_call[call_id] == severity


def test_segments_are_ordered_within_each_call(segments: pd.DataFrame) -> None:
    for _call_id, group in segments.groupby("call_id", observed=True, sort=False):
        assert list(group["segment"]) == list(range(len(group)))
    assert set(segments["speaker"].cat.categories) == {"agent", "customer", "unknown"}


# --- filters and arguments -----------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2026-10-01", None),
        (None, "2026-10-15T00:00:00+00:00"),
        (date(2026, 9, 15), date(2026, 10, 20)),
        (datetime(2026, 10, 1, 9, 30), None),  # naive: UTC
        (
            datetime(2026, 10, 1, 11, 30, tzinfo=UTC) + timedelta(hours=0),
            "2026-11-20T10:00:00+01:00",
        ),
    ],
)
def test_since_until_accept_strings_dates_and_datetimes(
    built: BuiltWorkspace, calls: pd.DataFrame, since: object, until: object
) -> None:
    frame = load_calls(built.home, since=since, until=until)  # type: ignore[arg-type]
    keep = pd.Series(True, index=calls.index)
    if since is not None:
        keep &= calls["started_at"] >= pd.Timestamp(to_moment(since))  # type: ignore[arg-type]
    if until is not None:
        keep &= calls["started_at"] < pd.Timestamp(to_moment(until))  # type: ignore[arg-type]
    assert 0 < keep.sum() < len(calls)
    assert list(frame["call_id"]) == list(calls.loc[keep, "call_id"])
    seg_ids = set(load_segments(built.home, since=since, until=until)["call_id"])  # type: ignore[arg-type]
    assert seg_ids == set(frame["call_id"])


def test_until_is_exclusive(built: BuiltWorkspace, calls: pd.DataFrame) -> None:
    last = calls.iloc[-1]
    moment = last["started_at"].to_pydatetime()
    assert last["call_id"] not in set(load_calls(built.home, until=moment)["call_id"])
    assert last["call_id"] in set(load_calls(built.home, since=moment)["call_id"])


@pytest.mark.parametrize(
    ("team", "agent"),
    [
        ("Niort-Sinistres", None),
        (["Niort-Auto", "Lyon-Voyage"], None),
        (None, "A102"),
        ("Niort-Auto", ["A101", "A201"]),
    ],
)
def test_team_and_agent_filters(
    built: BuiltWorkspace,
    calls: pd.DataFrame,
    team: str | list[str] | None,
    agent: str | list[str] | None,
) -> None:
    frame = load_calls(built.home, team=team, agent=agent)
    keep = pd.Series(True, index=calls.index)
    if team is not None:
        keep &= calls["team"].isin([team] if isinstance(team, str) else team)
    if agent is not None:
        keep &= calls["agent_id"].isin([agent] if isinstance(agent, str) else agent)
    assert keep.sum() > 0
    assert list(frame["call_id"]) == list(calls.loc[keep, "call_id"])
    for loader in (load_segments, load_rubric):
        narrowed = loader(built.home, team=team, agent=agent)
        assert set(narrowed["call_id"]) == set(frame["call_id"])


def test_home_may_be_a_path_a_string_settings_or_the_environment(
    built: BuiltWorkspace, calls: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_ = load_settings(built.home)
    assert isinstance(settings_, Settings)
    for home in (built.home, str(built.home), settings_):
        pd.testing.assert_frame_equal(load_calls(home), calls)
    monkeypatch.setenv("CALLQA_HOME", str(built.home))
    pd.testing.assert_frame_equal(load_calls(), calls)


def test_settings_retention_is_honoured(built: BuiltWorkspace, calls: pd.DataFrame) -> None:
    short = load_settings(built.home, env={"CALLQA_RETENTION_DAYS": "30"})
    frame = load_calls(short)
    recent = calls["started_at"] >= pd.Timestamp(NOW - timedelta(days=30))
    assert set(frame["call_id"]) == set(calls.loc[recent, "call_id"]) | built.held
    assert len(frame) < len(calls)


def test_a_missing_workspace_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    for loader in LOADERS:
        with pytest.raises(NotFoundError, match="no callqa workspace"):
            loader(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_workspace_gives_empty_typed_frames(tmp_path: Path) -> None:
    Store.open(load_settings(tmp_path / "ws")).close()
    for loader, columns in (
        (load_calls, CALL_COLUMNS),
        (load_segments, SEGMENT_COLUMNS),
        (load_rubric, RUBRIC_COLUMNS),
        (load_abuse_events, ABUSE_EVENT_COLUMNS),
    ):
        frame = loader(tmp_path / "ws")
        assert frame.empty
        extra = ["categories"] if loader is load_calls else []  # after the pii_* columns
        assert list(frame.columns) == [*columns, *extra]
        _assert_dtypes(frame, columns)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T09:14:00", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20T09:14:00Z", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20T10:14:00+01:00", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        (" 2026-11-20 ", datetime(2026, 11, 20, tzinfo=UTC)),
        (date(2026, 11, 20), datetime(2026, 11, 20, tzinfo=UTC)),
        (datetime(2026, 11, 20, 9, 14), datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        (pd.Timestamp("2026-11-20T09:14:00Z"), datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
    ],
)
def test_to_moment(value: object, expected: datetime) -> None:
    moment = to_moment(value)  # type: ignore[arg-type]
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("bad", ["yesterday", "20/11/2026", "2026-13-01", ""])
def test_unreadable_dates_are_usage_errors(built: BuiltWorkspace, bad: str) -> None:
    with pytest.raises(UsageError, match="ISO 8601"):
        load_calls(built.home, since=bad)


@given(st.datetimes(timezones=st.timezones(), allow_imaginary=False))
def test_to_moment_reads_back_any_isoformat(moment: datetime) -> None:
    # Compared in UTC: an ambiguous local time (DST fold) never equals across zones.
    assert to_moment(moment.isoformat()) == moment.astimezone(UTC)
    assert to_moment(moment) == moment.astimezone(UTC)


# --- Parquet export ------------------------------------------------------------------


def _export(home: Path, out: Path, now: datetime = NOW) -> int:
    with Store.open(load_settings(home)) as store:
        return export_calls(store, "parquet", out, now=now, actor="test")


def test_parquet_export_writes_both_files_with_only_visible_calls(
    built: BuiltWorkspace, tmp_path: Path
) -> None:
    out = tmp_path / "export" / "calls.parquet"
    assert _export(built.home, out) == len(built.visible)
    seg_path = tmp_path / "export" / "calls.segments.parquet"
    assert out.is_file() and seg_path.is_file()
    exported = pd.read_parquet(out)
    exported_segs = pd.read_parquet(seg_path)
    assert set(exported["call_id"]) == built.visible
    assert set(exported_segs["call_id"]) == built.visible
    assert not (set(exported["call_id"]) | set(exported_segs["call_id"])) & built.hidden


def _exported_and_loaded(
    built: BuiltWorkspace, calls: pd.DataFrame, segments: pd.DataFrame, tmp_path: Path
) -> list[tuple[str, pd.DataFrame, pd.DataFrame, list[str]]]:
    """(file name, read back, loaded, shared columns) for the calls and segments files."""
    out = tmp_path / "calls.parquet"
    _export(built.home, out)
    pairs = []
    for path, frame in ((out, calls), (tmp_path / "calls.segments.parquet", segments)):
        exported = pd.read_parquet(path)
        # categories: JSON text of names with evidence in the file, a list of names in
        # load_calls (two forms of one field, compared in test_categorize.py)
        shared = [c for c in frame.columns if c in exported.columns and c != "categories"]
        pairs.append((path.name, exported, frame, shared))
    return pairs


def test_parquet_dtypes_round_trip_to_the_dataframe_dtypes(
    built: BuiltWorkspace, calls: pd.DataFrame, segments: pd.DataFrame, tmp_path: Path
) -> None:
    for name, exported, frame, shared in _exported_and_loaded(built, calls, segments, tmp_path):
        assert {"call_id", "started_at", "team", "agent_id", "language"} <= set(shared)
        mismatched = {
            c: (str(exported[c].dtype), str(frame[c].dtype))
            for c in shared
            if exported[c].dtype != frame[c].dtype
        }
        assert not mismatched, f"{name}: parquet vs DataFrame dtypes {mismatched}"


def test_parquet_values_match_the_dataframes(
    built: BuiltWorkspace, calls: pd.DataFrame, segments: pd.DataFrame, tmp_path: Path
) -> None:
    def plain(frame: pd.DataFrame, shared: list[str]) -> pd.DataFrame:
        keys = [k for k in ("call_id", "segment") if k in shared]
        values = frame[shared].astype(object)
        return values.where(values.notna(), None).sort_values(keys).reset_index(drop=True)

    pairs = _exported_and_loaded(built, calls, segments, tmp_path)
    assert {"quality_score", "abuse_severity", "pii_PERSON"} <= set(pairs[0][3])
    assert {"segment", "speaker", "text"} <= set(pairs[1][3])
    for _name, exported, frame, shared in pairs:
        pd.testing.assert_frame_equal(plain(exported, shared), plain(frame, shared))


# --- random mixes of states and dates (hypothesis) -----------------------------------

KINDS = ("done", "pending", "failed", "objected_at_ingest", "objected_later", "objection_row_only")
call_spec = st.tuples(
    st.integers(0, 400),  # days before NOW; retention is 183 days
    st.sampled_from(KINDS),
    st.booleans(),  # litigation hold
    st.integers(0, 3),  # caller
)


def _should_show(
    days_ago: int, kind: str, held: bool, caller: int, objected_callers: set[int]
) -> bool:
    return kind == "done" and caller not in objected_callers and (days_ago <= 183 or held)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(call_spec, min_size=1, max_size=7),
    objected_callers=st.sets(st.integers(0, 3), max_size=2),
    run_purge=st.booleans(),
)
def test_random_mixes_never_show_objected_or_expired_calls(
    specs: list[tuple[int, str, bool, int]], objected_callers: set[int], run_purge: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "ws"
        expected = _build_mix(home, specs, objected_callers, run_purge)
        hidden = {f"k{i}" for i in range(len(specs))} - expected
        settings_ = load_settings(home, env={})
        frames = {loader.__name__: loader(settings_) for loader in LOADERS}
        assert set(frames["load_calls"]["call_id"]) == expected
        assert set(frames["load_segments"]["call_id"]) == expected
        assert set(frames["load_rubric"]["call_id"]) == expected
        flagged = frames["load_calls"]["abuse_flagged"].fillna(False).astype(bool)
        assert set(frames["load_abuse_events"]["call_id"]) == set(
            frames["load_calls"].loc[flagged, "call_id"]
        )
        out = Path(tmp) / "out.parquet"
        assert _export(home, out) == len(expected)
        for path in (out, Path(tmp) / "out.segments.parquet"):
            exported = pd.read_parquet(path)
            ids = set(exported["call_id"]) if "call_id" in exported.columns else set()
            assert len(exported) >= len(ids) == len(expected)
            assert ids == expected, path.name
            assert not ids & hidden


def _build_mix(
    home: Path, specs: list[tuple[int, str, bool, int]], objected_callers: set[int], run_purge: bool
) -> set[str]:
    rng = random.Random(len(specs))
    expected = set()
    with Store.open(load_settings(home, env={})) as store:
        for i, (days_ago, kind, held, caller) in enumerate(specs):
            call_id = f"k{i}"
            state = {
                "pending": "pending",
                "failed": "failed",
                "objected_at_ingest": "objected",
            }.get(kind, "done")
            add_processed_call(
                store,
                call_id,
                started_at=NOW - timedelta(days=days_ago),
                agent_id="A101",
                team="Niort-Auto",
                analysis=realistic_analysis(rng, call_id, "A101", "Niort-Auto"),
                now=NOW,
                caller_id=f"06 11 22 33 0{caller}",
                legal_hold=held,
                state=state,
            )
            if kind == "objected_later":
                object_calls(store, call_id=call_id, now=NOW, actor="test")
            elif kind == "objection_row_only":
                # An objection filed while the call's state still says done (a read racing it).
                with store.write() as conn:
                    rights.add_objection(conn, call_id, None, actor="test", now=NOW)
            if _should_show(days_ago, kind, held, caller, objected_callers):
                expected.add(call_id)
        for caller in objected_callers:
            object_calls(store, caller_id=f"06 11 22 33 0{caller}", now=NOW, actor="test")
        if run_purge:
            purge(store, now=NOW, actor="test")
    return expected


def test_a_hold_placed_before_expiry_keeps_the_call_visible(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Store.open(load_settings(home, env={})) as store:
        add_processed_call(
            store,
            "old",
            started_at=NOW - timedelta(days=150),
            agent_id="A1",
            team="T",
            analysis=realistic_analysis(random.Random(1), "old", "A1", "T"),
            now=NOW,
        )
        hold(store, "old", "dispute 2026-17", now=NOW, actor="test")
    later = NOW + timedelta(days=100)
    with clock.frozen(later):
        assert list(load_calls(home)["call_id"]) == ["old"]
        with Store.open(load_settings(home, env={})) as store:
            release(store, "old", now=later, actor="test")
        assert load_calls(home).empty
        assert load_segments(home).empty


def test_the_package_re_exports_the_loaders() -> None:
    import analytics
    import analytics.dataset

    assert analytics.load_calls is analytics.dataset.load_calls
    assert analytics.load_segments is analytics.dataset.load_segments
