"""End to end in a real browser (headless Chromium, the real Streamlit server): a trainer
overrides an automatic answer with a reason, the agent signs in, sees it and disputes
it, a quality manager resolves the dispute, and the final score and the history show on
the pages that show the call's score."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frozen_run
import pytest
from dashboard_fixtures import build_workspace
from factories import NOW
from test_e2e_browser import (
    _free_port,
    _wait_healthy,
    check_and_shoot,
    settle,
    sign_in,
    sign_in_form,
    table_shows,
)

from analytics.config import load_settings
from analytics.evaluations import workflow
from analytics.store import Store
from dashboard import CHROMIUM, CHROMIUM_ARGS, server_command, server_env

pytestmark = pytest.mark.slow

CALL = "c00"  # agent A100, the agent user's
OVERRIDE = "overridden by trainer-user (automatic: yes)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workspace = build_workspace(tmp_path_factory.mktemp("e2e-eval") / "ws")
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
            _wait_healthy(proc, url, log_path)
            yield url, workspace.settings.home
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


def _pick(page: Any, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit select box labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.wait_for()
    settle(page)
    for _attempt in range(3):  # a rerun may redraw the box while it opens
        box.click()
        choice = page.get_by_role("option", name=option, exact=True).first
        try:
            choice.wait_for(timeout=5_000)
        except Exception:
            page.keyboard.press("Escape")
            continue
        choice.click()
        return
    raise AssertionError(f"no option {option!r} in {label!r}")


def _open(page: Any, url: str, path: str, role: str, heading: str) -> None:
    """Open a page by URL (a new browser session signs in on it first)."""
    page.goto(f"{url}/{path}")
    sign_in_form(page, role)
    page.get_by_role("heading", name=heading).first.wait_for()
    settle(page)


def _evaluation(home: Path) -> workflow.EvaluationView:
    with Store.open(load_settings(home=home, env={})) as store:
        view = workflow.call_evaluation(store, CALL, now=NOW)
    assert view is not None
    return view


def test_override_dispute_and_resolution_across_roles(
    server: tuple[str, Path], browser: Any
) -> None:
    url, home = server
    before = _evaluation(home)

    # 1. The trainer overrides the greeting with a reason.
    trainer = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _open(trainer, url, f"call_review?call={CALL}", "trainer", "Call review")
    trainer.get_by_role("tab", name="Evaluation").click()
    _pick(trainer, "Answer", "no")
    trainer.get_by_role("textbox", name="Reason (required to override)").fill("cut off greeting")
    trainer.get_by_role("button", name="Save answer").click()
    trainer.get_by_role("tab", name="Evaluation").click()
    trainer.get_by_text(OVERRIDE).first.wait_for()
    check_and_shoot(trainer, "20-trainer-override")
    overridden = _evaluation(home)
    assert overridden.final_score is not None and before.final_score is not None
    assert overridden.final_score < before.final_score
    assert overridden.automatic_score == before.automatic_score

    # 2. The agent signs in, sees the override and disputes it.
    agent = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    sign_in(agent, url, "agent")
    agent.get_by_role("heading", name="Find calls").first.wait_for()
    settle(agent)
    assert agent.get_by_text("Only your calls (agent A100).").count() == 1
    _open(agent, url, f"my_evaluations?call={CALL}", "agent", "My evaluations")
    agent.get_by_text(OVERRIDE).first.wait_for()
    agent.get_by_role("textbox", name="Dispute this evaluation").fill("I did greet the caller")
    agent.get_by_role("button", name="Dispute", exact=True).click()
    agent.get_by_text("Disputed").first.wait_for()
    check_and_shoot(agent, "21-agent-dispute")
    assert _evaluation(home).status == "disputed"

    # 3. The quality manager revises the answer from the dispute queue.
    manager = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    _open(manager, url, "disputes", "quality_manager", "Disputes")
    table_shows(manager, "I did greet the caller")
    _pick(manager, "Dispute", f"#2 · call {CALL} · agent A100")
    settle(manager)
    manager.get_by_text("revise", exact=True).click()
    _pick(manager, "Revised answer", "yes")
    manager.get_by_role("textbox", name="Resolution comment").fill("the greeting is audible")
    manager.get_by_role("button", name="Resolve").click()
    settle(manager)
    table_shows(manager, "revised")
    check_and_shoot(manager, "22-manager-resolves")
    final = _evaluation(home)
    assert final.status == "resolved" and final.final_score == before.final_score
    assert [h["kind"] for h in final.history] == ["override", "revise"]

    # 4. The final score and the history show wherever the call's score does.
    _open(manager, url, f"call_review?call={CALL}", "quality_manager", "Call review")
    manager.get_by_text("Resolved").first.wait_for()
    manager.get_by_role("tab", name="Evaluation").click()
    table_shows(manager, "cut off greeting")
    table_shows(manager, "revise")
    check_and_shoot(manager, "23-call-review-final")
    _open(manager, url, "find_calls", "quality_manager", "Find calls")
    table_shows(manager, "resolved")
    _open(agent, url, f"my_evaluations?call={CALL}", "agent", "My evaluations")
    agent.get_by_text("Resolved").first.wait_for()
    table_shows(agent, "the greeting is audible")
    check_and_shoot(agent, "24-agent-sees-resolution")
