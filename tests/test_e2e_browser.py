"""End to end: the real Streamlit server driven by headless Chromium (Playwright).

Logs in as each kind of user, visits every page, checks what is shown, saves a
screenshot per page under tmp/artifacts/dashboard/, and checks that no personal
value planted in objected or expired calls ever reaches a page's HTML while the
redaction placeholders of visible calls do.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frozen_run
import pytest
from dashboard_fixtures import (
    AUDIO_CALL,
    FLAGGED_CUSTOMER,
    HIDDEN_CALLS,
    PASSWORDS,
    PLANTED,
    REPO,
    USERS,
    build_workspace,
)
from factories import NOW

from analytics import audit
from analytics.config import load_settings
from analytics.store import Store
from dashboard import CHROMIUM, CHROMIUM_ARGS, server_command, server_env

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "tmp" / "artifacts" / "dashboard"
TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workspace = build_workspace(tmp_path_factory.mktemp("e2e") / "ws")
    port = _free_port()
    log_path = workspace.settings.home / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            frozen_run.command(NOW, server_command(port)),
            env=server_env(workspace.settings),
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "the server never became healthy"
                time.sleep(0.2)
            yield url, workspace.settings.home
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    the_page = context.new_page()
    the_page.set_default_timeout(TIMEOUT_MS)
    yield the_page
    context.close()


def sign_in(page: Any, url: str, role: str, password: str | None = None) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(USERS[role])
    page.get_by_role("textbox", name="Password").fill(
        PASSWORDS[role] if password is None else password
    )
    page.get_by_role("button", name="Sign in").click()


def settle(page: Any) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    page.wait_for_timeout(300)


def go(page: Any, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebar").get_by_role("link", name=link).click()
    page.get_by_role("heading", name=heading).first.wait_for()
    settle(page)


def table_shows(page: Any, text: str) -> None:
    """Wait for a data grid to hold ``text`` (grids draw on a canvas; cells are in the DOM)."""
    page.wait_for_function(
        """text => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
                   .some(grid => grid.innerHTML.includes(text))""",
        arg=text,
    )


def check_and_shoot(page: Any, name: str) -> str:
    """Save a screenshot and return the page's HTML after asserting nothing hidden is in it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    html = str(page.content())
    for value in PLANTED:
        assert value not in html, (name, value)
    return html


def test_login_failure_shows_an_error(server: tuple[str, Path], page: Any) -> None:
    url, _home = server
    sign_in(page, url, "trainer", password="wrong-password")
    page.get_by_text("Sign-in failed: unknown user or wrong password.").wait_for()
    assert (
        page.get_by_test_id("stSidebar").count() == 0
        or not page.get_by_role("link", name="Call review").count()
    )
    check_and_shoot(page, "00-login-failed")


