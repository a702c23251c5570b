"""The audit log: a keyed hash chain that names the row someone changed or removed,
signed checkpoints that show truncation, and the re-keying of old chains."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import NOW, add_call

from analytics import audit, governance
from analytics.cli import cli
from analytics.config import Settings
from analytics.store import Store
from analytics.workspace import audit_key_path, load_evidence_key

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
        # even with the key: a row re-hashed alone no longer links to the next one
        forged = audit._mac(store.audit_key, 3, prev, at, "mallory", "purge", None, "{}")
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


# --- the keyed chain --------------------------------------------------------------------

# Columns a row's keyed hash covers, in the order of analytics.audit._mac.
MAC_COLUMNS = "id, prev_hash, at, actor, action, call_ref, detail"


def _rechain(home: Path, key: bytes, *, renumber: bool) -> None:
    """What an attacker does after deleting rows: renumber (or not) and re-hash the rest."""
    with sqlite3.connect(home / "callqa.db") as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM audit ORDER BY id")]
        if renumber:
            for seq, old in enumerate(ids, start=1):
                conn.execute("UPDATE audit SET id = ? WHERE id = ?", (seq, old))
            ids = list(range(1, len(ids) + 1))
        prev = audit.GENESIS
        for seq in ids:
            _, _, at, actor, action, ref, detail = conn.execute(
                f"SELECT {MAC_COLUMNS} FROM audit WHERE id = ?", (seq,)
            ).fetchone()
            digest = audit._mac(key, seq, prev, at, actor, action, ref, detail)
            conn.execute(
                "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, seq)
            )
            prev = digest


def _delete_erasure_row(home: Path) -> None:
    _raw(home, "DELETE FROM audit WHERE action = 'subject_erase'")


def _fill_with_erasure(store: Store) -> None:
    _fill(store)
    governance.subject_erase(store, CALLER, now=NOW)
    audit.log_event(store, "alice", "view_call", "c2", {"page": "call"}, now=NOW)


def test_a_chain_rewritten_without_the_key_is_caught(store: Store, home: Path) -> None:
    """The review's attack: delete the erasure row, renumber, re-hash the rest."""
    _fill_with_erasure(store)
    _delete_erasure_row(home)
    # re-hashed as the old unkeyed chain did, and with a key guessed from the database
    for key in (b"", hashlib.sha256((home / "callqa.db").read_bytes()).digest()):
        _rechain(home, key, renumber=True)
        problems = audit.verify(store)
        assert problems and problems[0].row_id == 1
        assert "changed" in problems[0].reason


def test_the_audit_key_is_a_private_file_of_its_own(store: Store, home: Path) -> None:
    _fill(store)
    path = audit_key_path(store.settings)
    assert path.parent == home and path.name == "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = {path.read_text(), (home / "secret.key").read_text()}
    keys.add(load_evidence_key(store.settings).hex())
    assert len(keys) == 3  # three different keys
    assert path.read_text().encode() not in (home / "callqa.db").read_bytes()


def test_with_the_key_a_gap_in_the_sequence_is_named(store: Store, home: Path) -> None:
    _fill_with_erasure(store)
    erasure = audit.entries(store, action="subject_erase")[0]["id"]
    _delete_erasure_row(home)
    _rechain(home, store.audit_key, renumber=False)
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [erasure + 1]
    assert f"row {erasure} is missing" in problems[0].reason


def test_with_the_key_a_back_dated_row_is_named(store: Store, home: Path) -> None:
    _fill(store)
    key = store.audit_key
    with sqlite3.connect(home / "callqa.db") as conn:
        seq, prev = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC").fetchone()
        at = "2026-01-01T00:00:00+00:00"  # months before the row it follows
        digest = audit._mac(key, seq + 1, prev, at, "mallory", "purge", None, "{}")
        conn.execute(
            "INSERT INTO audit (id, at, actor, action, call_id, call_ref, detail, prev_hash,"
            " hash, chain) VALUES (?, ?, 'mallory', 'purge', NULL, NULL, '{}', ?, ?, 1)",
            (seq + 1, at, prev, digest),
        )
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [seq + 1]
    assert "earlier than the row before it" in problems[0].reason


