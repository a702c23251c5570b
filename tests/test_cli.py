"""The command line: --help everywhere, exit codes 0/1/2, ingest, status and export output."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import make_audio
from factories import add_call

from analytics.cli import cli
from analytics.config import load_settings
from analytics.store import Store


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def test_the_design_commands_exist() -> None:
    names = {" ".join(c) for c in all_commands()}
    for command in (
        "ingest",
        "process",
        "run",
        "export",
        "object",
        "hold",
        "release",
        "purge",
        "subject access",
        "subject erase",
        "status",
        "dashboard",
        "demo",
    ):
        assert command in names


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "callqa")
def test_every_command_has_help(command: tuple[str, ...], tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        result = CliRunner().invoke(cli, [*command, flag])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
        assert not (tmp_path / "callqa-home").exists()
    # and a line of its own that says what it does
    if command:
        target: click.Command = cli
        for name in command:
            assert isinstance(target, click.Group)
            target = target.commands[name]
        assert target.help and target.help.strip()


def test_ingest_all_good_exits_0(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_audio(folder / "a.wav", 1.0, 8000, 2)
    make_audio(folder / "b.mp3", 1.0, 16000, 1, seed=1)
    result = run(tmp_path / "home", "ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert "2 imported, 0 already imported, 0 objected (no copy kept), 0 rejected" in result.stdout
    again = run(tmp_path / "home", "ingest", str(folder))
    assert again.exit_code == 0
    assert "0 imported, 2 already imported" in again.stdout


def test_ingest_with_rejects_exits_1_with_one_line_each(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_audio(folder / "good.wav")
    (folder / "bad.wav").write_text("nope")
    (folder / "empty.flac").write_bytes(b"")
    meta = tmp_path / "m.csv"
    meta.write_text("recording,started_at\nin/good.wav,not a date\nin/ghost.wav,\n")
    result = run(tmp_path / "home", "ingest", str(folder), "--metadata", str(meta))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("rejected ")]
    assert sorted(lines) == sorted(
        [
            f"rejected {folder / 'bad.wav'}: not an audio file or corrupt (InvalidDataError)",
            f"rejected {folder / 'empty.flac'}: empty file",
            f"rejected {meta}:2: started_at 'not a date' is not an ISO 8601 date-time "
            "(recording in/good.wav not imported)",
            f"rejected {meta}:3: recording {tmp_path / 'in' / 'ghost.wav'} not found",
        ]
    )
    assert "0 imported" in result.stdout  # good.wav's row was bad: not imported with defaults


def test_ingest_progress_bar_on_stderr(tmp_path: Path) -> None:
    for i in range(3):
        make_audio(tmp_path / "in" / f"p{i}.wav", 0.2, 8000, 1, seed=i)
    result = run(tmp_path / "home", "ingest", str(tmp_path / "in"))
    assert result.exit_code == 0
    assert "3/3" in result.stderr and "file/s" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ingest"],  # nothing to ingest
        ["ingest", "--metadata"],
        ["nonsense"],
        ["export", "--format", "xml", "--out", "x"],
        ["export", "--format", "jsonl"],
        ["object"],
        ["object", "--call", "a", "--caller-id", "b"],
        ["hold", "--call", "unknown-call", "--reason", "case 1"],
        ["release", "--call", "unknown-call"],
        ["process", "--workers", "0"],
        ["subject"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path / "home", *args)
    assert result.exit_code == 2, result.output


def test_status_lists_counts_and_rejects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "bad.wav").write_text("nope")
    run(home, "ingest", str(tmp_path / "bad.wav"), str(make_audio(tmp_path / "ok.wav")))
    with Store.open(load_settings(home, env={})) as store:
        add_call(store, "d1")
        add_call(store, "f1", state="failed")
    result = run(home, "status")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "calls: 1 done, 1 failed, 1 pending",
        "holds: 0",
        "rejects: 1",
        f"  {tmp_path / 'bad.wav'}: not an audio file or corrupt (InvalidDataError)",
    ]
    as_json = json.loads(run(home, "status", "--json").stdout)
    assert as_json["counts"] == {"done": 1, "failed": 1, "pending": 1}
    assert as_json["rejects"][0]["source"] == str(tmp_path / "bad.wav")


def test_status_of_an_empty_workspace(tmp_path: Path) -> None:
    result = run(tmp_path / "home", "status")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "calls: none"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_command(tmp_path: Path, fmt: str) -> None:
    home = tmp_path / "home"
    with Store.open(load_settings(home, env={})) as store:
        add_call(store, "c1")
        add_call(store, "c2", state="pending")
    out = tmp_path / f"out.{fmt}"
    result = run(home, "export", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"exported 1 calls to {out}"
    assert out.exists()
