"""Evidence packs of held calls: contents, verification, refusals, auditing, the
documented third-party checks (sha256sum, openssl), and the CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from factories import NOW
from governance_fixtures import add_recorded_call, files_containing

from analytics import audit, auth, evidence, governance
from analytics.cli import cli
from analytics.errors import NotFoundError, NotHeldError, RoleError
from analytics.store import Store, get_call
from analytics.store.reads import call_and_hold
from analytics.workspace import evidence_key_path, load_evidence_key, opaque_call_id

HELD, OTHER_HELD, FREE = "c-held", "c-other-held", "c-free"
MARKERS = {HELD: "MARK-HELD-1", OTHER_HELD: "MARK-OTHER-2", FREE: "MARK-FREE-3"}
CONTENT_PARTS = (
    "SHA256SUMS",
    "audit.jsonl",
    "call.json",
    "hold.json",
    "recording.wav",
    "redacted-audio.ogg",
    "transcript.json",
)
ALL_PARTS = (*CONTENT_PARTS, "manifest.json", "manifest.json.hmac")


@pytest.fixture
def held_store(store: Store) -> Store:
    """Three recorded calls with markers; two held (one with a reason of its own)."""
    for call_id, marker in MARKERS.items():
        add_recorded_call(
            store, call_id, marker=marker, started_at=NOW - timedelta(days=3), now=NOW
        )
    governance.hold(store, HELD, "Case 2026/114, tribunal de Niort", now=NOW, actor="dpo-anne")
    governance.hold(store, OTHER_HELD, f"case of {MARKERS[OTHER_HELD]}", now=NOW)
    governance.purge(store, now=NOW)  # an audit row without a call: not in the trail
    return store


def export(store: Store, tmp_path: Path, call_id: str = HELD, **kw: Any) -> Path:
    out = tmp_path / "packs" / f"{call_id}.zip"
    evidence.export_pack(store, call_id, out, now=NOW, **kw)
    return out


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(path: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` back as a valid zip (as someone editing the pack would)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def flip(data: bytes, at: int | None = None) -> bytes:
    i = len(data) // 2 if at is None else at
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


# --- contents -------------------------------------------------------------------------


def test_pack_of_a_held_call_holds_exactly_the_parts_and_verifies(
    held_store: Store, tmp_path: Path
) -> None:
    out = export(held_store, tmp_path)
    files = members(out)
    assert sorted(files) == sorted(ALL_PARTS)
    home = held_store.settings.home
    row = call_and_hold(held_store, HELD)
    assert row is not None
    assert files["recording.wav"] == (home / row.call["audio_path"]).read_bytes()
    assert files["redacted-audio.ogg"] == (home / row.call["redacted_audio_path"]).read_bytes()
    record = get_call(held_store, HELD, NOW)
    transcript = json.loads(files["transcript.json"])
    assert transcript["segments"] == record["segments"]
    call = json.loads(files["call.json"])
    assert call["call_id"] == HELD and call["started_at"] == record["started_at"]
    assert call["quality"]["score"] == record["quality"]["score"]
    assert call["abuse"]["severity"] == "high" and call["pii"] == {"PERSON": 2}
    assert call["audio_sha256"] == row.call["audio_sha256"]
    assert "caller_hash" not in call
    assert json.loads(files["hold.json"]) == {
        "call_id": HELD,
        "reason": "Case 2026/114, tribunal de Niort",
        "set_by": "dpo-anne",
        "since": NOW.isoformat(),
    }
    trail = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    assert [(r["action"], r["actor"]) for r in trail] == [("hold", "dpo-anne")]
    manifest = json.loads(files["manifest.json"])
    assert manifest["call_id"] == HELD
    assert (manifest["exported_by"], manifest["role"]) == ("cli", "dpo")
    assert manifest["exported_at"] == NOW.isoformat()
    assert manifest["absent"] == {}
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: hashlib.sha256(files[name]).hexdigest() for name in CONTENT_PARTS
    }
    report = evidence.verify(out, load_evidence_key(held_store.settings))
    assert report.ok, report.problems
    assert (report.call_id, report.exported_by, report.files) == (HELD, "cli", 7)


def test_the_audit_trail_in_the_pack_is_that_of_the_call_and_matches_the_log(
    held_store: Store, tmp_path: Path
) -> None:
    governance.rectify(held_store, HELD, {"team": "Niort-3"}, now=NOW, actor="dpo-anne")
    files = members(export(held_store, tmp_path))
    trail = [json.loads(line) for line in files["audit.jsonl"].splitlines()]
    assert [r["action"] for r in trail] == ["hold", "rectify"]
    log = {row["id"]: row for row in audit.entries(held_store)}
    for row in trail:
        assert row == log[row["id"]]  # the rows as logged, chain hashes included
    assert json.loads(files["call.json"])["team"] == "Niort-3"


def test_nothing_of_another_call_is_in_the_pack(held_store: Store, tmp_path: Path) -> None:
    files = members(export(held_store, tmp_path))
    for call_id, marker in MARKERS.items():
        found = [name for name, data in files.items() if marker.encode() in data]
        if call_id == HELD:
            assert {"recording.wav", "redacted-audio.ogg", "transcript.json"} <= set(found)
        else:
            assert found == [], (call_id, found)
        if call_id != HELD:
            assert not any(call_id.encode() in data for data in files.values())


def test_the_pack_is_written_0600_whatever_the_umask(held_store: Store, tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        out = export(held_store, tmp_path)
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left


def test_the_evidence_key_is_apart_from_the_pseudonym_key(
    held_store: Store, tmp_path: Path
) -> None:
    export(held_store, tmp_path)
    key_file = evidence_key_path(held_store.settings)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_evidence_key(held_store.settings) != held_store.key
    assert evidence_key_path(held_store.settings) != held_store.settings.key_path


def test_a_held_objected_call_packs_the_kept_recording_and_says_what_is_absent(
    held_store: Store, tmp_path: Path
) -> None:
    governance.object_calls(held_store, call_id=HELD, now=NOW)
    out = export(held_store, tmp_path)
    files = members(out)
    assert sorted(files) == sorted({*ALL_PARTS} - {"transcript.json", "redacted-audio.ogg"})
    assert MARKERS[HELD].encode() in files["recording.wav"]
    manifest = json.loads(files["manifest.json"])
    assert set(manifest["absent"]) == {"transcript.json", "redacted-audio"}
    call = json.loads(files["call.json"])
    assert call["state"] == "objected" and call["quality"] is None
    assert evidence.verify(out, load_evidence_key(held_store.settings)).ok


# --- verify -----------------------------------------------------------------------------


@pytest.mark.parametrize("part", ALL_PARTS)
def test_one_byte_changed_in_any_part_fails_naming_it(
    held_store: Store, tmp_path: Path, part: str
) -> None:
    out = export(held_store, tmp_path)
    files = members(out)
    files[part] = flip(files[part])
    report = evidence.verify(rezip(out, files), load_evidence_key(held_store.settings))
    assert not report.ok
    assert any(part in str(problem) for problem in report.problems), report.problems
    if part in CONTENT_PARTS:
        assert [p.part for p in report.problems] == [part]


def test_a_byte_changed_in_the_archive_itself_fails_naming_the_part(
    held_store: Store, tmp_path: Path
) -> None:
    out = export(held_store, tmp_path)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo("recording.wav")
    # The local header is 30 bytes, then the name and the extra field, then the data.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0x01
    report = evidence.verify(bytes(raw), load_evidence_key(held_store.settings))
    assert [p.part for p in report.problems] == ["recording.wav"]


def test_an_added_or_missing_file_fails_naming_it(held_store: Store, tmp_path: Path) -> None:
    out = export(held_store, tmp_path)
    key = load_evidence_key(held_store.settings)
    files = members(out)
    added = evidence.verify(rezip(out, {**files, "notes.txt": b"an extra"}), key)
    assert [(p.part, p.reason) for p in added.problems] == [
        ("notes.txt", "not listed in the manifest (added)")
    ]
    without = {name: data for name, data in files.items() if name != "hold.json"}
    missing = evidence.verify(rezip(out, without), key)
    assert [p.part for p in missing.problems] == ["hold.json"]
    no_manifest = {n: d for n, d in files.items() if n != "manifest.json"}
    assert [p.part for p in evidence.verify(rezip(out, no_manifest), key).problems] == [
        "manifest.json"
    ]


def test_a_pack_re_signed_with_another_key_or_not_a_zip_fails(
    held_store: Store, tmp_path: Path
) -> None:
    out = export(held_store, tmp_path)
    other = evidence.verify(out, b"\x01" * 32)
    assert [p.part for p in other.problems] == ["manifest.json"]
    assert "another key" in other.problems[0].reason
    garbage = tmp_path / "not-a-pack.zip"
    garbage.write_bytes(b"hello")
    assert [p.part for p in evidence.verify(garbage, b"\x01" * 32).problems] == ["archive"]


def test_the_manifest_cannot_be_rewritten_to_match_changed_files_without_the_key(
    held_store: Store, tmp_path: Path
) -> None:
    """Changing a file and its hash in the manifest and SHA256SUMS still fails."""
    out = export(held_store, tmp_path)
    files = members(out)
    files["hold.json"] = files["hold.json"].replace(b"tribunal", b"tribunaL")
    new_hash = hashlib.sha256(files["hold.json"]).hexdigest()
    manifest = json.loads(files["manifest.json"])
    old_hash = next(f["sha256"] for f in manifest["files"] if f["name"] == "hold.json")
    files["SHA256SUMS"] = files["SHA256SUMS"].replace(old_hash.encode(), new_hash.encode())
    for entry in manifest["files"]:
        if entry["name"] == "hold.json":
            entry["sha256"] = new_hash
        if entry["name"] == "SHA256SUMS":
            entry["sha256"] = hashlib.sha256(files["SHA256SUMS"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    report = evidence.verify(rezip(out, files), load_evidence_key(held_store.settings))
    assert [p.part for p in report.problems] == ["manifest.json"]


# --- the third party's recipe (README) ---------------------------------------------------


def unpack(out: Path, folder: Path) -> Path:
    with zipfile.ZipFile(out) as archive:
        archive.extractall(folder)
    return folder


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_sha256sum_checks_an_unpacked_pack(held_store: Store, tmp_path: Path) -> None:
    folder = unpack(export(held_store, tmp_path), tmp_path / "unpacked")
    ok = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.decode().count(": OK") == len(CONTENT_PARTS) - 1
    (folder / "recording.wav").write_bytes(flip((folder / "recording.wav").read_bytes()))
    bad = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert bad.returncode != 0
    assert b"recording.wav: FAILED" in bad.stdout


def _signature(folder: Path) -> str:
    return (folder / "manifest.json.hmac").read_text().strip()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_checks_the_manifest_signature(held_store: Store, tmp_path: Path) -> None:
    folder = unpack(export(held_store, tmp_path), tmp_path / "unpacked")
    key = evidence_key_path(held_store.settings).read_text().strip()
    command = ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{key}"]
    result = subprocess.run([*command, "manifest.json"], cwd=folder, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip().endswith(_signature(folder))
    (folder / "manifest.json").write_bytes(flip((folder / "manifest.json").read_bytes()))
    changed = subprocess.run([*command, "manifest.json"], cwd=folder, capture_output=True)
    assert not changed.stdout.decode().strip().endswith(_signature(folder))


PYTHON_CHECK = (
    "import hmac,hashlib,sys; k=bytes.fromhex(open(sys.argv[1]).read().strip()); "
    "m=open('manifest.json','rb').read(); s=open('manifest.json.hmac').read().strip(); "
    "ok=hmac.compare_digest(hmac.new(k,m,hashlib.sha256).hexdigest(),s); "
    "print('OK' if ok else 'FAILED'); sys.exit(not ok)"
)


def test_the_python_one_liner_checks_the_manifest_signature(
    held_store: Store, tmp_path: Path
) -> None:
    folder = unpack(export(held_store, tmp_path), tmp_path / "unpacked")
    key_file = evidence_key_path(held_store.settings)
    run = [sys.executable, "-c", PYTHON_CHECK, str(key_file)]
    ok = subprocess.run(run, cwd=folder, capture_output=True)
    assert (ok.returncode, ok.stdout.strip()) == (0, b"OK")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert PYTHON_CHECK in readme  # the recipe tested is the one documented
    (folder / "manifest.json").write_bytes(flip((folder / "manifest.json").read_bytes()))
    bad = subprocess.run(run, cwd=folder, capture_output=True)
    assert (bad.returncode, bad.stdout.strip()) == (1, b"FAILED")


# --- refusals and auditing -----------------------------------------------------------------


def test_a_call_not_under_hold_is_refused_with_the_reason(
    held_store: Store, tmp_path: Path
) -> None:
    with pytest.raises(NotHeldError, match="not under a litigation hold") as refused:
        export(held_store, tmp_path, FREE)
    assert FREE in str(refused.value) and refused.value.exit_code == 3
    with pytest.raises(NotFoundError):
        export(held_store, tmp_path, "no-such-call")
    assert not (tmp_path / "packs").exists() or not any((tmp_path / "packs").iterdir())
    assert audit.entries(held_store, action="evidence_export") == []


@pytest.mark.parametrize(
    "role", [r for r in (*auth.ROLES, "legal", "") if not auth.can_export_evidence(r)]
)
def test_other_roles_are_refused_and_the_refusal_is_audited(
    held_store: Store, tmp_path: Path, role: str
) -> None:
    with pytest.raises(RoleError, match="may not export evidence packs"):
        evidence.build_pack(held_store, HELD, actor="someone", role=role, now=NOW)
    with pytest.raises(RoleError):  # even for a call that is not held: no probing
        export(held_store, tmp_path, FREE, actor="someone", role=role)
    denied = audit.entries(held_store, action="access_denied")
    assert [(d["actor"], d["call_id"]) for d in reversed(denied)] == [
        ("someone", HELD),
        ("someone", FREE),
    ]
    assert json.loads(denied[0]["detail"]) == {"action": "evidence_export", "role": role}
    assert audit.entries(held_store, action="evidence_export") == []
    assert not (tmp_path / "packs").exists()
    assert audit.verify(held_store) == []


def test_only_the_dpo_may_export() -> None:
    assert [r for r in auth.ROLES if auth.can_export_evidence(r)] == ["dpo"]


def test_the_export_is_audited_with_the_manifest_hash(held_store: Store, tmp_path: Path) -> None:
    data, info = evidence.build_pack(held_store, HELD, actor="dpo-anne", role="dpo", now=NOW)
    (row,) = audit.entries(held_store, action="evidence_export")
    assert (row["actor"], row["call_id"], row["at"]) == ("dpo-anne", HELD, NOW.isoformat())
    detail = json.loads(row["detail"])
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.json")
    assert detail["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert detail == {
        "role": "dpo",
        "files": 9,
        "absent": [],
        "manifest_sha256": detail["manifest_sha256"],
    }
    assert info.manifest_sha256 == detail["manifest_sha256"]
    assert MARKERS[HELD] not in row["detail"]
    assert audit.verify(held_store) == []


# --- release -------------------------------------------------------------------------------


def test_after_release_the_call_returns_to_retention_and_packs_handed_over_still_verify(
    store: Store, tmp_path: Path
) -> None:
    """A call held past retention is purged at release; one within retention stays
    until its own retention ends. Packs already out are untouched and still verify."""
    add_recorded_call(
        store, "old", marker="MARK-OLD", started_at=NOW - timedelta(days=250), now=NOW
    )
    add_recorded_call(
        store, "recent", marker="MARK-RECENT", started_at=NOW - timedelta(days=10), now=NOW
    )
    # "old" was held while it was still within retention
    governance.hold(store, "old", "case 7", now=NOW - timedelta(days=100))
    governance.hold(store, "recent", "case 7", now=NOW)
    packs = [export(store, tmp_path, call_id) for call_id in ("old", "recent")]
    for call_id in ("old", "recent"):
        governance.release(store, call_id, now=NOW)
    assert files_containing(store.settings.home, "MARK-OLD") == []
    with pytest.raises(NotFoundError):
        get_call(store, "old", NOW)
    assert get_call(store, "recent", NOW)["call_id"] == "recent"
    governance.purge(store, now=NOW + timedelta(days=174))
    assert files_containing(store.settings.home, "MARK-RECENT") == []
    for call_id in ("old", "recent"):
        # purged: its id was replaced by an opaque one, so no call answers to it
        with pytest.raises((NotHeldError, NotFoundError)):
            export(store, tmp_path / "again", call_id)
    key = load_evidence_key(store.settings)
    assert all(evidence.verify(pack, key).ok for pack in packs)
    exported = audit.entries(store, action="evidence_export")
    # the audit rows of a purged call name it by its opaque id only
    opaque = sorted(opaque_call_id(store.key, call_id) for call_id in ("old", "recent"))
    assert sorted(r["call_id"] for r in exported) == opaque


# --- CLI (the real clock is harmless: held calls are kept whatever the date) ----------------

Invoke = Callable[..., Any]


@pytest.fixture
def invoke(held_store: Store) -> Invoke:
    home = str(held_store.settings.home)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", home, *args])

    return run


@pytest.mark.parametrize("command", [(), ("export",), ("verify",)])
def test_evidence_commands_have_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["evidence", *command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_cli_exports_and_verifies_a_pack(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "pack.zip"
    exported = invoke("evidence", "export", "--call", HELD, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert f"evidence pack of {HELD} written" in exported.output
    assert out.stat().st_mode & 0o777 == 0o600
    checked = invoke("evidence", "verify", str(out))
    assert checked.exit_code == 0, checked.output
    assert "intact" in checked.output and "exported by cli" in checked.output
    files = members(out)
    files["call.json"] = flip(files["call.json"])
    rezip(out, files)
    tampered = invoke("evidence", "verify", str(out))
    assert tampered.exit_code == 1
    assert "call.json: changed" in tampered.output


def test_cli_maps_refusals_to_exit_codes(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "pack.zip"
    not_held = invoke("evidence", "export", "--call", FREE, "--out", str(out))
    assert not_held.exit_code == 3
    assert "not under a litigation hold" in not_held.output
    unknown = invoke("evidence", "export", "--call", "nope", "--out", str(out))
    assert unknown.exit_code == 2 and "no such call" in unknown.output
    assert invoke("evidence", "export", "--call", HELD).exit_code == 2  # --out missing
    assert not out.exists()


def test_cli_verify_with_a_given_key_and_without_any(
    invoke: Invoke, held_store: Store, tmp_path: Path
) -> None:
    out = export(held_store, tmp_path)
    wrong = tmp_path / "wrong.key"
    wrong.write_text("ab" * 32)
    result = invoke("evidence", "verify", str(out), "--key", str(wrong))
    assert result.exit_code == 1 and "manifest.json" in result.output
    right = invoke(
        "evidence", "verify", str(out), "--key", str(evidence_key_path(held_store.settings))
    )
    assert right.exit_code == 0, right.output
    fresh = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "fresh"), "evidence", "verify", str(out)]
    )
    assert fresh.exit_code == 2 and "no evidence key" in fresh.output
