"""Evidence packs: one verifiable archive of a call under a litigation hold.

A pack is a zip holding the original recording, the redacted transcript and
audio, the call's metadata and figures, its hold and its audit trail, plus
``SHA256SUMS`` (for ``sha256sum -c``) and ``manifest.json`` — every file's
SHA-256 and size, who exported the pack and when — signed with the workspace's
evidence key (HMAC-SHA256) in ``manifest.json.hmac``. :func:`verify` names any
part that was changed, added or removed.

Only the DPO may export (:data:`analytics.auth.EVIDENCE_EXPORTERS`), only a held
call, and only that call's data goes in. Refusals of the role are audited; so is
every export, with the manifest's SHA-256, so the audit says who took which pack.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics import audit, auth
from analytics.errors import NotFoundError, NotHeldError, RoleError
from analytics.store import Store, get_call, iso, utcnow
from analytics.store.reads import call_and_hold, call_audit_rows
from analytics.workspace import load_evidence_key

log = logging.getLogger(__name__)

FORMAT = "callqa-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.hmac"
SUMS = "SHA256SUMS"
# The CLI is run by the operator of the machine, who holds the workspace's files and
# keys: the administrator, whom the role table calls DPO. The audit names them "cli",
# as for every other CLI command.
CLI_ACTOR = "cli"
CLI_ROLE = "dpo"

# What each part of a pack is; the manifest repeats it for the reader.
PARTS = {
    "call.json": "metadata and figures (quality, abuse with its events, PII counts)",
    "transcript.json": "the redacted transcript",
    "recording": "the original recording, byte for byte as imported",
    "redacted-audio": "the redacted audio (personal data bleeped)",
    "hold.json": "the litigation hold: reason, set by, since",
    "audit.jsonl": "this call's audit rows, oldest first, with their chain hashes",
    SUMS: "SHA-256 of every file above, for sha256sum -c",
}
_CALL_FIELDS = (
    "call_id",
    "state",
    "started_at",
    "agent_id",
    "team",
    "language",
    "language_probability",
    "duration_s",
    "channel_layout",
    "channels",
    "sample_rate",
    "codec",
    "audio_sha256",
    "imported_at",
    "processed_at",
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PackInfo:
    """What was exported: the call, its files, and the manifest's own SHA-256."""

    call_id: str
    files: tuple[str, ...]
    absent: tuple[str, ...]
    manifest_sha256: str
    exported_by: str
    exported_at: str


@dataclass(frozen=True)
class Problem:
    part: str
    reason: str

    def __str__(self) -> str:
        return f"{self.part}: {self.reason}"


@dataclass(frozen=True)
class VerifyReport:
    """The result of checking a pack; ``problems`` is empty when it is intact."""

    problems: tuple[Problem, ...]
    call_id: str | None = None
    exported_by: str | None = None
    exported_at: str | None = None
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def pack_file_name(call_id: str, exported_at: datetime | None = None) -> str:
    """A file name for a call's pack (the call id made safe for any file system)."""
    stamp = f"-{exported_at.strftime('%Y%m%dT%H%M%SZ')}" if exported_at else ""
    return f"evidence-{_SAFE_NAME.sub('_', call_id)[:80]}{stamp}.zip"


def key_id(key: bytes) -> str:
    """Names the key a pack was signed with, without revealing it."""
    return hashlib.sha256(b"callqa-evidence-key-id:" + key).hexdigest()[:16]


