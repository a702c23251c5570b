"""The Streamlit dashboard through AppTest: login, every page for every role,
refusals, auditing once per view, reviews, the redacted audio, and no hidden call
anywhere on a page."""

from __future__ import annotations

import ast
import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import (
    AUDIO_CALL,
    FLAGGED_AGENT,
    FLAGGED_CUSTOMER,
    HELD_OLD,
    HIDDEN_CALLS,
    PASSWORDS,
    PLANTED,
    ROLE_MATRIX,
    USERS,
    Workspace,
    build_workspace,
    copy_workspace,
)
from factories import NOW, add_call
from streamlit.testing.v1 import AppTest

from analytics import audit, auth, evidence, governance
from analytics.store import Store, accounts
from analytics.store import aggregates as agg
from analytics.workspace import load_evidence_key
from dashboard import APP_PATH, ui

DASHBOARD = APP_PATH.parent

PAGE_FILES = {
    "overview": "views/overview.py",
    "agents": "views/agents.py",
    "alerts": "views/alerts.py",
    "call_review": "views/call_review.py",
    "governance": "views/governance.py",
    "search": "views/search.py",
    "categories": "views/categories.py",
    "drivers": "views/drivers.py",
    "find_calls": "views/find_calls.py",
    "my_evaluations": "views/my_evaluations.py",
    "disputes": "views/disputes.py",
    "calibration": "views/calibration.py",
    "coaching": "views/coaching.py",
}
TITLES = {
    "overview": "Overview",
    "agents": "Agents & teams",
    "alerts": "Abuse alerts",
    "call_review": "Call review",
    "governance": "Governance",
    "search": "Search",
    "categories": "Categories",
    "drivers": "Call drivers",
    "find_calls": "Find calls",
    "my_evaluations": "My evaluations",
    "disputes": "Disputes",
    "calibration": "Calibration",
    "coaching": "Coaching",
}
LINK_LABELS = {v: k for k, v in TITLES.items()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("dash") / "ws")