def test_an_operation_dated_before_the_head_is_chained_at_the_head_time(store: Store) -> None:
    audit.log_event(store, "cli", "export", detail={"calls": 1}, now=NOW)
    audit.log_event(store, "cli", "export", detail={"calls": 2}, now=NOW - timedelta(minutes=5))
    newest, older = audit.entries(store)
    assert newest["at"] == older["at"]
    assert audit.verify(store) == []


def test_the_chain_covers_a_keyed_reference_of_the_call_id(store: Store, home: Path) -> None:
    _fill(store)
    view = audit.entries(store, action="view_call")[0]
    assert view["call_ref"] == audit.call_ref(store.audit_key, "c2") != "c2"
    # erasure may show an opaque id instead: the chain still verifies
    with store.write() as conn:
        assert audit.relabel_call(conn, "c2", "erased-5f3a9c") == 3  # hold, release, view
    assert {r["call_id"] for r in audit.entries(store) if r["call_ref"] == view["call_ref"]} == {
        "erased-5f3a9c"
    }
    assert audit.verify(store) == []
    # a label changed by hand to name another call is caught
    _raw(home, "UPDATE audit SET call_id = 'c1' WHERE id = ?", view["id"])
    problems = audit.verify(store)
    assert [p.row_id for p in problems] == [view["id"]]
    assert "call id was changed" in problems[0].reason


def test_a_row_is_written_only_inside_a_write_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError, match=r"Store\.write"), store.read() as conn:
        audit.record(conn, "cli", "export")
    assert audit.entries(store) == []


WRITER = """
import sys
from analytics import audit, clock
from analytics.config import load_settings
from analytics.store import Store
from datetime import datetime
now = datetime.fromisoformat(sys.argv[2])
clock.use(lambda: now)
with Store.open(load_settings(sys.argv[1], env={})) as store:
    for i in range(int(sys.argv[3])):
        audit.log_event(store, sys.argv[4], "view_call", f"c{i}", {"i": i})
"""