def test_quality_manager_visits_every_page(server: tuple[str, Path], page: Any) -> None:
    url, home = server
    sign_in(page, url, "quality_manager")
    page.get_by_role("heading", name="Overview").first.wait_for()
    page.get_by_text("Calls per week").wait_for()
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    links = [
        sidebar.get_by_role("link", name=n)
        for n in ("Overview", "Agents & teams", "Abuse alerts", "Call review")
    ]
    assert all(link.count() == 1 for link in links)
    assert sidebar.get_by_role("link", name="Governance").count() == 0
    metrics = page.get_by_test_id("stMetric")
    assert metrics.count() == 4
    assert "16" in metrics.first.inner_text()
    assert page.locator(".vega-embed").count() == 4
    check_and_shoot(page, "01-overview")

    go(page, "Agents & teams", "Agents & teams")
    assert page.get_by_role("tab", name="Teams").count() == 1
    table_shows(page, "Lyon-2")
    check_and_shoot(page, "02-agents")

    go(page, "Abuse alerts", "Abuse alerts")
    table_shows(page, FLAGGED_CUSTOMER)
    assert page.get_by_role("button", name="Mark reviewed").count() == 1
    check_and_shoot(page, "03-alerts")

    page.get_by_role("button", name="Open in call review").click()
    page.get_by_role("heading", name="Call review").first.wait_for()
    page.get_by_text("Quality score").first.wait_for()
    settle(page)
    assert f"call={FLAGGED_CUSTOMER}" in page.url
    html = check_and_shoot(page, "04-call-review-alert")
    assert "&lt;PERSON&gt;" in html  # the redaction placeholder, shown literally
    assert page.get_by_test_id("stChatMessage").count() == 3

    # The call with redacted audio: the player appears on request, seeks to a segment.
    page.goto(f"{url}/call_review?call={AUDIO_CALL}")
    page.get_by_role("textbox", name="User name").wait_for()  # a new browser session signs in again
    page.get_by_role("textbox", name="User name").fill(USERS["quality_manager"])
    page.get_by_role("textbox", name="Password").fill(PASSWORDS["quality_manager"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Listen to the redacted audio").click()
    audio = page.locator("audio")
    audio.wait_for()
    settle(page)
    src = audio.get_attribute("src")
    assert src and "/media/" in src
    with urllib.request.urlopen(url + src if src.startswith("/") else src) as resp:
        body = resp.read()
    assert body[:4] == b"OggS"  # the redacted Ogg file, served by the media endpoint
    html = check_and_shoot(page, "05-call-review-audio")
    assert "&lt;PERSON&gt;" in html
    store = Store.open(load_settings(home=home, env={}))
    try:
        plays = audit.entries(store, action="play_audio")
        views = audit.entries(store, action="view_call")
    finally:
        store.close()
    assert [(p["actor"], p["call_id"]) for p in plays] == [(USERS["quality_manager"], AUDIO_CALL)]
    assert {v["call_id"] for v in views} == {FLAGGED_CUSTOMER, AUDIO_CALL}


def test_trainer_is_refused_governance(server: tuple[str, Path], page: Any) -> None:
    url, home = server
    sign_in(page, url, "trainer")
    page.get_by_role("heading", name="Abuse alerts").first.wait_for()
    settle(page)
    assert page.get_by_role("button", name="Mark reviewed").count() == 0
    page.goto(f"{url}/governance")
    sign_in_again = page.get_by_role("textbox", name="User name")
    sign_in_again.wait_for()
    sign_in_again.fill(USERS["trainer"])
    page.get_by_role("textbox", name="Password").fill(PASSWORDS["trainer"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Access refused").wait_for()
    check_and_shoot(page, "06-trainer-refused")
    store = Store.open(load_settings(home=home, env={}))
    try:
        denied = audit.entries(store, action="access_denied")
    finally:
        store.close()
    assert [d["actor"] for d in denied] == [USERS["trainer"]]


def test_dpo_sees_governance_and_a_verified_audit_chain(
    server: tuple[str, Path], page: Any
) -> None:
    url, _home = server
    sign_in(page, url, "dpo")
    page.get_by_role("heading", name="Overview").first.wait_for()
    settle(page)
    check_and_shoot(page, "07-dpo-overview")
    go(page, "Governance", "Governance")
    page.get_by_text("Litigation holds").wait_for()
    page.get_by_role("tab", name="Audit log").click()
    page.get_by_role("button", name="Verify the audit chain").click()
    page.get_by_text("The audit chain is intact").wait_for()
    settle(page)
    html = check_and_shoot(page, "08-governance")
    assert "Objections" in html
    for hidden in HIDDEN_CALLS[2:]:  # the expired call was purged: not even listed
        assert hidden not in html


def test_data_scientist_sees_only_aggregates(server: tuple[str, Path], page: Any) -> None:
    url, _home = server
    sign_in(page, url, "data_scientist")
    page.get_by_role("heading", name="Overview").first.wait_for()
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("link", name="Call review").count() == 0
    assert sidebar.get_by_role("link", name="Abuse alerts").count() == 0
    go(page, "Agents & teams", "Agents & teams")
    html = check_and_shoot(page, "09-data-scientist-agents")
    for hidden in HIDDEN_CALLS:
        assert hidden not in html
