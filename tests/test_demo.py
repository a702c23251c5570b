"""`callqa demo` builds, ingests and processes a corpus that shows every part of the product."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics import auth
from analytics.cli import cli
from analytics.config import load_settings
from analytics.demo import DEMO_PASSWORD, DEMO_USERS
from analytics.governance import holds_list
from analytics.store import Store, status, utcnow


@pytest.mark.slow
def test_demo_without_dashboard(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    result = CliRunner().invoke(
        cli, ["--home", str(home), "demo", "--calls", "6", "--no-dashboard"]
    )
    assert result.exit_code == 0, result.output
    assert "demo users" in result.output
    with Store.open(load_settings(home, env={})) as store:
        found = status(store, utcnow())
        assert found["counts"].get("done", 0) == 5  # six calls, one objected in the metadata
        assert found["counts"].get("objected") == 1
        assert any("past retention" in r["reason"] for r in found["rejects"])
        assert [h["call_id"] for h in holds_list(store)] == ["demo-002"]
        for name in DEMO_USERS:
            assert auth.authenticate(store, name, DEMO_PASSWORD) is not None
    # Running the demo again changes nothing: ingest is idempotent.
    again = CliRunner().invoke(cli, ["--home", str(home), "demo", "--calls", "6", "--no-dashboard"])
    assert again.exit_code == 0, again.output
    assert "0 imported" in again.output