def sign(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


# --- export ---------------------------------------------------------------------------


def _check_role(store: Store, call_id: str, actor: str, role: str, now: datetime) -> None:
    if auth.can_export_evidence(role):
        return
    audit.log_event(
        store,
        actor,
        "access_denied",
        call_id,
        {"action": "evidence_export", "role": role},
        now=now,
    )
    raise RoleError(
        f"the {role} role may not export evidence packs (only: "
        f"{', '.join(sorted(auth.EVIDENCE_EXPORTERS))}); the attempt is recorded in the audit log"
    )


def _held(store: Store, call_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The call's row and its hold."""
    found = call_and_hold(store, call_id)
    if found is None:
        raise NotFoundError(f"call {call_id}: no such call")
    if found.hold is None:
        raise NotHeldError(
            f"call {call_id}: not under a litigation hold; evidence packs are made only "
            f"for held calls (callqa hold --call {call_id} --reason CASE)"
        )
    return found.call, found.hold


def _workspace_file(store: Store, relative: str | None, folder: Path) -> Path | None:
    """A file of the call inside its workspace folder, or None (never a path elsewhere)."""
    if not relative:
        return None
    path = (store.settings.home / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        return None
    return path


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _contents(
    store: Store, row: dict[str, Any], hold: dict[str, Any], now: datetime
) -> tuple[dict[str, bytes], dict[str, str]]:
    """The pack's files (name -> bytes) and the parts absent with the reason."""
    call_id = row["call_id"]
    files: dict[str, bytes] = {}
    absent: dict[str, str] = {}
    try:
        record: dict[str, Any] | None = get_call(store, call_id, now)
    except NotFoundError:
        record = None
    meta = {name: row[name] for name in _CALL_FIELDS}
    if record is not None:
        meta.update(quality=record["quality"], abuse=record["abuse"], pii=record["pii"])
        files["transcript.json"] = _json(
            {"call_id": call_id, "language": record["language"], "segments": record["segments"]}
        )
    else:
        why = f"no analysis is kept (state {row['state']})"
        absent["transcript.json"] = why
        meta.update(quality=None, abuse=None, pii=None)
    files["call.json"] = _json(meta)
    recording = _workspace_file(store, row["audio_path"], store.settings.recordings_dir)
    if recording is not None:
        files[f"recording{recording.suffix.lower()}"] = recording.read_bytes()
    else:
        absent["recording"] = "no recording file is kept for this call"
    redacted = (
        _workspace_file(store, row["redacted_audio_path"], store.settings.redacted_audio_dir)
        if record is not None
        else None
    )
    if redacted is not None:
        files[f"redacted-audio{redacted.suffix.lower()}"] = redacted.read_bytes()
    else:
        absent["redacted-audio"] = "no redacted audio is kept for this call"
    files["hold.json"] = _json(
        {
            "call_id": call_id,
            "reason": hold["reason"],
            "set_by": hold["actor"],
            "since": hold["held_at"],
        }
    )
    rows = call_audit_rows(store, call_id)
    files["audit.jsonl"] = b"".join(
        (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n").encode() for r in rows
    )
    files[SUMS] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode()
    return files, absent


def _manifest(
    files: dict[str, bytes],
    absent: dict[str, str],
    *,
    call_id: str,
    actor: str,
    role: str,
    at: str,
    signer: str,
) -> bytes:
    return _json(
        {
            "format": FORMAT,
            "call_id": call_id,
            "exported_by": actor,
            "role": role,
            "exported_at": at,
            "key_id": signer,
            "signature": f"HMAC-SHA256 of this file's bytes, hex, in {SIGNATURE}",
            "files": [
                {
                    "name": name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "content": _describe(name),
                }
                for name, data in sorted(files.items())
            ],
            "absent": dict(sorted(absent.items())),
        }
    )


def _describe(name: str) -> str:
    return PARTS.get(name) or PARTS.get(name.rsplit(".", 1)[0], "")


def _zip(files: dict[str, bytes], at: datetime) -> bytes:
    buffer = io.BytesIO()
    stamp = at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
            # Audio is already compressed (or noise-like PCM): deflating it costs time
            # for a few per cent; the JSON parts shrink well.
            audio = name.startswith(("recording", "redacted-audio"))
            info.compress_type = zipfile.ZIP_STORED if audio else zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _build(
    store: Store, call_id: str, actor: str, role: str, now: datetime
) -> tuple[bytes, PackInfo]:
    _check_role(store, call_id, actor, role, now)
    row, hold = _held(store, call_id)
    files, absent = _contents(store, row, hold, now)
    key = load_evidence_key(store.settings)
    at = iso(now)
    manifest = _manifest(
        files, absent, call_id=call_id, actor=actor, role=role, at=at, signer=key_id(key)
    )
    members = {**files, MANIFEST: manifest, SIGNATURE: (sign(key, manifest) + "\n").encode()}
    info = PackInfo(
        call_id=call_id,
        files=tuple(members),
        absent=tuple(sorted(absent)),
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        exported_by=actor,
        exported_at=at,
    )
    return _zip(members, now), info


def _audit_export(store: Store, info: PackInfo, role: str, now: datetime) -> None:
    audit.log_event(
        store,
        info.exported_by,
        "evidence_export",
        info.call_id,
        {
            "role": role,
            "files": len(info.files),
            "absent": list(info.absent),
            "manifest_sha256": info.manifest_sha256,
        },
        now=now,
    )


def build_pack(
    store: Store, call_id: str, *, actor: str, role: str, now: datetime | None = None
) -> tuple[bytes, PackInfo]:
    """The evidence pack of a held call, in memory (the dashboard hands it over).

    The export is audited before the bytes are returned.

    Raises:
        RoleError: ``role`` may not export (audited as ``access_denied``).
        NotFoundError: no such call.
        NotHeldError: the call is not under a litigation hold.
    """
    now = now or utcnow()
    data, info = _build(store, call_id, actor, role, now)
    _audit_export(store, info, role, now)
    log.info("evidence pack of %s built by %s (%d files)", call_id, actor, len(info.files))
    return data, info


def export_pack(
    store: Store,
    call_id: str,
    out: Path,
    *,
    actor: str = CLI_ACTOR,
    role: str = CLI_ROLE,
    now: datetime | None = None,
) -> PackInfo:
    """Write the evidence pack of a held call to ``out`` (mode 0600, atomically).

    The file appears only once the export is in the audit log.

    Raises:
        RoleError, NotFoundError, NotHeldError: as :func:`build_pack`.
    """
    now = now or utcnow()
    data, info = _build(store, call_id, actor, role, now)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _audit_export(store, info, role, now)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    log.info("evidence pack of %s written by %s (%d files)", call_id, actor, len(info.files))
    return info


# --- verify ---------------------------------------------------------------------------


def verify(source: Path | bytes, key: bytes) -> VerifyReport:
    """Check a pack against its signed manifest; every problem names its part.

    A changed file fails its SHA-256; a changed manifest (or one signed with
    another key) fails the signature; a file added or taken out is named too.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with zipfile.ZipFile(stream) as archive:
            return _verify_archive(archive, key)
    except (zipfile.BadZipFile, OSError) as exc:
        return VerifyReport((Problem("archive", f"not a readable zip archive ({exc})"),))


def _read(archive: zipfile.ZipFile, name: str) -> bytes | Problem:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError) as exc:
        return Problem(name, f"damaged in the archive ({exc})")


def _verify_archive(archive: zipfile.ZipFile, key: bytes) -> VerifyReport:
    names = archive.namelist()
    problems = [
        Problem(n, "appears twice in the archive") for n in set(names) if names.count(n) > 1
    ]
    for needed in (MANIFEST, SIGNATURE):
        if needed not in names:
            problems.append(Problem(needed, "missing from the archive"))
    if problems:
        return VerifyReport(tuple(problems))
    manifest, signature = _read(archive, MANIFEST), _read(archive, SIGNATURE)
    if isinstance(manifest, Problem) or isinstance(signature, Problem):
        return VerifyReport(tuple(p for p in (manifest, signature) if isinstance(p, Problem)))
    problems += _check_signature(manifest, signature, key)
    try:
        meta = json.loads(manifest)
        listed = {entry["name"]: entry for entry in meta["files"]}
    except (ValueError, KeyError, TypeError):
        problems.append(Problem(MANIFEST, "not a callqa evidence manifest"))
        return VerifyReport(tuple(problems))
    problems += _check_files(archive, names, listed)
    return VerifyReport(
        tuple(problems),
        call_id=meta.get("call_id"),
        exported_by=meta.get("exported_by"),
        exported_at=meta.get("exported_at"),
        files=len(listed),
    )


def _check_signature(manifest: bytes, signature: bytes, key: bytes) -> list[Problem]:
    text = signature.decode("ascii", "replace").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        return [Problem(SIGNATURE, "not an HMAC-SHA256 signature (64 hex digits)")]
    if not hmac.compare_digest(text, sign(key, manifest)):
        return [
            Problem(
                MANIFEST,
                f"does not match its signature in {SIGNATURE}: the manifest or the "
                "signature was changed, or the pack was signed with another key",
            )
        ]
    return []


def _check_files(
    archive: zipfile.ZipFile, names: list[str], listed: dict[str, Any]
) -> list[Problem]:
    problems = []
    for name, entry in listed.items():
        if name not in names:
            problems.append(Problem(name, "listed in the manifest but missing from the archive"))
            continue
        data = _read(archive, name)
        if isinstance(data, Problem):
            problems.append(data)
        elif hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            problems.append(Problem(name, "changed: its SHA-256 differs from the manifest's"))
        elif len(data) != entry.get("bytes"):
            problems.append(Problem(name, "changed: its size differs from the manifest's"))
    for name in names:
        if name not in listed and name not in (MANIFEST, SIGNATURE):
            problems.append(Problem(name, "not listed in the manifest (added)"))
    return problems
