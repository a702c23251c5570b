"""Dashboard speed on a contact centre's worth of calls, on SQLite or PostgreSQL.

Fills a fresh workspace with synthetic processed calls (no models: six months,
20 teams, 300 agents, 4 % flagged, 1 % objected by call and 0.5 % by caller, 3 %
past retention of which a tenth held) by bulk inserts — executemany on SQLite,
COPY on PostgreSQL — and builds the dashboard rollups with one INSERT ... SELECT.
For ``--backend postgresql`` it starts a throwaway server (``tests/postgres_server.py``:
initdb in a temporary folder, 127.0.0.1 only).

Then it times what the pages compute, through the same functions they call:

- overview: the data version (every cache lookup), the filter bar's choices and
  the weekly trends (the KPIs are their totals);
- a filter change: one team, one agent, a language, the last 30 days;

each on the rollups and on the row-level path (the baseline, same run, same
answers checked), before and after a purge; and an objection showing at once.
Targets: overview ≤ 2 s, filter change ≤ 1 s. ``--browser`` also measures the
real dashboard in headless Chromium (Playwright): first render of the overview,
navigating back to it, a filter change and back. The load average is printed:
other work on the same cores inflates every figure.

    python benchmarks/dashboard.py [--calls 2000000] [--backend sqlite|postgresql]
        [--segments 2] [--browser] [--no-purge] [--keep DIR [--reuse]]
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

from bulk import insert_rows  # noqa: E402

from analytics import auth, governance  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.store import Store, iso, rollups  # noqa: E402
from analytics.store import aggregates as agg  # noqa: E402
from analytics.store.reads import CallFilter  # noqa: E402
from analytics.store.schema import holds, objections  # noqa: E402
from analytics.workspace import hash_caller  # noqa: E402
from dashboard import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

USER, PASSWORD = "bench-qm", "bench-password-1"
TEAMS = [
    f"{city}-{n}" for city in ("Niort", "Lyon", "Lille", "Nantes", "Paris") for n in (1, 2, 3, 4)
]
SEVERITIES = ("low", "medium", "high")
CATEGORIES = ("insult", "threat", "profanity", "harassment")
BATCH = 50_000  # calls per transaction of the fill
# The time a person takes to type a password, during which the server may warm up.
TYPING_PAUSE_MS = 3000


CALL_COLUMNS = (
    "call_id", "state", "started_at", "agent_id", "team", "caller_hash", "channel_layout",
    "language", "language_probability", "duration_s", "audio_sha256", "attempts",
    "imported_at", "processed_at", "updated_at",
)  # fmt: skip
QUALITY_COLUMNS = (
    "call_id", "talk_time_agent_s", "talk_time_customer_s", "non_talk_time_s",
    "longest_silence_s", "overtalk_s", "interruptions", "agent_wpm", "customer_wpm",
    "greeting", "agent_identified", "closing", "empathy", "hold_etiquette",
    "sentiment_start", "sentiment_end", "score", "breakdown_json",
)  # fmt: skip
ABUSE_COLUMNS = ("call_id", "flagged", "severity", "reviewed")
EVENT_COLUMNS = (
    "call_id", "idx", "speaker", "start_s", "end_s", "category", "severity", "text",
    "matched", "shouted",
)  # fmt: skip
SEGMENT_COLUMNS = ("call_id", "idx", "speaker", "start_s", "end_s", "text", "loudness_db")
COLUMNS = {
    "calls": CALL_COLUMNS,
    "quality": QUALITY_COLUMNS,
    "abuse": ABUSE_COLUMNS,
    "abuse_events": EVENT_COLUMNS,
    "segments": SEGMENT_COLUMNS,
}
SEGMENT_TEXTS = (
    ("agent", "Bonjour, <PERSON> à votre écoute."),
    ("customer", "Bonjour, ma voiture est en panne à <LOCATION>."),
    ("agent", "Je comprends, je vous envoie une dépanneuse."),
    ("customer", "Merci, au revoir."),
)
BREAKDOWN = json.dumps(
    [{"name": "greeting", "weight": 10, "earned": 10, "reason": "greeted the caller"}]
)
AGENTS = [(f"A{100 + i}", TEAMS[i % len(TEAMS)]) for i in range(300)]


def _chunk(
    first: int, n: int, now: datetime, rng: random.Random, key: bytes, segments_per_call: int
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows (tuples in COLUMNS order) of calls first .. first + n - 1."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    for i in range(first, first + n):
        call_id = f"bench-{i:07d}"
        # ~6 months of calls, plus 3 % older than the retention period.
        age_days = rng.uniform(0, 180) if rng.random() > 0.03 else rng.uniform(190, 260)
        started = iso(now - timedelta(days=age_days, seconds=rng.randint(0, 3600)))
        agent, team = rng.choice(AGENTS)
        duration = rng.uniform(60, 900)
        caller = hash_caller(key, f"06{rng.randint(0, 99_999_999):08d}")
        language = "fr" if rng.random() < 0.85 else "en"
        rows["calls"].append(
            (call_id, "done", started, agent, team, caller, "agent_left", language, 0.97,
             duration, f"sha-{call_id}", 1, started, started, started)
        )  # fmt: skip
        agent_talk = duration * rng.uniform(0.3, 0.5)
        customer_talk = duration * rng.uniform(0.2, 0.4)
        rows["quality"].append(
            (call_id, agent_talk, customer_talk, duration - agent_talk - customer_talk,
             rng.uniform(1, 30), rng.uniform(0, 15), rng.randint(0, 6), rng.gauss(150, 15),
             rng.gauss(140, 20), rng.random() < 0.9, rng.random() < 0.8, rng.random() < 0.85,
             rng.random() < 0.6, None, rng.uniform(-1, 1), rng.uniform(-1, 1),
             max(0, min(100, int(rng.gauss(74, 12)))), BREAKDOWN)
        )  # fmt: skip
        flagged = rng.random() < 0.04
        severity = rng.choice(SEVERITIES) if flagged else "none"
        rows["abuse"].append((call_id, flagged, severity, False))
        if flagged:
            speaker = "customer" if rng.random() < 0.9 else "agent"
            rows["abuse_events"].append(
                (call_id, 0, speaker, 8.0, 12.0, rng.choice(CATEGORIES), severity,
                 "vous êtes un <INSULT> <PERSON>", "bench", False)
            )  # fmt: skip
        for idx in range(segments_per_call):
            speaker, text = SEGMENT_TEXTS[idx % len(SEGMENT_TEXTS)]
            rows["segments"].append(
                (call_id, idx, speaker, idx * 4.0, idx * 4.0 + 3.5, text, -20.0)
            )
    return rows


def _bulk_insert(conn: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    insert_rows(conn.connection.dbapi_connection, conn.dialect.name, table, COLUMNS[table], rows)


def fill(
    store: Store, n: int, now: datetime, seed: int = 7, segments_per_call: int = 2
) -> dict[str, Any]:
    """Bulk insert ``n`` calls and their governance records, then build the rollups
    with one INSERT ... SELECT; returns what was planted and how long each part took."""
    rng = random.Random(seed)
    started = time.perf_counter()
    starts: list[str] = []
    carriers: list[tuple[str, str]] = []  # (call id, caller hash) of a sample of calls
    flagged = 0
    for first in range(0, n, BATCH):
        rows = _chunk(first, min(BATCH, n - first), now, rng, store.key, segments_per_call)
        with store.write() as conn:
            for table, table_rows in rows.items():
                _bulk_insert(conn, table, table_rows)
        starts += [row[2] for row in rows["calls"]]
        carriers += [(row[0], row[5]) for row in rows["calls"][::100]]
        flagged += sum(1 for row in rows["abuse"] if row[1])
    fill_s = time.perf_counter() - started
    ids = [f"bench-{i:07d}" for i in range(n)]
    cutoff = iso(now - timedelta(days=183))
    old = [call_id for call_id, start in zip(ids, starts, strict=True) if start < cutoff]
    objected = rng.sample(ids, n // 100)
    by_caller = rng.sample(carriers, min(len(carriers), n // 200))
    held = old[: max(1, len(old) // 10)]
    with store.write() as conn:
        conn.execute(
            insert(objections),
            [{"call_id": cid, "filed_at": iso(now), "actor": "bench"} for cid in objected],
        )
        conn.execute(
            insert(objections),
            [{"caller_hash": h, "filed_at": iso(now), "actor": "bench"} for _, h in by_caller],
        )
        conn.execute(
            insert(holds),
            [
                {"call_id": cid, "reason": "dispute", "held_at": iso(now), "actor": "bench"}
                for cid in held
            ],
        )
    started = time.perf_counter()
    with store.write() as conn:
        rollups.rebuild(conn)
    rollup_s = time.perf_counter() - started
    if store.backend == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
    return {
        "calls": n,
        "objected_by_call": len(objected),
        "objected_by_caller": len(by_caller),
        "older_than_retention": len(old),
        "held": len(held),
        "flagged": flagged,
        "fill_s": round(fill_s, 1),
        "rollup_build_s": round(rollup_s, 1),
    }


def _timed(label: str, fn: Any, *args: Any, repeat: int = 3, **kwargs: Any) -> tuple[float, Any]:
    """First run and best of ``repeat``; returns the best."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    print(f"  {label:<44} first {times[0] * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms")
    return min(times), result


def overview_reads(store: Store, now: datetime, rows: bool) -> dict[str, Any]:
    """What the overview page computes: the filter bar's choices, the weekly trends
    (its KPIs are their totals) and the data version of each cache lookup."""
    agg.data_version(store, now)
    options = (agg.filter_options_rows if rows else agg.filter_options)(store, now)
    weeks = (agg.weekly_trends_rows if rows else agg.weekly_trends)(store, now)
    return {"options": options, "totals": agg.totals_of(weeks)}


def filter_read(store: Store, now: datetime, flt: CallFilter, rows: bool) -> dict[str, Any]:
    """A filter change: the options are cached; the weekly trends of the new filter."""
    agg.data_version(store, now)
    weeks = (agg.weekly_trends_rows if rows else agg.weekly_trends)(store, now, flt)
    return agg.totals_of(weeks)


def time_sql(store: Store, now: datetime, team: str) -> dict[str, float]:
    """The reads of the overview and of filter changes: rollups, then the row-level
    baseline in the same run, each checked equal to the other."""
    agent = AGENTS[7][0]
    filters = {
        "one team": CallFilter(team=[team]),
        "one agent": CallFilter(agent=[agent]),
        "language en": CallFilter(language=["en"]),
        "30 days": CallFilter(since=now - timedelta(days=30)),
    }
    figures: dict[str, float] = {}
    print(f"SQL reads of the pages ({store.backend}), rollups vs row level:")
    _timed("data_version (every cache lookup)", agg.data_version, store, now)
    for rows in (False, True):
        path = "row level" if rows else "rollups"
        repeat = 1 if rows else 3  # the baseline is slow at scale: once
        best, result = _timed(f"overview [{path}]", overview_reads, store, now, rows, repeat=repeat)
        figures[f"overview_{'rows' if rows else 'rollups'}_s"] = best
        if rows:
            assert result["totals"]["calls"] == figures["_calls"], "rollup != row level"
        else:
            figures["_calls"] = result["totals"]["calls"]
        for label, flt in filters.items():
            best, _ = _timed(
                f"filter {label} [{path}]", filter_read, store, now, flt, rows, repeat=repeat
            )
            figures[f"filter_{label.replace(' ', '_')}_{'rows' if rows else 'rollups'}_s"] = best
    figures.pop("_calls")
    for label in filters:
        name = label.replace(" ", "_")
        print(
            f"  filter {label:<12} rollups {figures[f'filter_{name}_rollups_s']:.3f} s, "
            f"row level {figures[f'filter_{name}_rows_s']:.3f} s"
        )
    print(
        f"  overview          rollups {figures['overview_rollups_s']:.3f} s, "
        f"row level {figures['overview_rows_s']:.3f} s "
        f"(x{figures['overview_rows_s'] / figures['overview_rollups_s']:.0f})"
    )
    print("Score pages (Agents & teams), rollups vs row level, answers checked equal:")
    score_pages = {
        "league_table by agent": (agg.league_table, agg.league_table_rows, {"by": "agent"}),
        "league_table by team": (agg.league_table, agg.league_table_rows, {"by": "team"}),
        "distribution score": (agg.distribution, agg.distribution_rows, {}),
    }
    for label, (fast, slow, kwargs) in score_pages.items():
        for flt_label, flt in (("all", None), ("one team", filters["one team"])):
            name = f"{label} [{flt_label}]"
            best, got = _timed(f"{name} [rollups]", fast, store, now, flt, repeat=3, **kwargs)
            base, want = _timed(f"{name} [row level]", slow, store, now, flt, repeat=1, **kwargs)
            assert [r.get("calls") for r in got] == [r.get("calls") for r in want], name
            key = label.replace(" ", "_") + ("" if flt is None else "_team")
            kind = "overview" if flt is None else "filter"
            figures[f"{kind}_{key}_rollups_s"] = best
            print(f"  {name:<40} rollups {best:.3f} s, row level {base:.3f} s")
    print("Other pages (row level, unchanged):")
    _timed("alerts", agg.alerts, store, now, repeat=1)
    _timed("alert_counts", agg.alert_counts, store, now, repeat=1)
    _timed("alert_totals [rollups]", agg.alert_totals, store, now, repeat=1)
    _timed("call_list (one team)", agg.call_list, store, now, CallFilter(team=[team]), repeat=1)
    return figures


def time_governance(store: Store, now: datetime) -> None:
    """An objection shows at once: the overview's count drops by one, through the rollup."""
    before = agg.kpis(store, now)["calls"]
    (visible,) = agg.call_list(store, now, limit=1)
    _timed(
        "objection of one call (rows + rollup)",
        governance.object_calls,
        store,
        repeat=1,
        call_id=visible["call_id"],
        now=now,
        actor="bench",
    )
    after = agg.kpis(store, now)["calls"]
    print(f"  overview calls before {before:,}, after {after:,} (one objected)")
    assert after == before - 1


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


def time_browser(
    home: Path, team: str, *, prewarm: bool, env: dict[str, str] | None = None
) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from dashboard import server_command

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **(env or {}),
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


def _postgres(folder: Path) -> Any:
    """A throwaway PostgreSQL server (the tests' helper: initdb in a temporary folder,
    127.0.0.1 only), with the memory a database server of this size would be given."""
    sys.path.insert(0, str(REPO / "tests"))
    import postgres_server

    return postgres_server.start(folder, extra=("shared_buffers=1GB", "work_mem=64MB"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--segments", type=int, default=2, help="transcript segments per call")
    parser.add_argument("--browser", action="store_true", help="also time the real dashboard")
    parser.add_argument(
        "--purge",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="purge the 3 %% past retention and time the reads again (slow at millions)",
    )
    parser.add_argument("--keep", type=Path, help="build the workspace here and keep it")
    parser.add_argument("--reuse", action="store_true", help="reuse the --keep workspace")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="callqa-bench-"))
    reuse = args.reuse and args.keep and (home / "callqa.db").exists()
    if args.backend == "postgresql" and args.reuse:
        parser.error("--reuse: SQLite only (the PostgreSQL server is thrown away)")
    if not reuse and home.exists() and any(home.iterdir()):
        shutil.rmtree(home)
    server = None
    env: dict[str, str] = {}
    if args.backend == "postgresql":
        server = _postgres(Path(tempfile.mkdtemp(prefix="callqa-bench-pg-")))
        env["CALLQA_DATABASE_URL"] = server.new_database()
    try:
        settings = load_settings(home=home, env=env)
        now = datetime.now(UTC).replace(microsecond=0)
        store = Store.open(settings)
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if not reuse:
            planted = fill(store, args.calls, now, segments_per_call=args.segments)
            print(f"filled {args.backend} ({home}): {planted}")
            auth.add_user(store, USER, "quality_manager", PASSWORD, actor="bench")
        team = TEAMS[3]
        # expired calls not purged yet: the predicate (and the rollup read) skips them
        figures = time_sql(store, now, team)
        time_governance(store, now)
        if args.purge:
            _timed(
                "purge (first, 3 % of calls)", governance.purge, store, now, repeat=1, actor="bench"
            )
            print("After the purge:")
            figures = time_sql(store, now, team)
        targets = {"overview": 2.0, "filter": 1.0}
        print(f"Targets ({args.backend}, {args.calls:,} calls, rollup reads):")
        for name, value in figures.items():
            if name.endswith("_rollups_s"):
                target = targets[name.split("_")[0]]
                verdict = "ok" if value <= target else "OVER TARGET"
                print(f"  {name:<34} {value:6.3f} s   (target ≤ {target:.0f} s: {verdict})")
        store.close()
        if args.browser:
            _browser(home, team, env)
        print(f"  load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.folder, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def _browser(home: Path, team: str, env: dict[str, str]) -> None:
    targets = {
        "first_render_overview_s": 2.0,
        "navigate_to_overview_s": 2.0,
        "filter_change_s": 1.0,
    }
    for prewarm in (False, True):
        figures = time_browser(home, team, prewarm=prewarm, env=env)
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
    print(f"screenshot: {home / 'overview-filtered.png'}")


if __name__ == "__main__":
    raise SystemExit(main())
