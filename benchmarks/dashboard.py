"""Dashboard speed on a large workspace, measured in a real headless browser.

Fills a fresh workspace with synthetic processed calls (bulk executemany, no
models: six months, ~20 teams, ~300 agents, some flagged, some objected,
expired and held so the governed predicate has work to do), times the SQL
aggregates alone, then starts ``callqa``'s Streamlit server and measures with
Playwright + the system Chromium:

- server first page: the first page load of a fresh server (opens the store,
  applies retention, imports pandas/Altair);
- sign in to alerts: signing in on the alerts page (3 s after the page showed,
  standing for a person typing their password);
- first render: from clicking "Overview" in the sidebar to its four KPIs
  showing figures, the overview never computed before in this server;
- navigate to overview: the same again later (caches warm);
- filter change: from picking a team never asked before to the KPIs changing;
- filter back (cached): clearing it again.

Each is measured twice: with the server's start-up warm-up of the default view
switched off (``CALLQA_DASHBOARD__PREWARM=false``: every cache cold) and on (the
default). Targets: first render ≤ 2 s, filter change ≤ 1 s. The machine's load
average is printed too: other work on the same cores inflates every figure.

    python benchmarks/dashboard.py [--calls 100000] [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analytics import auth  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.store import Store, iso  # noqa: E402
from analytics.store import aggregates as agg  # noqa: E402
from analytics.store.reads import CallFilter  # noqa: E402
from analytics.store.schema import (  # noqa: E402
    abuse,
    abuse_events,
    calls,
    holds,
    objections,
    quality,
    segments,
)
from analytics.workspace import hash_caller  # noqa: E402
from dashboard import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

USER, PASSWORD = "bench-qm", "bench-password-1"
TEAMS = [
    f"{city}-{n}" for city in ("Niort", "Lyon", "Lille", "Nantes", "Paris") for n in (1, 2, 3, 4)
]
SEVERITIES = ("low", "medium", "high")
CATEGORIES = ("insult", "threat", "profanity", "harassment")
BATCH = 5000
# The time a person takes to type a password, during which the server may warm up.
TYPING_PAUSE_MS = 3000


def _call_rows(
    n: int, now: datetime, rng: random.Random, key: bytes
) -> dict[str, list[dict[str, Any]]]:
    agents = [(f"A{100 + i}", TEAMS[i % len(TEAMS)]) for i in range(300)]
    tables: dict[str, list[dict[str, Any]]] = {
        "calls": [],
        "quality": [],
        "abuse": [],
        "abuse_events": [],
        "segments": [],
    }
    for i in range(n):
        call_id = f"bench-{i:06d}"
        # ~6 months of calls, plus 3 % older than the retention period.
        age_days = rng.uniform(0, 180) if rng.random() > 0.03 else rng.uniform(190, 260)
        started = now - timedelta(days=age_days, seconds=rng.randint(0, 3600))
        agent, team = rng.choice(agents)
        duration = rng.uniform(60, 900)
        tables["calls"].append(
            {
                "call_id": call_id,
                "state": "done",
                "started_at": iso(started),
                "agent_id": agent,
                "team": team,
                "caller_hash": hash_caller(key, f"06{rng.randint(0, 99_999_999):08d}"),
                "channel_layout": "agent_left",
                "language": "fr" if rng.random() < 0.85 else "en",
                "language_probability": 0.97,
                "duration_s": duration,
                "audio_sha256": f"sha-{call_id}",
                "attempts": 1,
                "imported_at": iso(started),
                "processed_at": iso(started),
                "updated_at": iso(started),
            }
        )
        agent_talk = duration * rng.uniform(0.3, 0.5)
        customer_talk = duration * rng.uniform(0.2, 0.4)
        tables["quality"].append(
            {
                "call_id": call_id,
                "talk_time_agent_s": agent_talk,
                "talk_time_customer_s": customer_talk,
                "non_talk_time_s": duration - agent_talk - customer_talk,
                "longest_silence_s": rng.uniform(1, 30),
                "overtalk_s": rng.uniform(0, 15),
                "interruptions": rng.randint(0, 6),
                "agent_wpm": rng.gauss(150, 15),
                "customer_wpm": rng.gauss(140, 20),
                "greeting": rng.random() < 0.9,
                "agent_identified": rng.random() < 0.8,
                "closing": rng.random() < 0.85,
                "empathy": rng.random() < 0.6,
                "hold_etiquette": None,
                "sentiment_start": rng.uniform(-1, 1),
                "sentiment_end": rng.uniform(-1, 1),
                "score": max(0, min(100, int(rng.gauss(74, 12)))),
                "breakdown_json": json.dumps(
                    [
                        {
                            "name": "greeting",
                            "weight": 10,
                            "earned": 10,
                            "reason": "greeted the caller",
                        }
                    ]
                ),
            }
        )
        flagged = rng.random() < 0.04
        severity = rng.choice(SEVERITIES) if flagged else "none"
        tables["abuse"].append(
            {"call_id": call_id, "flagged": flagged, "severity": severity, "reviewed": False}
        )
        if flagged:
            tables["abuse_events"].append(
                {
                    "call_id": call_id,
                    "idx": 0,
                    "speaker": "customer" if rng.random() < 0.9 else "agent",
                    "start_s": 8.0,
                    "end_s": 12.0,
                    "category": rng.choice(CATEGORIES),
                    "severity": severity,
                    "text": "vous êtes un <INSULT> <PERSON>",
                    "matched": "bench",
                    "shouted": False,
                }
            )
        for idx, (speaker, text) in enumerate(
            (
                ("agent", "Bonjour, <PERSON> à votre écoute."),
                ("customer", "Bonjour, ma voiture est en panne à <LOCATION>."),
                ("agent", "Je comprends, je vous envoie une dépanneuse."),
                ("customer", "Merci, au revoir."),
            )
        ):
            tables["segments"].append(
                {
                    "call_id": call_id,
                    "idx": idx,
                    "speaker": speaker,
                    "start_s": idx * 4.0,
                    "end_s": idx * 4.0 + 3.5,
                    "text": text,
                    "loudness_db": -20.0,
                }
            )
    return tables


def fill(store: Store, n: int, now: datetime, seed: int = 7) -> dict[str, int]:
    """Bulk insert ``n`` calls and their governance records; returns what was planted."""
    rng = random.Random(seed)
    tables = _call_rows(n, now, rng, store.key)
    by_name = {
        "calls": calls,
        "quality": quality,
        "abuse": abuse,
        "abuse_events": abuse_events,
        "segments": segments,
    }
    with store.write() as conn:
        for name, table in by_name.items():
            rows = tables[name]
            for start in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[start : start + BATCH])
        ids = [row["call_id"] for row in tables["calls"]]
        objected = rng.sample(ids, n // 100)
        conn.execute(
            insert(objections),
            [{"call_id": cid, "filed_at": iso(now), "actor": "bench"} for cid in objected],
        )
        by_caller = rng.sample(tables["calls"], n // 200)
        conn.execute(
            insert(objections),
            [
                {"caller_hash": row["caller_hash"], "filed_at": iso(now), "actor": "bench"}
                for row in by_caller
            ],
        )
        old = [
            row["call_id"]
            for row in tables["calls"]
            if row["started_at"] < iso(now - timedelta(days=183))
        ]
        held = old[: max(1, len(old) // 10)]
        conn.execute(
            insert(holds),
            [
                {"call_id": cid, "reason": "dispute", "held_at": iso(now), "actor": "bench"}
                for cid in held
            ],
        )
    return {
        "calls": n,
        "objected_by_call": len(objected),
        "objected_by_caller": len(by_caller),
        "older_than_retention": len(old),
        "held": len(held),
        "flagged": sum(1 for row in tables["abuse"] if row["flagged"]),
    }


def _timed(label: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<34} {elapsed * 1000:8.1f} ms")
    return elapsed, result


def time_sql(store: Store, now: datetime, team: str) -> None:
    print("SQL aggregates (no cache):")
    _timed("filter_options", agg.filter_options, store, now)
    _timed("kpis (all)", agg.kpis, store, now)
    _timed("weekly_trends (all)", agg.weekly_trends, store, now)
    _timed("kpis (one team)", agg.kpis, store, now, CallFilter(team=[team]))
    _timed("weekly_trends (one team)", agg.weekly_trends, store, now, CallFilter(team=[team]))
    _timed("league_table by agent", agg.league_table, store, now, by="agent")
    _timed("league_table by team", agg.league_table, store, now, by="team")
    _timed("distribution score", agg.distribution, store, now)
    _timed("alerts", agg.alerts, store, now)
    _timed("alert_counts", agg.alert_counts, store, now)
    _timed("data_version", agg.data_version, store, now)
    _timed("call_list (one team)", agg.call_list, store, now, CallFilter(team=[team]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("streamlit did not become healthy")


def _kpi_text(page: Any) -> str:
    return str(page.locator('[data-testid="stMetric"]').first.inner_text())


def _wait_kpis(page: Any) -> None:
    """The four KPI tiles are shown with figures in them."""
    page.wait_for_function(
        """() => {
            const tiles = document.querySelectorAll('[data-testid="stMetric"]');
            return tiles.length === 4 && /\\d/.test(tiles[0].innerText);
        }"""
    )


def _change_team(page: Any, team: str | None) -> float:
    """Pick a team (or clear the choice); seconds until the Calls tile changed."""
    before = _kpi_text(page)
    box = page.get_by_test_id("stMultiSelect").filter(has_text="Team")
    start = time.perf_counter()
    if team:
        box.locator("input").fill(team)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
    else:
        box.locator("input").click()
        page.keyboard.press("Backspace")
        page.keyboard.press("Escape")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=\"stMetric\"]').innerText !== before",
        arg=before,
    )
    return time.perf_counter() - start


def time_browser(home: Path, team: str, *, prewarm: bool) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from dashboard import server_command

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CALLQA_HOME": str(home),
        "PYTHONPATH": str(REPO),
        "CALLQA_DASHBOARD__PREWARM": "true" if prewarm else "false",
    }
    cmd = server_command(port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    figures: dict[str, float] = {}
    try:
        _wait_healthy(url, proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            # Server start: the first page load opens the store and applies retention.
            # Signing in from the alerts URL lands there, so the overview stays unseen.
            start = time.perf_counter()
            page.goto(f"{url}/alerts")
            page.get_by_role("textbox", name="User name").fill(USER)
            figures["server_first_page_s"] = time.perf_counter() - start
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.wait_for_timeout(TYPING_PAUSE_MS)
            start = time.perf_counter()
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Alerts awaiting review").wait_for()
            figures["sign_in_to_alerts_s"] = time.perf_counter() - start
            page.wait_for_timeout(500)
            # First render of the overview: sidebar link clicked -> the KPIs show figures.
            start = time.perf_counter()
            page.get_by_role("link", name="Overview").click()
            _wait_kpis(page)
            figures["first_render_overview_s"] = time.perf_counter() - start
            page.get_by_text("Calls per week").wait_for()
            # Navigating back to the overview from another page (caches warm).
            page.get_by_role("link", name="Abuse alerts").click()
            page.get_by_text("Alerts awaiting review").wait_for()
            page.wait_for_timeout(500)
            start = time.perf_counter()
            page.get_by_role("link", name="Overview").click()
            _wait_kpis(page)
            figures["navigate_to_overview_s"] = time.perf_counter() - start
            page.get_by_text("Calls per week").wait_for()
            page.wait_for_timeout(500)
            # A filter change never asked before (cold for that filter).
            figures["filter_change_s"] = _change_team(page, team)
            page.wait_for_timeout(500)
            if prewarm:
                page.screenshot(path=str(home / "overview-filtered.png"), full_page=True)
            # Back to all teams (that result is cached).
            figures["filter_back_cached_s"] = _change_team(page, None)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it")
    parser.add_argument("--reuse", action="store_true", help="reuse the --keep workspace")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="callqa-bench-"))
    reuse = args.reuse and args.keep and (home / "callqa.db").exists()
    if not reuse and home.exists() and any(home.iterdir()):
        shutil.rmtree(home)
    settings = load_settings(home=home, env={})
    now = datetime.now(UTC)
    store = Store.open(settings)
    if not reuse:
        start = time.perf_counter()
        planted = fill(store, args.calls, now)
        print(f"filled {home} in {time.perf_counter() - start:.1f} s: {planted}")
        auth.add_user(store, USER, "quality_manager", PASSWORD, actor="bench")
    team = TEAMS[3]
    time_sql(store, now, team)  # expired calls not purged yet: the predicate filters them
    try:
        from analytics import governance

        _timed("purge (before serving)", governance.purge, store, now, actor="bench")
    except ImportError:
        print("analytics.governance missing: no purge before serving")
    store.close()
    targets = {
        "first_render_overview_s": 2.0,
        "navigate_to_overview_s": 2.0,
        "filter_change_s": 1.0,
    }
    for prewarm in (False, True):
        figures = time_browser(home, team, prewarm=prewarm)
        label = "start-up warm-up of the default view" if prewarm else "no warm-up: cold caches"
        print(f"Browser (headless Chromium, Playwright), {label}:")
        print(f"  load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for name, value in figures.items():
            target = targets.get(name)
            verdict = (
                f"   (target ≤ {target:.0f} s: {'ok' if value <= target else 'OVER TARGET'})"
                if target
                else ""
            )
            print(f"  {name:<34} {value:6.2f} s{verdict}")
    print(f"  load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"screenshot: {home / 'overview-filtered.png'}")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
