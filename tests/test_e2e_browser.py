"""End to end: the real Streamlit server driven by headless Chromium (Playwright).

Logs in as each kind of user, visits every page, checks what is shown, saves a
screenshot per page under tmp/artifacts/dashboard/, and checks that no personal
value planted in objected or expired calls ever reaches a page's HTML while the
redaction placeholders of visible calls do. The server runs under ``strace``: the
last test fails on any connection it attempted to anything but loopback. The TLS
reverse-proxy recipe of the README is run for real with Debian's nginx.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
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

from analytics import audit, governance
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


STRACE = "/usr/bin/strace"
# Every socket the server (and any child) connects or sends to: strace's own log.
TRACE = ("-f", "-qq", "-e", "trace=bind,connect,sendto,sendmsg", "-e", "signal=none")
EVIL = "http://evil.example"


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, log_path.read_text()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server never became healthy"
        time.sleep(0.2)


def _stop_traced(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server strace runs (strace then exits with it)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """The real server, started as `callqa dashboard` starts it, under strace."""
    workspace = build_workspace(tmp_path_factory.mktemp("e2e") / "ws")
    port = _free_port()
    log_path = workspace.settings.home / "server.log"
    trace_path = workspace.settings.home.parent / "server.strace"
    command = [
        STRACE,
        *TRACE,
        "-o",
        str(trace_path),
        *frozen_run.command(NOW, server_command(port)),
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=server_env(workspace.settings), stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(proc, url, log_path)
            yield url, workspace.settings.home, trace_path
        finally:
            _stop_traced(proc)


@pytest.fixture(scope="module")
def server(traced: tuple[str, Path, Path]) -> tuple[str, Path]:
    return traced[0], traced[1]


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


def sign_in_form(page: Any, role: str) -> None:
    """Sign in on the form a page URL opened with (a new browser session asks first)."""
    page.get_by_role("textbox", name="User name").fill(USERS[role])
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[role])
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
    review = page.get_by_role("button", name="Mark reviewed")
    review.wait_for()  # the form renders after the table: wait, do not race it
    assert review.count() == 1
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
    # The redacted Ogg file travels inside the signed-in session: no /media/ URL.
    assert src and src.startswith("data:audio/ogg;base64,")
    assert base64.b64decode(src.split(",", 1)[1])[:4] == b"OggS"
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


def _old_media_url(url: str, data: bytes) -> str:
    """Where Streamlit's media endpoint would serve these bytes as st.audio(path) did."""
    from streamlit.runtime.memory_media_file_storage import (
        _calculate_file_id,
        get_extension_for_mimetype,
    )

    file_id = _calculate_file_id(data, "audio/ogg")
    return f"{url}/media/{file_id}{get_extension_for_mimetype('audio/ogg')}"


def _status(address: str) -> int:
    try:
        with urllib.request.urlopen(address, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_audio_has_no_url_to_fetch_without_signing_in_nor_after_an_objection(
    server: tuple[str, Path], page: Any
) -> None:
    url, home = server
    audio = (home / "redacted-audio" / f"{AUDIO_CALL}.ogg").read_bytes()
    page.goto(f"{url}/call_review?call={AUDIO_CALL}")
    sign_in_form(page, "trainer")
    page.get_by_role("button", name="Listen to the redacted audio").click()
    page.locator("audio").wait_for()
    settle(page)
    src = page.locator("audio").get_attribute("src") or ""
    assert base64.b64decode(src.split(",", 1)[1]) == audio
    # While the session plays it, the bytes have no address anyone could fetch.
    assert "/media/" not in str(page.content()).replace("/static/media/", "")
    assert _status(_old_media_url(url, audio)) == 404
    # Objected: the next run of the page shows no audio at all.
    store = Store.open(load_settings(home=home, env={}))
    try:
        governance.object_calls(store, call_id=AUDIO_CALL, now=NOW, actor="test")
    finally:
        store.close()
    page.reload()
    sign_in_form(page, "trainer")
    page.get_by_text("is not available").wait_for()
    settle(page)
    assert page.locator("audio").count() == 0
    assert _status(_old_media_url(url, audio)) == 404


def test_a_crafted_call_link_shows_its_markdown_literally(
    server: tuple[str, Path], page: Any
) -> None:
    url, _home = server
    payload = f"![x]({EVIL}/pixel.png)[Session expired]({EVIL}/login)<img src={EVIL}/i.png>"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}/call_review?call={urllib.parse.quote(payload)}")
    sign_in_form(page, "trainer")
    page.get_by_text("is not available").wait_for()
    settle(page)
    check_and_shoot(page, "10-crafted-link")
    assert page.locator(f'img[src^="{EVIL}"]').count() == 0
    assert page.locator(f'a[href^="{EVIL}"]').count() == 0
    warning = page.get_by_test_id("stAlert").inner_text().replace("\u2060", "")
    assert "[Session expired](http://evil.example/login)" in warning
    assert page.get_by_test_id("stAlert").locator("a, img").count() == 0
    # The browser asked nothing of the outside host (only our own URL carries the text).
    assert not [r for r in requested if urllib.parse.urlsplit(r).hostname == "evil.example"]


# --- conversation insights: a category defined in the editor, the filter, search --------

CATEGORY_RULE = """[[categories]]
name = "tow truck sent"
rule = { phrases = ["une dépanneuse arrive"], speaker = "agent", fuzzy = true }
"""