@pytest.fixture
def home(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CALLQA_HOME", str(workspace.settings.home))
    return workspace.settings.home


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace built once per module, never opened: ``own_home`` copies it."""
    return build_workspace(tmp_path_factory.mktemp("dash-built") / "ws").settings.home


@pytest.fixture
def own_home(built_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace of its own, for tests that write or count audit rows."""
    home = copy_workspace(built_home, tmp_path / "ws")
    monkeypatch.setenv("CALLQA_HOME", str(home))
    return home


@pytest.fixture
def store_of() -> Iterator[Any]:
    opened: list[Store] = []

    def open_store(home: Path) -> Store:
        from analytics.config import load_settings

        opened.append(Store.open(load_settings(home=home, env={})))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


def new_app() -> AppTest:
    return AppTest.from_file(str(APP_PATH), default_timeout=60).run()


def sign_in(role: str, password: str | None = None) -> AppTest:
    at = new_app()
    name_box, password_box = at.text_input[0], at.text_input[1]
    assert (name_box.label, password_box.label) == ("User name", "Password")
    name_box.input(USERS[role])
    password_box.input(PASSWORDS[role] if password is None else password)
    at.button[0].click().run()
    return at


def open_page(at: AppTest, page: str, **params: str) -> AppTest:
    at.switch_page(PAGE_FILES[page])
    at.query_params.clear()
    at.query_params.update(params)
    return at.run()


def nodes(at: AppTest, kind: str) -> list[Any]:
    return [node for node in at._tree if getattr(node, "type", None) == kind]


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def page_bytes(at: AppTest) -> bytes:
    """Everything the page sends to the browser (text, tables as Arrow, charts' data)."""
    return b"".join(
        node.proto.SerializeToString() for node in at._tree if getattr(node, "proto", None)
    )


def audit_rows(home: Path, store_of: Any, action: str) -> list[dict[str, Any]]:
    return audit.entries(store_of(home), action=action)


# --- login ---------------------------------------------------------------------------


def test_visitor_sees_only_the_login_form(home: Path) -> None:
    at = new_app()
    assert not at.exception
    assert titles(at) == ["callqa"]
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert nodes(at, "page_link") == []
    assert at.metric.len == 0


def test_login_failure_is_refused_and_audited(own_home: Path, store_of: Any) -> None:
    at = sign_in("quality_manager", password="not-the-password")
    assert not at.exception
    assert [e.value for e in at.error] == ["Sign-in failed: unknown user or wrong password."]
    assert titles(at) == ["callqa"] and nodes(at, "page_link") == []
    (failed,) = audit_rows(own_home, store_of, "login_failed")
    assert failed["actor"] == USERS["quality_manager"]
    assert "not-the-password" not in json.dumps(failed)
    assert audit_rows(own_home, store_of, "login") == []


@pytest.mark.parametrize("role", auth.ROLES)
def test_login_lands_on_the_first_allowed_page_with_only_allowed_links(
    home: Path, role: str
) -> None:
    at = sign_in(role)
    assert not at.exception
    allowed = auth.allowed_pages(role)
    assert titles(at) == [TITLES[allowed[0]]]
    links = [LINK_LABELS[link.proto.label] for link in nodes(at, "page_link")]
    assert links == allowed
    assert ui.md_escape(USERS[role]) in " ".join(m.value for m in at.sidebar.markdown)


def test_sign_out_returns_to_the_login_form(home: Path) -> None:
    at = sign_in("data_scientist")
    at.sidebar.button[0].click().run()
    assert titles(at) == ["callqa"]
    assert nodes(at, "page_link") == []


# --- permissions -----------------------------------------------------------------------

ROLE_PAGE = [(role, page) for role in auth.ROLES for page in auth.PAGES]


@pytest.mark.parametrize(("role", "page"), ROLE_PAGE)
def test_every_page_for_every_role_renders_or_refuses(home: Path, role: str, page: str) -> None:
    at = open_page(sign_in(role), page)
    assert not at.exception, at.exception
    # The app wraps every page: its sidebar lists only the role's pages.
    assert [LINK_LABELS[link.proto.label] for link in nodes(at, "page_link")] == (
        auth.allowed_pages(role)
    )
    errors = [e.value for e in at.error]
    if auth.can(role, page):
        assert TITLES[page] in titles(at)
        assert not errors
    else:
        assert titles(at) == []
        assert len(errors) == 1 and errors[0].startswith("Access refused")
        assert at.metric.len == 0 and at.dataframe.len == 0


def test_trainer_opening_governance_is_refused_once_in_the_audit(
    own_home: Path, store_of: Any
) -> None:
    at = open_page(sign_in("trainer"), "governance")
    at.run()  # a rerun of the same view must not audit again
    assert next(e.value for e in at.error).startswith("Access refused")
    (denied,) = audit_rows(own_home, store_of, "access_denied")
    assert denied["actor"] == USERS["trainer"]
    assert json.loads(denied["detail"]) == {"page": "governance", "role": "trainer"}
    # Leaving and coming back is a new attempt.
    open_page(at, "alerts")
    open_page(at, "governance")
    assert len(audit_rows(own_home, store_of, "access_denied")) == 2
    assert audit.verify(store_of(own_home)) == []


# --- overview and agents ----------------------------------------------------------------


def test_overview_kpis_match_the_aggregates_and_follow_the_team_filter(
    home: Path, store_of: Any
) -> None:
    store = store_of(home)
    at = sign_in("quality_manager")
    expected = agg.kpis(store, NOW)
    shown = metrics(at)
    assert shown["Calls"] == f"{expected['calls']:,}" == "16"
    assert shown["Average score"] == f"{expected['avg_score']:,.1f}"
    assert shown["Abuse rate"] == f"{expected['abuse_rate'] * 100:.2f} %"
    assert shown["Non-talk ratio"] == f"{expected['non_talk_ratio'] * 100:.1f} %"
    assert len(nodes(at, "vega_lite_chart")) == 4
    team = at.multiselect(key="f_teams")
    assert team.options == ["Lyon-2", "Niort-1"]
    team.select("Lyon-2").run()
    niort_free = agg.kpis(store, NOW, at.session_state["_callqa_filters"].call_filter())
    assert metrics(at)["Calls"] == str(niort_free["calls"]) == "8"
    # The agent list narrows to the team's agents.
    assert at.multiselect(key="f_agents").options == ["A101", "A103"]


def test_filters_follow_the_user_to_the_agents_page(home: Path) -> None:
    at = sign_in("quality_manager")
    at.multiselect(key="f_teams").select("Niort-1").run()
    open_page(at, "agents")
    assert at.multiselect(key="f_teams").value == ["Niort-1"]
    teams_table = at.dataframe[0].value
    assert list(teams_table["team"]) == ["Niort-1"]


def test_agents_page_league_tables_and_drill_down(home: Path, store_of: Any) -> None:
    at = open_page(sign_in("quality_manager"), "agents")
    teams_table, agents_table = at.dataframe[0].value, at.dataframe[1].value
    assert set(teams_table["team"]) == {"Lyon-2", "Niort-1"}
    assert agents_table.empty  # every agent has fewer than 10 calls here
    at.slider(key="min_calls").set_value(1).run()
    agents_table = at.dataframe[1].value
    league = agg.league_table(store_of(home), NOW, by="agent")
    assert list(agents_table["agent"]) == [row["agent"] for row in league]
    at.selectbox(key="drill_agent").select("A102").run()
    calls = at.dataframe[-1].value
    assert AUDIO_CALL in set(calls["call_id"])
    assert set(calls["call_id"]) <= {f"c{i:02d}" for i in range(12)} | {AUDIO_CALL}
    # Opening one of them switches to the call review with the call in the URL.
    at.selectbox(key="drill_call").select(AUDIO_CALL)
    next(b for b in at.button if b.label == "Open in call review").click().run()
    assert titles(at) == ["Call review"]
    assert at.selectbox(key="cr_call").value == AUDIO_CALL


def test_data_scientist_sees_aggregates_only_on_the_agents_page(home: Path) -> None:
    at = open_page(sign_in("data_scientist"), "agents")
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Teams", "Agents", "Distributions"]
    slider = at.slider(key="min_calls")
    assert slider.min == auth.MIN_GROUP_CALLS
    slider.set_value(auth.MIN_GROUP_CALLS).run()
    agents_table = at.dataframe[1].value
    assert (agents_table["calls"] >= auth.MIN_GROUP_CALLS).all()
    for frame in (df.value for df in at.dataframe):
        assert "call_id" not in frame.columns
    body = page_bytes(at)
    for call_id in (AUDIO_CALL, FLAGGED_CUSTOMER, FLAGGED_AGENT, HELD_OLD):
        assert call_id.encode() not in body
    assert "aggregates only" in " ".join(c.value for c in at.caption)


# --- alerts ------------------------------------------------------------------------------


def test_alerts_are_listed_newest_first_and_filtered(home: Path) -> None:
    at = open_page(sign_in("trainer"), "alerts")
    table = at.dataframe[0].value
    assert list(table["call_id"]) == [FLAGGED_CUSTOMER, FLAGGED_AGENT]
    assert list(table["severity"]) == ["high", "low"]
    assert list(table["speakers"]) == ["customer", "customer"]
    assert metrics(at)["Alerts awaiting review"] == "2"
    at.multiselect(key="al_severity").select("high").run()
    assert list(at.dataframe[0].value["call_id"]) == [FLAGGED_CUSTOMER]
    # A trainer reads alerts; closing them is for quality managers.
    assert [f for f in nodes(at, "form")] == []
    assert "a quality manager closes them" in " ".join(c.value for c in at.caption)


def test_quality_manager_marks_an_alert_reviewed_with_a_comment(
    own_home: Path, store_of: Any
) -> None:
    at = open_page(sign_in("quality_manager"), "alerts")
    at.selectbox(key="al_call").select(FLAGGED_AGENT)
    at.text_area[0].input("agent debriefed by the team lead")
    next(b for b in at.button if b.label == "Mark reviewed").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        f"Alert on call {ui.md_escape(FLAGGED_AGENT)} marked reviewed."
    ]
    assert list(at.dataframe[0].value["call_id"]) == [FLAGGED_CUSTOMER]  # only open ones left
    assert metrics(at)["Alerts awaiting review"] == "1"
    at.segmented_control(key="al_status").set_value("Reviewed").run()
    table = at.dataframe[0].value
    assert list(table["call_id"]) == [FLAGGED_AGENT]
    assert list(table["review_comment"]) == ["agent debriefed by the team lead"]
    (entry,) = audit_rows(own_home, store_of, "review_abuse")
    assert (entry["actor"], entry["call_id"]) == (USERS["quality_manager"], FLAGGED_AGENT)


