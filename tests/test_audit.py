"""The audit log: a hash chain that names the row someone changed or removed."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import NOW, add_call

from analytics import audit, governance
from analytics.cli import cli
from analytics.config import Settings
from analytics.store import Store

CALLER = "06 12 34 56 78"


@pytest.fixture
def home(settings: Settings) -> Path:
    return settings.home


def _fill(store: Store) -> None:
    """Six entries of different kinds, as real operations write them."""
    add_call(store, "c1", caller_id=CALLER)
    add_call(store, "c2")
    add_call(store, "c3", started_at=NOW - timedelta(days=300))
    governance.hold(store, "c2", "case 2026-17", now=NOW)
    governance.object_calls(store, call_id="c1", now=NOW)
    governance.purge(store, now=NOW)
    governance.release(store, "c2", now=NOW)  # release + its purge
    audit.log_event(store, "alice", "view_call", "c2", {"page": "call"}, now=NOW)


def _raw(home: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(home / "callqa.db") as conn:
        conn.execute(sql, params)


def _run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args])
    return result.exit_code, result.output


def test_every_operation_is_chained_and_verifies(store: Store) -> None:
    _fill(store)
    rows = list(reversed(audit.entries(store)))
    assert [r["action"] for r in rows] == [
        "hold",
        "object",
        "purge",
        "release",
        "purge",
        "view_call",
    ]
    assert rows[0]["prev_hash"] == audit.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
        assert after["id"] == before["id"] + 1
    assert audit.verify(store) == []


def test_entries_filter_and_limit(store: Store) -> None:
    _fill(store)
    purges = audit.entries(store, action="purge")
    assert [r["action"] for r in purges] == ["purge", "purge"]
    assert purges[0]["id"] > purges[1]["id"]  # newest first
    assert len(audit.entries(store, limit=2)) == 2


def test_detail_holds_counts_not_personal_data(store: Store) -> None:
    _fill(store)
    governance.object_calls(store, caller_id=CALLER, now=NOW)
    governance.subject_erase(store, CALLER, now=NOW)
    text = json.dumps(audit.entries(store))
    for form in (CALLER, CALLER.replace(" ", ""), "612345678"):
        assert form not in text
    obj = audit.entries(store, action="object")[0]
    assert obj["call_id"] is None and json.loads(obj["detail"]) == {"by": "caller", "calls": 0}
    assert json.loads(audit.entries(store, action="hold")[0]["detail"]) == {}


def test_unknown_action_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.log_event(store, "cli", "peek")
    assert audit.entries(store) == []


@pytest.mark.parametrize(
    ("column", "value"),
    [("detail", '{"calls": 0}'), ("actor", "mallory"), ("action", "export"), ("at", "2020")],
)
def test_changed_row_is_named(store: Store, home: Path, column: str, value: str) -> None:
    _fill(store)
    _raw(home, f"UPDATE audit SET {column} = ? WHERE id = 3", value)
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [3]
    assert "changed" in problems[0].reason


def test_changed_row_with_recomputed_hash_breaks_the_next_link(store: Store, home: Path) -> None:
    _fill(store)
    with sqlite3.connect(home / "callqa.db") as conn:
        at, prev = conn.execute("SELECT at, prev_hash FROM audit WHERE id = 3").fetchone()
        forged = audit._digest(prev, at, "mallory", "purge", None, "{}")
        conn.execute(
            "UPDATE audit SET actor='mallory', detail='{}', hash=? WHERE id = 3", (forged,)
        )
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [4]
    assert "does not follow" in problems[0].reason


@pytest.mark.parametrize(
    ("deleted", "named", "says"),
    [((3,), 4, "row 3 is missing"), ((1,), 2, "row 1 is missing"), ((2, 3), 4, "rows 2-3")],
)
def test_deleted_rows_are_named(
    store: Store, home: Path, deleted: tuple[int, ...], named: int, says: str
) -> None:
    _fill(store)
    for row_id in deleted:
        _raw(home, "DELETE FROM audit WHERE id = ?", row_id)
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [named]
    assert says in problems[0].reason


def test_new_entries_after_tampering_still_fail(store: Store, home: Path) -> None:
    _fill(store)
    _raw(home, "DELETE FROM audit WHERE id = 2")
    audit.log_event(store, "cli", "export", detail={"calls": 1}, now=NOW)
    assert [p.row_id for p in audit.verify(store)] == [3]


# --- CLI -------------------------------------------------------------------------------


def test_cli_verify_intact(store: Store, home: Path) -> None:
    _fill(store)
    code, out = _run(home, "audit", "--verify")
    assert code == 0, out
    assert "audit log intact (6 entries)" in out


@pytest.mark.parametrize(
    ("sql", "row"),
    [
        ("UPDATE audit SET detail = '{\"calls\": 99}' WHERE id = 3", 3),
        ("UPDATE audit SET actor = 'mallory' WHERE id = 2", 2),
        ("DELETE FROM audit WHERE id = 3", 4),
    ],
)
def test_cli_verify_fails_and_names_the_row(store: Store, home: Path, sql: str, row: int) -> None:
    _fill(store)
    _raw(home, sql)
    code, out = _run(home, "audit", "--verify")
    assert code == 1
    assert f"audit row {row}:" in out


def test_cli_lists_entries_oldest_first(store: Store, home: Path) -> None:
    _fill(store)
    code, out = _run(home, "audit", "--limit", "3")
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert [line.split()[3] for line in lines] == ["release", "purge", "view_call"]
