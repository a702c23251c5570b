"""`callqa demo` builds, ingests and processes a corpus that shows every part of the product."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import add_call

from analytics import auth
from analytics.cli import cli
from analytics.config import load_settings
from analytics.demo import (
    DEMO_MARKER,
    DEMO_PASSWORD,
    DEMO_USERS,
    claim_workspace,
    is_demo_workspace,
    run_demo,
)
from analytics.errors import UsageError
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


def test_demo_refuses_a_real_workspace(store: Store) -> None:
    """A workspace with users and calls gets no demo accounts (published password)."""
    add_call(store, "real-1")
    auth.add_user(store, "alice", "quality_manager", "a long and unusual passphrase 7")
    home = store.settings.home
    before = sorted(p.name for p in home.iterdir())
    result = CliRunner().invoke(cli, ["--home", str(home), "demo", "--no-dashboard"])
    assert result.exit_code == 2, result.output
    assert "not a demo workspace" in result.output
    assert [u.name for u in auth.list_users(store)] == ["alice"]
    assert sorted(p.name for p in home.iterdir()) == before  # no corpus, no marker
    with pytest.raises(UsageError, match="not a demo workspace"):
        run_demo(store, n_calls=2)


@pytest.mark.parametrize("content", ["config.toml", "notes.txt"])
def test_demo_refuses_a_folder_with_anything_in_it(tmp_path: Path, content: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / content).write_text("")
    with pytest.raises(UsageError):
        claim_workspace(load_settings(home, env={}))
    assert not (home / DEMO_MARKER).exists()


def test_demo_claims_a_new_or_empty_folder_and_comes_back_to_it(tmp_path: Path) -> None:
    for home in (tmp_path / "missing" / "home", tmp_path / "empty"):
        if home.name == "empty":
            home.mkdir()
        settings = load_settings(home, env={})
        claim_workspace(settings)
        assert is_demo_workspace(settings)
        assert stat.S_IMODE((home / DEMO_MARKER).stat().st_mode) == 0o600
        with Store.open(settings):
            pass  # the workspace now holds a database ...
        claim_workspace(settings)  # ... and is still the demo's