def test_an_empty_review_comment_is_refused(own_home: Path, store_of: Any) -> None:
    at = open_page(sign_in("quality_manager"), "alerts")
    next(b for b in at.button if b.label == "Mark reviewed").click().run()
    assert [e.value for e in at.error] == [
        ui.md_escape(f"call {FLAGGED_CUSTOMER}: a review needs a comment")
    ]
    assert audit_rows(own_home, store_of, "review_abuse") == []


# --- call review -----------------------------------------------------------------------


def test_call_review_shows_redacted_transcript_breakdown_and_events(home: Path) -> None:
    at = open_page(sign_in("trainer"), "call_review", call=FLAGGED_CUSTOMER)
    assert not at.exception
    assert at.selectbox(key="cr_call").value == FLAGGED_CUSTOMER
    shown = metrics(at)
    assert (shown["Quality score"], shown["Abuse"]) == ("40", "High")
    speakers = [m.proto.name for m in nodes(at, "chat_message")]
    assert speakers == ["agent", "customer", "agent"]
    text = " ".join(m.value for m in at.markdown)
    assert r"\<PERSON\>" in text  # the placeholder, escaped so that it shows literally
    assert "abuse" in text and ui.md_escape("espèce d'incapable") in text
    breakdown = at.dataframe[0].value
    assert list(breakdown["reason"]) == ["greeted the caller"]
    # the abuse tab's table (the evaluation tab after it has tables of its own)
    events = next(d.value for d in at.dataframe if "category" in d.value.columns)
    assert list(events[["speaker", "category", "severity"]].iloc[0]) == [
        "customer",
        "insult",
        "high",
    ]
    assert len(nodes(at, "vega_lite_chart")) == 1  # the timeline


def test_call_view_is_audited_once_per_view(own_home: Path, store_of: Any) -> None:
    at = open_page(sign_in("trainer"), "call_review", call="c03")
    at.run()
    at.run()
    views = audit_rows(own_home, store_of, "view_call")
    assert [(v["actor"], v["call_id"]) for v in views] == [(USERS["trainer"], "c03")]
    at.selectbox(key="cr_call").select("c04").run()
    at.selectbox(key="cr_call").select("c03").run()
    views = audit_rows(own_home, store_of, "view_call")
    assert [v["call_id"] for v in views] == ["c03", "c04", "c03"]


def test_redacted_audio_plays_from_a_segment_and_is_audited_once(
    own_home: Path, store_of: Any
) -> None:
    at = open_page(sign_in("quality_manager"), "call_review", call=AUDIO_CALL)
    assert nodes(at, "audio") == []  # nothing is sent before the user asks to listen
    assert audit_rows(own_home, store_of, "play_audio") == []
    next(b for b in at.button if b.label == "Listen to the redacted audio").click().run()
    (player,) = nodes(at, "audio")
    # The bytes travel in the session's own message, never as a /media/ URL.
    prefix = "data:audio/ogg;base64,"
    assert player.proto.url.startswith(prefix) and player.proto.start_time == 0
    audio_file = store_of(own_home).settings.redacted_audio_dir / f"{AUDIO_CALL}.ogg"
    assert base64.b64decode(player.proto.url[len(prefix) :]) == audio_file.read_bytes()
    at.selectbox(key=f"cr_seek_{AUDIO_CALL}").set_value(2).run()
    (player,) = nodes(at, "audio")
    assert player.proto.start_time == 8  # segment #2 starts at 8 s
    (played,) = audit_rows(own_home, store_of, "play_audio")
    assert (played["actor"], played["call_id"]) == (USERS["quality_manager"], AUDIO_CALL)


def test_audio_stops_at_once_when_the_call_is_objected_or_the_user_signs_out(
    own_home: Path, store_of: Any
) -> None:
    at = open_page(sign_in("trainer"), "call_review", call=AUDIO_CALL)
    next(b for b in at.button if b.label == "Listen to the redacted audio").click().run()
    assert len(nodes(at, "audio")) == 1
    governance.object_calls(store_of(own_home), call_id=AUDIO_CALL, now=NOW, actor="test")
    at.run()
    assert nodes(at, "audio") == [] and at.warning.len == 1
    at = open_page(sign_in("trainer"), "call_review", call="c01")
    auth.remove_user(store_of(own_home), USERS["trainer"], now=NOW)
    at.run()
    assert titles(at) == ["callqa"] and nodes(at, "audio") == []