def test_two_processes_writing_at_once_never_fork_the_chain(store: Store, home: Path) -> None:
    audit.log_event(store, "cli", "export", now=NOW)  # the workspace exists before both start
    n = 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), NOW.isoformat(), str(n), name],
            env={**os.environ},
        )
        for name in ("proc-a", "proc-b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = list(reversed(audit.entries(store)))
    assert [r["id"] for r in rows] == list(range(1, 2 * n + 2))
    assert {r["actor"] for r in rows} == {"cli", "proc-a", "proc-b"}
    assert audit.verify(store) == []


# --- checkpoints ------------------------------------------------------------------------


def test_checkpoint_shows_dropped_newest_rows(store: Store, home: Path, tmp_path: Path) -> None:
    _fill(store)
    cp_file = tmp_path / "away" / "cp.json"
    taken = audit.write_checkpoint(store, cp_file, now=NOW)
    assert stat.S_IMODE(cp_file.stat().st_mode) == 0o600
    assert audit.entries(store, limit=1)[0]["action"] == "audit_checkpoint"
    assert taken.seq == 7
    checkpoint = audit.read_checkpoint(store, cp_file)
    assert checkpoint == taken
    assert audit.verify(store, checkpoint) == []
    audit.log_event(store, "alice", "view_call", "c2", now=NOW)  # later rows are fine
    assert audit.verify(store, checkpoint) == []
    _raw(home, "DELETE FROM audit WHERE id >= 6")
    assert audit.verify(store) == []  # the chain alone cannot see its own tail
    problems = audit.verify(store, checkpoint)
    assert [p.row_id for p in problems] == [7]
    assert "now ends at row 5 (rows 6-7 removed)" in problems[0].reason


def test_checkpoint_shows_a_history_rewritten_with_the_key(store: Store, home: Path) -> None:
    _fill_with_erasure(store)
    checkpoint = audit.take_checkpoint(store, now=NOW)
    _delete_erasure_row(home)
    _rechain(home, store.audit_key, renumber=True)
    assert audit.verify(store) == []  # whoever holds the key can rebuild the chain ...
    problems = audit.verify(store, checkpoint)  # ... but not the checkpoint kept elsewhere
    assert [p.row_id for p in problems] == [checkpoint.seq]


def test_no_checkpoint_vouches_for_a_tampered_chain(store: Store, home: Path) -> None:
    _fill(store)
    _raw(home, "DELETE FROM audit WHERE id = 2")
    with pytest.raises(governance.GovernanceError, match="not intact"):
        audit.take_checkpoint(store, now=NOW)


# --- re-keying the unkeyed chain of old releases ----------------------------------------


def _make_legacy(home: Path) -> None:
    """Turn the chain into what an old release wrote: unkeyed SHA-256, no call_ref."""
    with sqlite3.connect(home / "callqa.db") as conn:
        prev = audit.GENESIS
        rows = conn.execute("SELECT id, at, actor, action, call_id, detail FROM audit ORDER BY id")
        for row_id, at, actor, action, call_id, detail in rows.fetchall():
            digest = audit._legacy_digest(prev, at, actor, action, call_id, detail)
            conn.execute(
                "UPDATE audit SET prev_hash=?, hash=?, call_ref=NULL, chain=NULL WHERE id=?",
                (prev, digest, row_id),
            )
            prev = digest


def test_an_old_chain_is_rekeyed_at_the_first_write_and_says_so(store: Store, home: Path) -> None:
    _fill(store)
    _make_legacy(home)
    assert audit.verify(store)  # not keyed: not vouched for
    audit.log_event(store, "cli", "export", detail={"calls": 0}, now=NOW)
    rows = list(reversed(audit.entries(store)))
    assert [r["action"] for r in rows[-2:]] == ["audit_rekey", "export"]
    detail = json.loads(rows[-2]["detail"])
    assert detail["rows"] == 6 and detail["legacy_chain"] == "intact"
    assert all(r["chain"] == audit.CHAIN_VERSION for r in rows)
    assert audit.verify(store) == []


def test_rekeying_records_that_the_old_chain_was_broken(store: Store, home: Path) -> None:
    _fill(store)
    _make_legacy(home)
    _raw(home, "UPDATE audit SET detail = '{}' WHERE id = 3")
    assert audit.upgrade(store, now=NOW)
    assert not audit.upgrade(store, now=NOW)
    rekey = audit.entries(store, action="audit_rekey")[0]
    detail = json.loads(rekey["detail"])
    assert detail["legacy_chain"] == "broken" and detail["legacy_broken_rows"] == [3]
    assert audit.verify(store) == []  # the new chain holds; its rekey row tells the story


# --- CLI: checkpoints ---------------------------------------------------------------------


def test_cli_checkpoint_then_verify_against_it(store: Store, home: Path, tmp_path: Path) -> None:
    _fill(store)
    cp_file = tmp_path / "cp.json"
    code, out = _run(home, "audit", "checkpoint", "--out", str(cp_file))
    assert code == 0, out
    assert "checkpoint written" in out and "row 7" in out
    code, out = _run(home, "audit", "--verify", "--checkpoint", str(cp_file))
    assert code == 0, out
    assert "reaches checkpoint row 7" in out
    _raw(home, "DELETE FROM audit WHERE id = 7")
    code, out = _run(home, "audit", "--verify", "--checkpoint", str(cp_file))
    assert code == 1
    assert "audit row 7: missing" in out


def test_cli_refuses_a_changed_checkpoint(store: Store, home: Path, tmp_path: Path) -> None:
    _fill(store)
    cp_file = tmp_path / "cp.json"
    audit.write_checkpoint(store, cp_file, now=NOW)
    data = json.loads(cp_file.read_text())
    cp_file.write_text(json.dumps({**data, "seq": 3}))  # "the chain was shorter back then"
    code, out = _run(home, "audit", "--verify", "--checkpoint", str(cp_file))
    assert code == 1
    assert "signature does not match" in out
    code, out = _run(home, "audit", "--checkpoint", str(cp_file))
    assert code == 2
