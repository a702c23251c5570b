"""The callqa dashboard: a Streamlit app over the governed query layer.

``serve`` runs it as ``python -m dashboard.server run dashboard/app.py`` (Streamlit) for the
``callqa dashboard`` command; the pages only render what
:mod:`analytics.store.aggregates` and :mod:`analytics.store.reads` return.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import subprocess
import sys
from pathlib import Path

from analytics.config import Settings

log = logging.getLogger(__name__)

APP_PATH = Path(__file__).resolve().with_name("app.py")
# Debian's Chromium, as the browser tests and the benchmark drive it: headless on a
# machine with no network, so nothing in the background tries to phone out.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
REPO_ROOT = APP_PATH.parents[1]


LOOPBACK = "127.0.0.1"
PROXY_WARNING = (
    "the dashboard listens on {address}, over plain HTTP: put a TLS reverse proxy in front "
    "of it (README, section Security) and let only the proxy reach this port"
)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def server_command(port: int, *, headless: bool = True, address: str = LOOPBACK) -> list[str]:
    """The server's command line: Streamlit through :mod:`dashboard.server`.

    It binds ``address`` (loopback unless opened on purpose), sends no usage
    statistics and looks up no address of its own, so it makes no outbound
    connection at all.
    """
    return [
        sys.executable,
        "-m",
        "dashboard.server",
        "run",
        str(APP_PATH),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        "localhost" if is_loopback(address) else address,
        "--global.developmentMode",
        "false",
        # The app is not edited while it serves: no file watcher threads.
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--theme.primaryColor",
        "#1f6feb",
    ]


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of the server: the workspace and the settings that change reads."""
    env = dict(os.environ)
    env["CALLQA_HOME"] = str(Path(settings.home).resolve())
    env["CALLQA_RETENTION_DAYS"] = str(settings.retention_days)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def serve(
    settings: Settings, port: int = 8501, *, headless: bool = True, address: str = LOOPBACK
) -> int:
    """Run the dashboard until interrupted; returns the server's exit code.

    Args:
        settings: the workspace to serve.
        port: the HTTP port.
        headless: do not open a browser window.
        address: the interface to listen on; anything but loopback logs a warning
            that points at a TLS reverse proxy.
    """
    if not is_loopback(address):
        log.warning(PROXY_WARNING.format(address=address))
    log.info("dashboard on %s port %s for workspace %s", address, port, settings.home)
    try:
        command = server_command(port, headless=headless, address=address)
        return subprocess.call(command, env=server_env(settings))
    except KeyboardInterrupt:
        return 0
