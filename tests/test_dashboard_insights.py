"""The dashboard's conversation insights through AppTest: the category editor tags past
calls, the category filter narrows every page, the overview's category trend, evidence
marked in call review, the Search page (governed, escaped, linked to call review)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import HIDDEN_CALLS, PLANTED, build_workspace, copy_workspace
from factories import NOW
from streamlit.testing.v1 import AppTest
from test_dashboard import metrics, nodes, open_page, page_bytes, sign_in, titles

from analytics import audit, clock
from analytics.config import load_settings
from analytics.store import Store
from analytics.store import categories as cat_store
from dashboard import ui

RULE = """
[[categories]]
name = "tow truck sent"
rule = { phrases = ["une dépanneuse arrive", "dépaneuse arrive"], speaker = "agent", fuzzy = true }
"""


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace built once per module, never opened: each test gets a copy."""
    return build_workspace(tmp_path_factory.mktemp("insights-built") / "ws").settings.home


@pytest.fixture
def home(built_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = copy_workspace(built_home, tmp_path / "ws")
    monkeypatch.setenv("CALLQA_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with clock.frozen(NOW):
        yield


def _store(home: Path) -> Store:
    return Store.open(load_settings(home=home, env={}))


def define(at: AppTest, source: str) -> AppTest:
    open_page(at, "categories")
    at.text_area(key="cat_source").input(source)
    next(b for b in at.button if b.label == "Save and apply").click().run()
    return at


def test_a_category_defined_in_the_editor_tags_past_calls(home: Path) -> None:
    at = define(sign_in("quality_manager"), RULE)
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["category"]) == ["tow truck sent"]
    assert list(table["calls"]) == [12]  # the twelve c* calls; none of the hidden ones
    store = _store(home)
    try:
        assert cat_store.counts(store, NOW) == {"tow truck sent": 12}
        (row,) = audit.entries(store, action="category_define")
        assert row["actor"] == "quality-manager-user"
    finally:
        store.close()


def test_a_bad_rule_is_refused_with_the_field(home: Path) -> None:
    at = define(
        sign_in("quality_manager"), '[[categories]]\nname = "x"\nrule = { figure = "mood" }'
    )
    (error,) = [e.value for e in at.error]
    assert ui.md_escape("the editor: categories[0].rule.figure: unknown figure") in error


def test_the_category_filter_narrows_the_overview_and_draws_its_trend(home: Path) -> None:
    at = define(sign_in("quality_manager"), RULE)
    open_page(at, "overview")
    assert metrics(at)["Calls"] == "16"
    assert len(nodes(at, "vega_lite_chart")) == 5  # the four trends and the categories'
    box = at.multiselect(key="f_categories")
    assert box.options == ["tow truck sent"]
    box.select("tow truck sent").run()
    assert metrics(at)["Calls"] == "12"
    open_page(at, "agents")  # the choice follows the user to the other pages
    assert at.multiselect(key="f_categories").value == ["tow truck sent"]
    teams = at.dataframe[0].value
    assert sorted(teams["team"]) == ["Lyon-2", "Niort-1"]  # six tagged calls each


def test_call_review_marks_the_evidence_segments(home: Path) -> None:
    at = define(sign_in("quality_manager"), RULE)
    open_page(at, "call_review", call="c01")
    assert "Call review" in titles(at)
    shown = page_bytes(at)
    assert b"Categories: tow truck sent" in shown
    text = ui.md_escape("je comprends, une dépanneuse arrive, au revoir")
    assert f":blue-background[{text}]".encode() in shown
    assert shown.count(b":blue-background[") == 1  # segment #2 only


def test_search_finds_phrases_in_visible_calls_only(home: Path) -> None:
    at = open_page(sign_in("quality_manager"), "search")
    at.text_input(key="s_query").input('"dépanneuse arrive"').run()
    assert not at.exception and not at.warning
    shown = page_bytes(at).decode("utf-8", "replace")
    assert "12 matching segments" in shown
    assert ":orange-background[dépanneuse]" in shown
    # the hidden calls hold "mon IBAN": never found, nor their planted values shown
    at.text_input(key="s_query").input("IBAN").run()
    assert [i.value for i in at.info] == ["No segment of a visible call matches."]
    shown = page_bytes(at).decode("utf-8", "replace")
    assert not any(value in shown for value in PLANTED)
    assert not any(call in shown for call in HIDDEN_CALLS)


def test_search_links_to_call_review_and_follows_the_speaker(home: Path) -> None:
    at = open_page(sign_in("trainer"), "search")
    at.text_input(key="s_query").input("panne").run()
    assert "12 matching segments" in page_bytes(at).decode("utf-8", "replace")
    at.selectbox(key="s_speaker").select("agent").run()
    assert [i.value for i in at.info] == ["No segment of a visible call matches."]
    at.selectbox(key="s_speaker").select("customer").run()
    next(b for b in at.button if b.label == "Open in call review").click().run()
    assert "Call review" in titles(at)


def test_a_query_without_a_word_warns(home: Path) -> None:
    at = open_page(sign_in("quality_manager"), "search")
    at.text_input(key="s_query").input("-panne").run()
    assert [w.value for w in at.warning] == [
        ui.md_escape("search: the query needs at least one word to find")
    ]


@pytest.mark.parametrize(
    "payload",
    ["**bold** [x](http://evil.example) <b>", ":red[alarm] $x$ `code`", "# heading"],
)
def test_highlight_escapes_every_piece(payload: str) -> None:
    marked = ui.highlight(((payload, True), (" " + payload, False)))
    assert marked.startswith(":orange-background[") and marked.count(":orange-background[") == 1
    inner = marked.removeprefix(":orange-background[")
    assert ui.md_escape(payload) in inner and "**bold**" not in marked
    assert "](" not in marked.replace("\\](", "")


REASONS = {
    "invoice": "ma facture est trop élevée ce mois, la facture double le tarif_special",
    "towing": "ma voiture est en panne, il me faut une dépanneuse sur l'autoroute",
    "cancel": "je veux résilier mon contrat, la résiliation avant l'échéance",
}


def test_the_call_drivers_page_shows_topics_and_weekly_counts(home: Path) -> None:
    from factories import add_call

    from analytics import governance

    store = _store(home)
    try:
        for i in range(30):
            reason = list(REASONS)[i % 3]
            add_call(
                store,
                f"d{i:02d}",
                started_at=NOW - timedelta(days=1 + i),
                texts=(("agent", "bonjour"), ("customer", REASONS[reason])),
            )
        for i in range(4):  # a reason only objected calls give: never shown
            add_call(store, f"hid{i}", texts=(("customer", "mon zorglubquatre zorglubquatre"),))
            governance.object_calls(store, call_id=f"hid{i}", now=NOW)
    finally:
        store.close()
    at = open_page(sign_in("quality_manager"), "drivers")
    assert not at.exception and not at.error
    assert "Call drivers" in titles(at)
    shown = page_bytes(at).decode("utf-8", "replace")
    for word in ("factur", "depanneu", "resili"):  # each planted reason names a topic
        assert any(word in m.value for m in at.markdown), word
    assert "zorglub" not in shown
    # names are escaped Markdown: the underscore of a term is shown, not read as emphasis
    special = [m.value for m in at.markdown if "tarif" in m.value]
    assert special and all(ui.md_escape("tarif_special") in m for m in special)
    assert ui.md_escape("tarif_special") != "tarif_special"
    weekly = at.dataframe[0].value
    assert weekly.columns[0] == "week"
    assert weekly.drop(columns="week").to_numpy().sum() >= 30  # every d call counted once
    assert all(week <= NOW.date().isoformat() for week in weekly["week"])


def test_the_call_drivers_page_is_for_the_quality_manager(home: Path) -> None:
    at = open_page(sign_in("trainer"), "drivers")
    assert "Call drivers" not in titles(at)


def test_the_call_drivers_page_reuses_its_topics_while_the_data_is_unchanged(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factories import add_call

    from analytics.insights import service

    store = _store(home)
    try:
        for i in range(12):
            reason = list(REASONS)[i % 3]
            add_call(store, f"r{i:02d}", texts=(("customer", REASONS[reason]),))
    finally:
        store.close()
    at = open_page(sign_in("quality_manager"), "drivers")
    assert not at.exception and any("factur" in m.value for m in at.markdown)
    runs: list[object] = []
    real = service.run_drivers
    monkeypatch.setattr(service, "run_drivers", lambda *a, **k: runs.append(1) or real(*a, **k))
    at.run()  # a rerun with the same data, filter and topic count: from the cache
    assert not at.exception and any("factur" in m.value for m in at.markdown)
    assert runs == []
    at.slider(key="d_topics").set_value(3).run()  # another topic count: computed again
    assert not at.exception and runs == [1]