def test_quality_manager_defines_a_category_filters_by_it_and_searches(
    server: tuple[str, Path], page: Any
) -> None:
    url, _home = server
    sign_in(page, url, "quality_manager")
    page.get_by_role("heading", name="Overview").first.wait_for()
    settle(page)
    go(page, "Categories", "Categories")
    page.locator("textarea").first.fill(CATEGORY_RULE)
    page.get_by_role("button", name="Save and apply").click()
    table_shows(page, "tow truck sent")  # past calls tagged at once
    settle(page)
    table_shows(page, "12")
    check_and_shoot(page, "11-categories")

    go(page, "Overview", "Overview")
    page.get_by_text("Categories by week").wait_for()
    page.get_by_test_id("stMultiSelect").filter(has_text="Category").click()
    page.get_by_role("option", name="tow truck sent").click()
    page.keyboard.press("Escape")
    settle(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
                 .some(m => m.innerText.includes('Calls') && /\\b12\\b/.test(m.innerText))"""
    )
    check_and_shoot(page, "12-overview-by-category")

    go(page, "Search", "Search")
    box = page.get_by_role("textbox", name="Words to find")
    box.fill('"dépanneuse arrive"')
    box.press("Enter")
    page.get_by_text("matching segments").wait_for()
    settle(page)
    html = check_and_shoot(page, "13-search")
    # the filter bar's category choice follows onto this page: the twelve tagged calls
    assert "12 matching segments" in html
    assert page.locator('span[style*="background"]', has_text="dépanneuse").count() >= 1


# --- the README's TLS reverse proxy, for real -----------------------------------------


def _recipe() -> str:
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- proxy-recipe -->", 1)[1]
    return block.split("```nginx\n", 1)[1].split("```", 1)[0]


def test_the_documented_tls_proxy_serves_the_dashboard(
    server: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, _home = server
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    upstream_port = url.rsplit(":", 1)[1]
    https_port, http_port = _free_port(), _free_port()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    recipe = (
        _recipe()
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("/etc/ssl/certs/callqa.pem", str(tmp_path / "cert.pem"))
        .replace("/etc/ssl/private/callqa.key", str(tmp_path / "key.pem"))
        .replace("http://127.0.0.1:8501", f"http://127.0.0.1:{upstream_port}")
    )
    assert f"127.0.0.1:{https_port} ssl" in recipe and upstream_port in recipe
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in
                   ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    (tmp_path / "nginx.conf").write_text(
        f"worker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\naccess_log off;\n{temp}{recipe}\n}}\n"
    )
    proxy = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proxy.poll() is None, proxy.stderr.read() if proxy.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx never listened"
                time.sleep(0.2)
        # Plain HTTP is only a redirect to HTTPS.
        request = urllib.request.Request(f"http://127.0.0.1:{http_port}/overview")
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(request, timeout=10)
        assert caught.value.code == 301
        assert caught.value.headers["Location"].startswith("https://")
        # Through TLS, the whole app works: the page, its WebSocket, signing in.
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            sign_in(page, f"https://localhost:{https_port}", "quality_manager")
            page.get_by_role("heading", name="Overview").first.wait_for()
            page.get_by_text("Calls per week").wait_for()
            response = page.request.get(f"https://localhost:{https_port}/_stcore/health")
            assert response.ok and response.headers["strict-transport-security"]
        finally:
            context.close()
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- last: nothing left the machine ----------------------------------------------------

_IPV4 = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)')
_IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')


def outside_connections(trace: str) -> list[str]:
    """strace lines where a socket was bound, connected or sent to a non-loopback address."""
    found = []
    for line in trace.splitlines():
        if not re.search(r"\b(bind|connect|sendto|sendmsg)\(", line):
            continue
        for address in _IPV4.findall(line) + _IPV6.findall(line):
            ip = ipaddress.ip_address(address)
            mapped = getattr(ip, "ipv4_mapped", None)
            if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
                found.append(line)
                break
    return found


def test_the_trace_check_catches_an_outside_connection() -> None:
    trace = "\n".join([
        '7 connect(3, {sa_family=AF_INET, sin_port=htons(8501), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '7 connect(4, {sa_family=AF_UNIX, sun_path="/run/x"}, 16) = 0',
        '7 connect(5, {sa_family=AF_INET6, sin6_port=htons(9), inet_pton(AF_INET6, "::1", &sin6_addr)}, 28) = 0',
        '7 connect(6, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr("8.8.8.8")}, 16) = 0',
        '7 sendto(7, "q", 1, 0, {sa_family=AF_INET6, inet_pton(AF_INET6, "2001:db8::1", &sin6_addr)}, 28) = 1',
    ])  # fmt: skip
    assert [line.split("(")[1][0] for line in outside_connections(trace)] == ["6", "7"]


def test_the_server_never_connects_outside_loopback(
    traced: tuple[str, Path, Path], page: Any
) -> None:
    url, _home, trace_path = traced
    sign_in(page, url, "quality_manager")
    page.get_by_role("heading", name="Overview").first.wait_for()
    settle(page)
    for link, heading in (("Agents & teams", "Agents & teams"), ("Abuse alerts", "Abuse alerts")):
        go(page, link, heading)
    trace = trace_path.read_text()
    port = url.rsplit(":", 1)[1]
    # The trace is live: it holds the server's own listening socket, on loopback.
    assert re.search(
        rf'bind\(\d+, {{sa_family=AF_INET, sin_port=htons\({port}\), sin_addr=inet_addr\("127.0.0.1"\)',
        trace,
    )
    assert outside_connections(trace) == []