@pytest.mark.parametrize(
    ("relative", "served"),
    [
        ("redacted-audio/c-audio.ogg", True),
        ("recordings/c-audio.ogg", False),  # an original recording: never
        ("redacted-audio/../recordings/c-audio.ogg", False),
        ("/etc/passwd", False),
        ("redacted-audio/missing.ogg", False),
        (None, False),
    ],
)
def test_only_files_in_the_redacted_audio_folder_are_served(
    workspace: Workspace, relative: str | None, served: bool
) -> None:
    settings = workspace.settings
    original = settings.recordings_dir / "c-audio.ogg"
    original.write_bytes(b"not to be served")
    found = ui.redacted_audio_file(Store.open(settings), relative)
    assert (found is not None) == served
    if found is not None:
        assert found.parent == settings.redacted_audio_dir.resolve()


@pytest.mark.parametrize("hidden", HIDDEN_CALLS)
def test_hidden_calls_cannot_be_opened_even_by_id(
    own_home: Path, store_of: Any, hidden: str
) -> None:
    at = open_page(sign_in("quality_manager"), "call_review", call=hidden)
    assert [w.value for w in at.warning] == [
        f"Call {ui.md_escape(hidden)} is not available: unknown, not processed, "
        "objected or expired."
    ]
    assert audit_rows(own_home, store_of, "view_call") == []
    body = page_bytes(at)
    for value in PLANTED:
        assert value.encode() not in body


def test_held_call_past_retention_is_still_reviewable(home: Path) -> None:
    at = open_page(sign_in("trainer"), "call_review", call=HELD_OLD)
    assert not at.warning and metrics(at)["Quality score"] == "80"


# --- governance ------------------------------------------------------------------------


def test_governance_shows_objections_holds_purge_and_audit(own_home: Path) -> None:
    at = open_page(sign_in("dpo"), "governance")
    assert not at.exception
    shown = metrics(at)
    assert shown["Objections"] == "2" and shown["Litigation holds"] == "1"
    assert shown["Expired, awaiting purge"] == "0"  # the dashboard purged when it started
    assert shown["Last purge"] != "never"
    objections, holds, log = (df.value for df in at.dataframe)
    assert sorted(objections["by"]) == ["call", "caller"]
    assert list(holds["call_id"]) == [HELD_OLD]
    assert {"login", "purge", "user_add"} <= set(log["action"])
    next(b for b in at.button if b.label == "Verify the audit chain").click().run()
    assert [s.value for s in at.success] == [
        "The audit chain is intact: every entry follows the one before it."
    ]
    at.selectbox(key="gv_action").select("login").run()
    assert set(at.dataframe[2].value["action"]) == {"login"}


def test_governance_reports_a_tampered_audit_log(own_home: Path, store_of: Any) -> None:
    store = store_of(own_home)
    with store.write() as conn:
        conn.exec_driver_sql("UPDATE audit SET actor = 'someone-else' WHERE id = 1")
    at = open_page(sign_in("dpo"), "governance")
    next(b for b in at.button if b.label == "Verify the audit chain").click().run()
    assert [e.value for e in at.error] == ["The audit log was altered: 1 problem(s)."]


def test_governance_lists_held_calls_and_the_dpo_exports_a_verifiable_pack(
    own_home: Path, store_of: Any
) -> None:
    at = open_page(sign_in("dpo"), "governance")
    holds = at.dataframe[1].value
    assert list(zip(holds["call_id"], holds["reason"], strict=True)) == [
        (HELD_OLD, "legal_hold set in the metadata")
    ]
    assert at.selectbox(key="gv_evidence_call").options == [HELD_OLD]
    assert at.download_button.len == 0  # nothing is exported before it is asked for
    assert audit_rows(own_home, store_of, "evidence_export") == []
    next(b for b in at.button if b.label == "Prepare the evidence pack").click().run()
    assert not at.exception and not at.error
    (download,) = at.download_button
    assert download.label == "Download the evidence pack"
    at.run()  # a rerun shows the same pack and exports nothing more
    (entry,) = audit_rows(own_home, store_of, "evidence_export")
    assert (entry["actor"], entry["call_id"]) == (USERS["dpo"], HELD_OLD)
    call_id, data, info = at.session_state["gv_evidence_pack"]
    assert call_id == HELD_OLD and info.exported_by == USERS["dpo"]
    key = load_evidence_key(store_of(own_home).settings, create=False)
    report = evidence.verify(data, key)
    assert report.ok and report.call_id == HELD_OLD and report.exported_by == USERS["dpo"]
    assert json.loads(entry["detail"])["manifest_sha256"] == info.manifest_sha256


def test_a_held_call_with_markdown_in_its_id_and_reason_is_shown_literally(
    own_home: Path, store_of: Any
) -> None:
    odd, reason = "c_*odd*_[x](http://e.org)", "**urgent** <script>alert(1)</script>"
    store = store_of(own_home)
    add_call(store, odd, started_at=NOW - timedelta(days=2))
    governance.hold(store, odd, reason, now=NOW, actor="test")
    at = open_page(sign_in("dpo"), "governance")
    assert reason in list(at.dataframe[1].value["reason"])  # a table cell: never markdown
    at.selectbox(key="gv_evidence_call").select(odd)
    next(b for b in at.button if b.label == "Prepare the evidence pack").click().run()
    assert not at.exception and not at.error
    caption = next(c.value for c in at.caption if c.value.startswith("Pack of call"))
    assert ui.md_escape(odd) in caption
    assert evidence.pack_file_name(odd) == "evidence-c__odd___x_http_e.org_.zip"


