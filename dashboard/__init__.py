"""The callqa dashboard: a Streamlit app over the governed query layer.

``serve`` runs it as ``python -m streamlit run dashboard/app.py`` for the
``callqa dashboard`` command; the pages only render what
:mod:`analytics.store.aggregates` and :mod:`analytics.store.reads` return.
"""

from __future__ import annotations

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


def server_command(port: int, *, headless: bool = True) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
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


def serve(settings: Settings, port: int = 8501, *, headless: bool = True) -> int:
    """Run the dashboard until interrupted; returns the server's exit code.

    Args:
        settings: the workspace to serve.
        port: the HTTP port.
        headless: do not open a browser window.
    """
    log.info("dashboard on port %s for workspace %s", port, settings.home)
    try:
        return subprocess.call(server_command(port, headless=headless), env=server_env(settings))
    except KeyboardInterrupt:
        return 0
