"""The product takes its clock from the system only: no flag, setting or variable sets it
(a user who could set the time could export calls past retention, purge young calls or
back-date audit rows). Tests freeze it through the Python API."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from factories import NOW

from analytics import clock, dataset
from analytics.cli import cli
from dashboard import runtime


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


def test_frozen_sets_now_and_restores_the_previous_clock() -> None:
    before = clock.now()
    with clock.frozen(datetime(2030, 1, 1, tzinfo=UTC)):
        assert clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    assert clock.now() == before  # the suite's own frozen clock again


def test_a_naive_moment_is_read_as_utc() -> None:
    with clock.frozen(datetime(2030, 1, 1)):
        assert clock.now().tzinfo is UTC


def test_the_system_clock_is_the_default() -> None:
    clock.use(None)
    try:
        assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    finally:
        clock.use(lambda: NOW)


@pytest.mark.parametrize(("name", "command"), _commands(cli))
def test_no_command_takes_a_time_option(name: str, command: click.Command) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert not options & {"--now", "--at", "--as-of", "--clock", "--today"}, name


def test_a_now_option_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path / "h"), "purge", "--now", "2099-01-01T00:00:00+00:00"],
    )
    assert result.exit_code == 2 and "No such option" in result.output


def test_neither_a_setting_nor_the_environment_moves_the_dashboard_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text('[dashboard]\nnow = "2099-01-01T00:00:00+00:00"\n')
    monkeypatch.setenv("CALLQA_HOME", str(home))
    monkeypatch.setenv("CALLQA_DASHBOARD__NOW", "2099-01-01T00:00:00+00:00")
    assert runtime.now() == NOW.replace(microsecond=0)


@pytest.mark.parametrize(
    "function",
    [
        dataset.load_calls,
        dataset.load_segments,
        dataset.load_rubric,
        dataset.load_abuse_events,
    ],
)
def test_readers_take_no_moment_from_their_caller(function: object) -> None:
    """A reader's 'now' would let a notebook see calls past retention."""
    assert "now" not in inspect.signature(function).parameters  # type: ignore[arg-type]