@pytest.mark.parametrize("role", [r for r in auth.ROLES if not auth.can_export_evidence(r)])
def test_no_role_but_the_dpo_sees_the_evidence_pack(home: Path, role: str) -> None:
    at = open_page(sign_in(role), "governance")
    assert next(e.value for e in at.error).startswith("Access refused")
    assert at.download_button.len == 0
    assert not [b for b in at.button if b.label == "Prepare the evidence pack"]
    assert b"legal_hold set in the metadata" not in page_bytes(at)


# --- nothing hidden, anywhere -----------------------------------------------------------


@pytest.mark.parametrize("role", auth.ROLES)
def test_no_planted_value_on_any_page_of_any_role(home: Path, role: str) -> None:
    at = sign_in(role)
    for page in auth.allowed_pages(role):
        open_page(at, page)
        body = page_bytes(at)
        assert body, page
        # The DPO's objection list names objected calls by id, by design.
        hidden_ids = () if page == "governance" else HIDDEN_CALLS
        for value in (*PLANTED, *hidden_ids):
            assert value.encode() not in body, (role, page, value)


# --- serving ---------------------------------------------------------------------------


def test_serve_runs_streamlit_on_the_app_with_the_workspace(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard

    seen: dict[str, Any] = {}

    def fake_call(cmd: list[str], env: dict[str, str]) -> int:
        seen.update(cmd=cmd, env=env)
        return 3

    monkeypatch.setattr(dashboard.subprocess, "call", fake_call)
    assert dashboard.serve(workspace.settings, 8777) == 3
    cmd, env = seen["cmd"], seen["env"]
    assert cmd[1:4] == ["-m", "dashboard.server", "run"] and cmd[4] == str(APP_PATH)
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.port"] == "8777"
    assert flags["--server.address"] == "127.0.0.1"  # loopback unless opened on purpose
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--global.developmentMode"] == "false"
    assert env["CALLQA_HOME"] == str(workspace.settings.home.resolve())
    # The server reads the system clock: nothing in its environment can set the time.
    assert not any("NOW" in name for name in env if name.startswith("CALLQA_"))
    assert str(APP_PATH.parents[1]) in env["PYTHONPATH"].split(":")


# --- escaping: user-controlled values are shown literally -------------------------------

PAYLOADS = {
    "image": "![x](http://evil.example/pixel.png)",
    "link": "[Session expired](http://evil.example/login)",
    "html": "<img src=http://evil.example/i.png><b>bold</b>",
    "newline": "team\n\n# Sign in again\n- [here](http://evil.example)",
    "directive": ":red[alert] :material/warning: $x^2$ **b** _i_",
    "autolink": "see www.evil.example or HTTPS://evil.example/x or boss@evil.example",
}


def rendered(at: AppTest) -> list[str]:
    """The Markdown source of every element Streamlit renders as Markdown."""
    kinds = ("markdown", "caption", "title", "header", "subheader")
    texts = [el.value for kind in kinds for el in getattr(at, kind)]
    texts += [
        el.value for kind in ("error", "warning", "info", "success") for el in getattr(at, kind)
    ]
    return [str(t) for t in texts]


def shows_literally(texts: list[str], payload: str) -> bool:
    """The payload appears escaped somewhere and never raw."""
    joined = "\n".join(texts)
    return ui.md_escape(payload) in joined and payload not in joined


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_crafted_call_link_shows_its_id_literally(home: Path, kind: str) -> None:
    payload = PAYLOADS[kind]
    at = open_page(sign_in("trainer"), "call_review", call=payload)
    assert not at.exception
    assert shows_literally([w.value for w in at.warning], payload)
    assert "evil.example" not in " ".join(t.replace("\\", "") for t in rendered(at) if "](" in t)


def test_stored_agent_team_and_user_names_are_shown_literally(
    own_home: Path, store_of: Any
) -> None:
    store = store_of(own_home)
    agent, team = PAYLOADS["image"], PAYLOADS["newline"]
    for i in range(auth.MIN_GROUP_CALLS):
        flagged: dict[str, Any] = {"abuse_severity": "high"} if i == 0 else {}
        add_call(store, f"md-{i}", started_at=NOW - timedelta(days=1, hours=i), agent_id=agent,
                 team=team, **flagged)  # fmt: skip
    # The review page: the call's agent and team in its caption.
    at = open_page(sign_in("quality_manager"), "call_review", call="md-0")
    assert shows_literally([c.value for c in at.caption], agent)
    assert shows_literally([c.value for c in at.caption], team)
    # The agents page: the agent's name in the drill-down caption.
    open_page(at, "agents")
    at.selectbox(key="drill_agent").select(agent).run()
    assert shows_literally(rendered(at), agent)
    # The alerts page: the review confirmation names the call.
    open_page(at, "alerts")
    at.selectbox(key="al_call").select("md-0")
    at.text_area[0].input("checked")
    next(b for b in at.button if b.label == "Mark reviewed").click().run()
    assert [s.value for s in at.success] == [
        f"Alert on call {ui.md_escape('md-0')} marked reviewed."
    ]
    for text in rendered(at):
        assert agent not in text and team not in text


def test_user_names_with_markdown_are_shown_literally(own_home: Path, store_of: Any) -> None:
    name = "x_odd_user_"
    auth.add_user(store_of(own_home), name, "trainer", "a strong passphrase here", now=NOW)
    at = new_app()
    at.text_input[0].input(name)
    at.text_input[1].input("a strong passphrase here")
    at.button[0].click().run()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert ui.md_escape(name) in sidebar and f"**{name}**" not in sidebar


def test_md_escape_leaves_nothing_markdown_can_act_on() -> None:
    for payload in PAYLOADS.values():
        escaped = ui.md_escape(payload)
        assert "\n" not in escaped
        unescaped = escaped.replace("\\", "")
        bare = "".join(ch for i, ch in enumerate(escaped) if i == 0 or escaped[i - 1] != "\\")
        assert not set(bare) & set("[]()<>!*_#`:$^~|"), (payload, escaped)
        assert not re.search(r"(?i)https?:|www\.|\w@", unescaped)  # no GFM autolink
        visible = unescaped.replace(ui.WORD_JOINER, "")
        assert visible.replace(" ", "") == payload.replace("\n", "").replace(" ", "")


# --- contract: no page interpolates a value without escaping it ------------------------

# Elements whose text (first argument, label, help...) Streamlit renders as Markdown.
MARKDOWN_ELEMENTS = frozenset({
    "markdown", "write", "caption", "title", "header", "subheader", "error", "warning",
    "info", "success", "toast", "exception", "metric", "button", "page_link", "tabs",
    "expander", "selectbox", "multiselect", "text_input", "text_area", "slider",
    "segmented_control", "download_button", "form_submit_button", "chat_message",
    "popover", "radio", "checkbox", "toggle", "link_button", "status", "badge",
    "date_input", "form", "dialog", "pills", "select_slider", "number_input",
})  # fmt: skip
TEXT_KEYWORDS = frozenset({"body", "label", "help", "placeholder", "caption"})
# Formatting helpers whose output holds no Markdown (numbers, times, escaped text).
SAFE_CALLS = frozenset({"md_escape", "num", "pct", "clock", "when", "len", "highlight"})
NOT_STREAMLIT = frozenset({"log", "logging", "click"})


def _is_safe(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_is_safe(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        # A numeric format ({n:,} {n:d} {x:.1f} {r:%}) raises on a string: no text gets in.
        spec = ast.unparse(node.format_spec) if node.format_spec else ""
        return any(c in spec for c in ",dfe%") or _is_safe(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_safe(node.left) and _is_safe(node.right)
    if isinstance(node, ast.IfExp):
        return _is_safe(node.body) and _is_safe(node.orelse)
    if isinstance(node, ast.BoolOp):
        return all(_is_safe(v) for v in node.values)
    if isinstance(node, ast.List | ast.Tuple):
        return all(_is_safe(e) for e in node.elts)
    if isinstance(node, ast.Starred):
        return _is_safe(node.value)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in SAFE_CALLS
    return False


def unescaped_values(source: str, filename: str = "<page>") -> list[str]:
    """Every Markdown-rendering call whose text interpolates a value not made safe."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in MARKDOWN_ELEMENTS:
            continue
        if ast.unparse(node.func.value) in NOT_STREAMLIT:
            continue
        # st.page_link's first argument is a page object: its label is checked instead.
        texts = [] if node.func.attr == "page_link" else node.args[:1]
        texts += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        found += [
            f"{filename}:{node.lineno}: {ast.unparse(arg)}" for arg in texts if not _is_safe(arg)
        ]
    return found


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('st.caption(f"agent {agent}")', True),
        ('st.markdown("**" + user.name + "**")', True),
        ("st.error(str(exc))", True),
        ("st.success(message)", True),
        ('cols[0].warning(f"Call {call_id} gone")', True),
        ('st.sidebar.markdown(f"{name}")', True),
        ('st.tabs(["A", f"B {label}"])', True),
        ('st.caption(f"agent {ui.md_escape(agent)}")', False),
        ('st.caption(f"{len(rows)} rows, {n:,} calls, {x:.1f} s at {ui.when(t)}")', False),
        ("st.error(ui.md_escape(exc))", False),
        ('log.warning("x %s", name)', False),
        ("st.page_link(pages[key])", False),
    ],
)
def test_the_escaping_contract_check_catches_unescaped_values(source: str, flagged: bool) -> None:
    assert bool(unescaped_values(source)) == flagged


def test_no_page_interpolates_an_unescaped_value() -> None:
    files = sorted(DASHBOARD.rglob("*.py"))
    assert {f.name for f in files} >= {"app.py", "auth_ui.py", "ui.py", "call_review.py"}
    found = [hit for f in files for hit in unescaped_values(f.read_text(), f.name)]
    assert found == []


# --- the role matrix, cell by cell, in the running dashboard -----------------------------


def _sees_page(page: str) -> Callable[[AppTest], bool]:
    def check(at: AppTest) -> bool:
        open_page(at, page)
        return TITLES[page] in titles(at) and not at.error

    return check


def _sees_single_calls(at: AppTest) -> bool:
    """Any page showing rows of single calls: an agent's call list, alerts, a review."""
    open_page(at, "agents")
    seen = any(t.label == "Agent's calls" for t in at.tabs)
    open_page(at, "alerts")
    seen |= at.dataframe.len > 0 and "call_id" in at.dataframe[0].value.columns
    open_page(at, "call_review", call="c01")
    return seen or ("Call review" in titles(at) and not at.error)


def _plays_audio(at: AppTest) -> bool:
    open_page(at, "call_review", call=AUDIO_CALL)
    return any(b.label == "Listen to the redacted audio" for b in at.button)


def _closes_alerts(at: AppTest) -> bool:
    open_page(at, "alerts")
    return any(b.label == "Mark reviewed" for b in at.button)


def _exports_evidence(at: AppTest) -> bool:
    open_page(at, "governance")
    return any(b.label == "Prepare the evidence pack" for b in at.button)


def _evaluates(at: AppTest) -> bool:
    open_page(at, "call_review", call="c01")
    return any(b.label == "Save answer" for b in at.button)


def _resolves_disputes(at: AppTest) -> bool:
    open_page(at, "disputes")
    return any(b.label == "Resolve" for b in at.button)


def _calibrates(at: AppTest) -> bool:
    open_page(at, "calibration")
    return any(b.label == "Create session" for b in at.button)


def _coaches(at: AppTest) -> bool:
    open_page(at, "coaching")
    return any(b.label == "Add note" for b in at.button)


def _own_calls_only(at: AppTest) -> bool:
    open_page(at, "find_calls")
    return any(str(c.value).startswith("Only your calls") for c in at.caption)


OBSERVED: dict[str, Callable[[AppTest], bool]] = {
    **{page: _sees_page(page) for page in auth.PAGES},
    "single_calls": _sees_single_calls,
    "play_audio": _plays_audio,
    "review_alert": _closes_alerts,
    "export_evidence": _exports_evidence,
    "evaluate": _evaluates,
    "resolve_dispute": _resolves_disputes,
    "calibrate": _calibrates,
    "coach": _coaches,
    "own_calls_only": _own_calls_only,
}


def test_the_matrix_names_every_page_and_action() -> None:
    assert set(OBSERVED) == set(auth.PAGES) | set(auth.ACTIONS)
    assert set(ROLE_MATRIX) == set(auth.ROLES)


@pytest.mark.parametrize("role", ROLE_MATRIX)
def test_every_cell_of_the_role_matrix_in_the_dashboard(home: Path, role: str) -> None:
    at = sign_in(role)
    seen = {what: OBSERVED[what](at) for what in OBSERVED}
    assert not at.exception
    assert {what for what, yes in seen.items() if yes} == ROLE_MATRIX[role]


# --- sessions follow the account ----------------------------------------------------


def test_a_demoted_user_loses_the_page_at_their_next_click(own_home: Path, store_of: Any) -> None:
    at = open_page(sign_in("quality_manager"), "agents")
    assert titles(at) == ["Agents & teams"]
    store = store_of(own_home)
    with store.write() as conn:
        accounts.update_user(conn, USERS["quality_manager"], role="trainer")
    at.run()
    assert titles(at) == [] and next(e.value for e in at.error).startswith("Access refused")
    assert [LINK_LABELS[link.proto.label] for link in nodes(at, "page_link")] == (
        auth.allowed_pages("trainer")
    )


@pytest.mark.parametrize("change", ["remove", "passwd"])
def test_a_removed_user_or_a_changed_password_ends_the_open_session(
    own_home: Path, store_of: Any, change: str
) -> None:
    at = open_page(sign_in("trainer"), "alerts")
    assert titles(at) == ["Abuse alerts"]
    store = store_of(own_home)
    if change == "remove":
        auth.remove_user(store, USERS["trainer"], now=NOW)
    else:
        auth.set_password(store, USERS["trainer"], "a brand new passphrase", now=NOW)
    at.run()
    assert titles(at) == ["callqa"] and nodes(at, "page_link") == []
    assert [i.value for i in at.info] == [
        ui.md_escape("Your session has ended: your account or password changed.")
    ]


def test_an_idle_session_expires_after_the_setting(
    own_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (own_home / "config.toml").write_text("[dashboard]\nidle_timeout_min = 5\n")
    at = open_page(sign_in("trainer"), "alerts")
    at.session_state["_callqa_last_active"] = NOW - timedelta(minutes=4)
    at.run()
    assert titles(at) == ["Abuse alerts"]  # 4 minutes: still signed in
    at.session_state["_callqa_last_active"] = NOW - timedelta(minutes=5, seconds=1)
    at.run()
    assert titles(at) == ["callqa"]
    assert [i.value for i in at.info] == [
        ui.md_escape("Signed out after 5 minutes without activity.")
    ]


def test_the_default_idle_timeout_is_30_minutes(home: Path) -> None:
    at = open_page(sign_in("trainer"), "alerts")
    at.session_state["_callqa_last_active"] = NOW - timedelta(minutes=29)
    at.run()
    assert titles(at) == ["Abuse alerts"]
    at.session_state["_callqa_last_active"] = NOW - timedelta(minutes=31)
    at.run()
    assert titles(at) == ["callqa"]


def test_repeated_failures_are_throttled_in_the_login_form(own_home: Path, store_of: Any) -> None:
    for _ in range(auth.DELAY_FROM["user"]):
        at = sign_in("dpo", password="not-the-password")
        assert [e.value for e in at.error] == ["Sign-in failed: unknown user or wrong password."]
    at = sign_in("dpo")  # the right password, within the delay: refused unchecked
    (error,) = [e.value for e in at.error]
    assert error.startswith("Sign-in refused: too many failed sign") and "wait 1 s" in error
    assert titles(at) == ["callqa"]
    assert len(audit_rows(own_home, store_of, "login_failed")) == auth.DELAY_FROM["user"]


def test_opening_the_dashboard_to_an_address_warns_about_a_tls_proxy(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import dashboard

    seen: dict[str, Any] = {}
    monkeypatch.setattr(dashboard.subprocess, "call", lambda cmd, env: seen.update(cmd=cmd) or 0)
    with caplog.at_level("WARNING", logger="dashboard"):
        dashboard.serve(workspace.settings, 8777)
    assert not caplog.records
    with caplog.at_level("WARNING", logger="dashboard"):
        dashboard.serve(workspace.settings, 8777, address="0.0.0.0")
    (record,) = caplog.records
    assert "TLS reverse proxy" in record.getMessage() and "0.0.0.0" in record.getMessage()
    flags = dict(zip(seen["cmd"][5::2], seen["cmd"][6::2], strict=True))
    assert flags["--server.address"] == "0.0.0.0"


def test_the_cli_serves_on_loopback_unless_told_otherwise(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import dashboard
    from analytics.cli import cli

    seen: list[str] = []
    monkeypatch.setattr(dashboard, "serve", lambda s, port, address: seen.append(address) or 0)
    home = str(workspace.settings.home)
    assert CliRunner().invoke(cli, ["--home", home, "dashboard"]).exit_code == 0
    assert CliRunner().invoke(cli, ["--home", home, "dashboard", "--address", "::"]).exit_code == 0
    assert seen == ["127.0.0.1", "::"]


def test_the_launcher_turns_streamlit_address_lookups_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import net_util
    from streamlit.web import cli as st_cli

    from dashboard import server

    monkeypatch.setattr(net_util, "get_internal_ip", net_util.get_internal_ip)
    monkeypatch.setattr(net_util, "get_external_ip", net_util.get_external_ip)
    monkeypatch.setattr(st_cli, "main", lambda prog_name: None)
    monkeypatch.setattr("sys.argv", ["dashboard.server", "run", "app.py"])
    server.main()
    # No socket is touched: both answer at once, without looking anything up.
    assert net_util.get_internal_ip() is None and net_util.get_external_ip() is None


def test_an_evidence_segment_seeks_the_transcript_and_the_audio(home: Path) -> None:
    at = open_page(sign_in("quality_manager"), "call_review", call=AUDIO_CALL)
    assert not at.exception
    seek = at.button(key="ev_seek_greeting_0")
    assert seek.label == "Seek to #0"
    at = seek.click().run()
    assert not at.exception
    assert any(str(i.value).startswith("Evidence segment #0") for i in at.info)
    assert at.session_state["cr_listen"] == AUDIO_CALL  # the player opens at that segment
    assert at.session_state[f"cr_seek_{AUDIO_CALL}"] == 0


def test_the_evaluation_shows_on_call_review_and_find_calls(home: Path) -> None:
    at = open_page(sign_in("trainer"), "call_review", call="c01")
    shown = metrics(at)
    assert shown["Evaluation status"] == "Automatic" and shown["Evaluation score"] != "–"
    assert [t.label for t in at.tabs][-1] == "Evaluation"
    at = open_page(at, "find_calls")
    calls = at.dataframe[0].value
    assert {"final_score", "automatic_score", "status"} <= set(calls.columns)
    assert FLAGGED_CUSTOMER in set(calls["call_id"])


def test_call_review_shows_an_answer_carried_from_an_earlier_version(
    own_home: Path, store_of: Any
) -> None:
    from analytics.evaluations import automatic, workflow

    store = store_of(own_home)
    first = workflow.call_evaluation(store, "c01", now=NOW)
    assert first is not None
    evaluator = PAYLOADS["html"]  # a user-controlled name, shown literally
    workflow.answer(
        store, first.evaluation_id, "greeting", "no", evaluator=evaluator, reason="late", now=NOW
    )
    source = Path(automatic.formdefs.DEFAULT_FORM_PATH).read_text(encoding="utf-8")
    v2 = own_home / "default-v2.toml"
    v2.write_text(source.replace("version = 1", "version = 2"), encoding="utf-8")
    automatic.import_form(store, v2, now=NOW)
    report = automatic.rescore(store, "default@2", now=NOW + timedelta(minutes=1))
    assert report.carried == 1
    at = open_page(sign_in("trainer"), "call_review", call="c01")
    assert not at.exception
    texts = rendered(at)
    carried = ui.md_escape(
        f"no — overridden by {evaluator} (automatic: yes), carried from default@1"
    )
    assert any(carried in text for text in texts), texts
    assert shows_literally(texts, evaluator)
    (history,) = [d.value for d in at.dataframe if "what" in d.value.columns]
    carry = history[history["question"] == "greeting"].iloc[0]
    assert (carry["what"], carry["by"], carry["reason"]) == (
        "carried from default@1",
        evaluator,
        "late",
    )


def test_an_agent_finds_only_their_calls(home: Path) -> None:
    at = open_page(sign_in("agent"), "find_calls")
    assert not at.exception
    assert set(at.dataframe[0].value["agent_id"]) == {"A100"}
    at = open_page(at, "my_evaluations", call="c01")  # agent A101's call
    assert at.selectbox(key="me_call").value is None
    at = open_page(at, "my_evaluations", call=FLAGGED_CUSTOMER)
    assert at.selectbox(key="me_call").value == FLAGGED_CUSTOMER
    assert metrics(at)["Evaluation status"] == "Disputed"


def test_pages_and_roles_are_declared_once_in_auth() -> None:
    """The app registers auth.PAGES (each has a look and a view); every role has a label."""
    from dashboard import auth_ui

    source = APP_PATH.read_text()
    assert "for key in auth.PAGES" in source
    look = ast.literal_eval(source.split("PAGE_LOOK = ", 1)[1].split("\n}\n", 1)[0] + "\n}")
    assert list(look) == list(auth.PAGES)
    views = APP_PATH.parent / "views"
    assert all((views / f"{key}.py").is_file() for key in auth.PAGES)
    assert set(auth_ui.ROLE_LABELS) == set(auth.ROLES)
