"""Objections, retention and purge, litigation holds, subject rights.

The promise to callers, enforced here and in the governed query layer:
an objected call is never analysed and loses what was derived from it at once;
nothing is kept past retention unless a litigation hold keeps it; callers can
get (access) or remove (erase) what is kept about them. Every operation goes to
the audit log with counts and call ids, never personal data.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from analytics import audit
from analytics.errors import GovernanceError, NotFoundError, UsageError
from analytics.fields import (
    CALL_ID,
    check_not_future,
    parse_call_id,
    parse_language,
    parse_started_at,
)
from analytics.insights.service import categorize_call
from analytics.models import CHANNEL_LAYOUTS
from analytics.store import (
    Connection,
    Store,
    iso,
    iter_call_records,
    parse_iso,
    policy,
    rights,
    search,
    utcnow,
)
from analytics.store import evaluations as evaluation_rows
from analytics.store.reads import CallFilter
from analytics.store.writes import add_hold, call_row, tombstone
from analytics.workspace import OPAQUE_PREFIX, caller_hashes, opaque_call_id

log = logging.getLogger(__name__)

# Where ``callqa subject access`` writes its archives by default, and how long they
# stay there (the time to answer a request, then the archive is purged).
ACCESS_ARCHIVE_DIR = "subject-requests"
ACCESS_ARCHIVE_DAYS = 30

# Files younger than this are never swept as orphans: an ingest may be between
# copying a recording and committing its row.
ORPHAN_GRACE_S = 600


@dataclass
class ObjectionReport:
    calls: list[str] = field(default_factory=list)
    recordings_kept_on_hold: list[str] = field(default_factory=list)


@dataclass
class PurgeReport:
    calls: int = 0
    recordings: int = 0
    redacted_audio: int = 0
    rejects: int = 0
    orphan_files: int = 0
    access_archives: int = 0

    def summary(self) -> str:
        return (
            f"purged {self.calls} calls, {self.recordings} recordings, "
            f"{self.redacted_audio} redacted audio files, {self.rejects} old rejects, "
            f"{self.orphan_files} orphan files, {self.access_archives} old access archives"
        )


# What a tombstone still holds beyond its id, content hash and state; an erasure
# blanks it too (retention must not need it: the call is gone).
_ERASED_METADATA = (
    "started_at",
    "channel_layout",
    "duration_s",
    "channels",
    "sample_rate",
    "codec",
    "imported_at",
    "processed_at",
)


@dataclass
class ErasureReport:
    erased: list[str] = field(default_factory=list)
    kept_on_hold: list[str] = field(default_factory=list)


# Tombstoned calls: only their id and content hash are left.
_DELETED_STATES = {"expired": "already purged", "objected": "objected or erased, its data deleted"}


def _caller_hashes(store: Store, caller_id: str) -> tuple[str, ...]:
    """Every stored form of a caller id: its E.164 hash first, then the hashes older
    versions wrote (see :func:`analytics.workspace.caller_hashes`).

    A blank id would match every call without caller; one that is not a phone number
    matches nothing and is refused, with the reason."""
    if not caller_id.strip():
        raise UsageError("the caller id is empty")
    try:
        return caller_hashes(store.key, caller_id, store.settings.caller_region)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _checked_call_id(conn: Connection, call_id: str) -> str:
    """A call id given by a user: valid, or at least naming a stored call (an id
    imported before ids were checked stays usable)."""
    call_id = call_id.strip()
    if not call_id:
        raise UsageError("the call id is empty")
    if CALL_ID.fullmatch(call_id) or call_row(conn, call_id) is not None:
        return call_id
    try:
        parse_call_id(call_id, "call")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return call_id  # pragma: no cover - parse_call_id refused it


def _stored_id(conn: Connection, store: Store, call_id: str) -> str:
    """The id a call is stored under: its own, or the opaque one it got when it was
    erased or purged (so that naming it again never writes its old id back)."""
    if call_row(conn, call_id) is not None:
        return call_id
    opaque = opaque_call_id(store.key, call_id)
    return opaque if call_row(conn, opaque) is not None else call_id


def retire_ids(conn: Connection, store: Store, call_ids: list[str]) -> dict[str, str]:
    """Give erased or purged calls an opaque id everywhere the database names them.

    An id is often the file stem, and a file stem often the caller's number: once a
    call is gone, its old id must go too. Calls, objections and holds are rewritten;
    audit rows written while the call lived are relabelled with the new id
    (:func:`analytics.audit.relabel_call`: the keyed chain covers the call's keyed
    reference, not its label, so it still verifies). Returns old id -> new id.
    """
    renamed = {}
    for old in call_ids:
        if old.startswith(OPAQUE_PREFIX):
            continue
        new = opaque_call_id(store.key, old)
        rights.rename_call(conn, old, new)
        audit.relabel_call(conn, old, new)
        renamed[old] = new
    return renamed


# --- objections -----------------------------------------------------------------------


def object_calls(
    store: Store,
    *,
    call_id: str | None = None,
    caller_id: str | None = None,
    now: datetime | None = None,
    actor: str = "cli",
) -> ObjectionReport:
    """File an objection by call or by caller; delete what was derived, at once.

    The recording goes too unless a litigation hold keeps it. A caller's objection
    also stops their future calls at ingest.
    """
    if (call_id is None) == (caller_id is None):
        raise UsageError("object needs exactly one of --call or --caller-id")
    now = now or utcnow()
    hashes = _caller_hashes(store, caller_id) if caller_id is not None else ()
    caller_hash = hashes[0] if hashes else None
    report = ObjectionReport()
    files: list[str] = []
    given = call_id
    with store.write() as conn:
        if call_id is not None:
            call_id = _stored_id(conn, store, _checked_call_id(conn, call_id))
        rights.add_objection(conn, call_id, caller_hash, actor=actor, now=now)
        for row in rights.objection_targets(conn, call_id, hashes):
            report.calls.append(given if row["call_id"] == call_id and given else row["call_id"])
            files.append(row["redacted_audio_path"])
            keep_recording = bool(row["audio_path"]) and rights.is_held(conn, row["call_id"])
            if keep_recording:
                report.recordings_kept_on_hold.append(row["call_id"])
            else:
                files.append(row["audio_path"])
            tombstone(conn, row["call_id"], "objected", now)
            if keep_recording:
                # The recording kept under hold is still the caller's data: keep the
                # link so subject access finds it and erasure can say it was kept.
                rights.keep_recording_link(
                    conn, row["call_id"], row["audio_path"], caller_hash or row["caller_hash"]
                )
        audit.record(
            conn,
            actor,
            "object",
            call_id,
            {"by": "call" if call_id else "caller", "calls": len(report.calls)},
            now=now,
        )
    for relative in files:
        store.blobs.delete(relative)
    store.checkpoint()
    log.info("objection filed: %d calls affected", len(report.calls))
    return report


def objections_list(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "id": row["id"],
            "call_id": row["call_id"],
            "by": "call" if row["call_id"] else "caller",
            "filed_at": row["filed_at"],
            "actor": row["actor"],
        }
        for row in rights.objection_rows(store)
    ]


# --- holds ----------------------------------------------------------------------------


def hold(
    store: Store, call_id: str, reason: str, *, now: datetime | None = None, actor: str = "cli"
) -> bool:
    """Put a litigation hold on a call; False if it was already held."""
    if not reason.strip():
        raise UsageError("a hold needs a reason")
    now = now or utcnow()
    with store.write() as conn:
        call_id = _checked_call_id(conn, call_id)
        row = call_row(conn, call_id)
        if row is None and call_row(conn, opaque_call_id(store.key, call_id)) is not None:
            raise GovernanceError(f"call {call_id}: erased or already purged, nothing left to hold")
        if row is None:
            raise NotFoundError(f"call {call_id}: no such call")
        already = rights.is_held(conn, call_id)
        if row["state"] in _DELETED_STATES and not already:
            raise GovernanceError(
                f"call {call_id}: {_DELETED_STATES[row['state']]}, nothing left to hold"
            )
        if not already and policy.is_past_retention(store, row["started_at"], now):
            # One rule with rectification: past retention the call is gone in law,
            # even if purge has not run yet; a hold must not bring it back.
            raise GovernanceError(
                f"call {call_id}: past retention (started {row['started_at']}, more than "
                f"{store.settings.retention_days} days ago): it is due for purge and "
                "cannot be put on hold"
            )
        added = add_hold(conn, call_id, reason.strip(), actor=actor, now=now)
        if added:
            audit.record(conn, actor, "hold", call_id, {}, now=now)
    return added


def release(
    store: Store, call_id: str, *, now: datetime | None = None, actor: str = "cli"
) -> PurgeReport:
    """Lift a hold; normal retention applies at once (an expired call is purged now)."""
    now = now or utcnow()
    with store.write() as conn:
        if not rights.remove_hold(conn, call_id):
            raise NotFoundError(f"call {call_id}: no hold to release")
        audit.record(conn, actor, "release", call_id, {}, now=now)
    return purge(store, now=now, actor=actor)


def holds_list(store: Store) -> list[dict[str, Any]]:
    return rights.hold_rows(store)


# --- retention ------------------------------------------------------------------------


def purge(store: Store, now: datetime | None = None, actor: str = "cli") -> PurgeReport:
    """Apply retention now: delete every expired, unheld call's files and rows.

    Also deletes recordings still kept for objected calls whose hold was lifted,
    old rejects, and orphan files left by a crash. Leaves no readable remains:
    ``secure_delete`` zeroes freed pages and the WAL is truncated.
    """
    now = now or utcnow()
    report = PurgeReport()
    files: list[tuple[str, str | None]] = []
    with store.write() as conn:
        for row in rights.due_rows(conn, store, now):
            files += [("recording", row["audio_path"]), ("redacted", row["redacted_audio_path"])]
            tombstone(conn, row["call_id"], "expired", now)
            report.calls += 1
        for call_id, audio_path in rights.unheld_objected_links(conn):
            if audio_path:
                files.append(("recording", audio_path))
            rights.unlink_recording(conn, call_id)
        report.rejects = rights.delete_old_rejects(conn, store, now)
        # Tombstones past retention (purged now or before, objected ones too) keep
        # only an opaque id: the old one may be the caller's number.
        retire_ids(conn, store, rights.retirable_ids(conn, store, now, OPAQUE_PREFIX))
    for kind, relative in files:
        if store.blobs.delete(relative):
            if kind == "recording":
                report.recordings += 1
            else:
                report.redacted_audio += 1
    report.orphan_files = _sweep_orphans(store)
    report.access_archives = _sweep_access_archives(store, now)
    store.checkpoint()
    with store.write() as conn:
        audit.record(
            conn,
            actor,
            "purge",
            None,
            {
                "calls": report.calls,
                "recordings": report.recordings,
                "redacted_audio": report.redacted_audio,
                "rejects": report.rejects,
                "orphan_files": report.orphan_files,
                "access_archives": report.access_archives,
            },
            now=now,
        )
    if report.calls or report.orphan_files:
        log.info("%s", report.summary())
    return report


def _sweep_orphans(store: Store) -> int:
    """Recordings and redacted audio no row names (a crash between copy and commit)."""
    referenced = rights.referenced_files(store)
    return sum(
        store.blobs.sweep(kind, referenced, ORPHAN_GRACE_S)
        for kind in ("recordings", "redacted-audio")
    )


def _sweep_access_archives(store: Store, now: datetime) -> int:
    """Subject-access archives left in the workspace hold a caller's recordings and
    transcripts: they go once the caller has had time to fetch them."""
    return store.blobs.sweep_before("subject-requests", now - timedelta(days=ACCESS_ARCHIVE_DAYS))


def purge_status(store: Store, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    waiting = rights.count_due(store, now)
    last = audit.entries(store, limit=1, action="purge")
    return {
        "retention_days": store.settings.retention_days,
        "cutoff": policy.retention_cutoff(store, now),
        "expired_awaiting_purge": waiting,
        "last_purge": {"at": last[0]["at"], **json.loads(last[0]["detail"])} if last else None,
    }


# --- subject rights -----------------------------------------------------------------


def _caller_calls(conn: Connection, hashes: tuple[str, ...]) -> list[dict[str, Any]]:
    """What is still held about a caller: every call not purged yet, past retention
    or not (the right of access covers all data still held, and a call past retention
    stays on disk until purge runs).

    An objected call still linked to the caller is one whose recording a hold keeps.
    """
    return rights.caller_calls(conn, hashes)


def _analyses(store: Store, rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The analysed records of these calls, those past retention included.

    The governed layer hides a call past retention from every reader; for the caller's
    own archive it is read as of a moment when all of them were still kept (a read
    only: nothing is written with that moment).
    """
    starts = [parse_iso(row["started_at"]) for row in rows if row["started_at"]]
    if not rows:
        return {}
    as_of = policy.access_as_of(store, starts, now)
    ids = [row["call_id"] for row in rows]
    return {
        rec["call_id"]: rec for rec in iter_call_records(store, as_of, CallFilter(call_ids=ids))
    }


def _evaluations(store: Store, rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """What the evaluations hold about these calls, read as :func:`_analyses` reads."""
    starts = [parse_iso(row["started_at"]) for row in rows if row["started_at"]]
    if not rows:
        return {}
    as_of = policy.access_as_of(store, starts, now)
    return evaluation_rows.subject_records(store, [row["call_id"] for row in rows], as_of)


def subject_access(
    store: Store, caller_id: str, out: Path, *, now: datetime | None = None, actor: str = "cli"
) -> int:
    """Write a zip archive of everything kept about one caller's calls.

    Holds: ``calls.json`` (metadata, redacted transcripts, figures, abuse events)
    and the recordings. Returns the number of calls in it.
    """
    now = now or utcnow()
    hashes = _caller_hashes(store, caller_id)
    with store.write() as conn:
        rows = _caller_calls(conn, hashes)
        held_ids = {row["call_id"] for row in rows if rights.is_held(conn, row["call_id"])}
        # hashes written before E.164 are upgraded now that the number is known
        rights.upgrade_caller_hash(conn, hashes[1:], hashes[0])
    analysed = _analyses(store, rows, now)
    evaluated = _evaluations(store, rows, now)
    entries = []
    for row in rows:
        entry = {
            "call_id": row["call_id"],
            "state": row["state"],
            "started_at": row["started_at"],
            "agent_id": row["agent_id"],
            "team": row["team"],
            "duration_s": row["duration_s"],
            "language": row["language"],
            "recording": Path(row["audio_path"]).name if row["audio_path"] else None,
            "analysis": analysed.get(row["call_id"]),
            # evaluations, overrides, disputes and coaching notes about the call
            "evaluation": evaluated.get(row["call_id"]),
            # kept on disk until purge runs, though no one may use it any more
            "past_retention": policy.is_past_retention(store, row["started_at"], now)
            and row["call_id"] not in held_ids,
        }
        entries.append(entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("calls.json", json.dumps(entries, ensure_ascii=False, indent=2))
        for row in rows:
            recording = store.blobs.local_path(row["audio_path"], "recordings")
            if recording is not None:
                archive.write(recording, f"recordings/{recording.name}")
    # The archive's age (swept after ACCESS_ARCHIVE_DAYS) is counted on the product's clock.
    os.utime(out, (now.timestamp(), now.timestamp()))
    with store.write() as conn:
        audit.record(conn, actor, "subject_access", None, {"calls": len(entries)}, now=now)
    return len(entries)


def _erase_row(conn: Connection, call_id: str, now: datetime) -> None:
    """Delete a call's data but keep a bare tombstone (id, content hash, state).

    Without it the next ingest of the same folder would import the erased
    recording again as a new call.
    """
    tombstone(conn, call_id, "objected", now)
    rights.blank_fields(conn, call_id, _ERASED_METADATA)


def subject_erase(
    store: Store, caller_id: str, *, now: datetime | None = None, actor: str = "cli"
) -> ErasureReport:
    """Erase every call of a caller and all that derives from it; held calls stay."""
    now = now or utcnow()
    hashes = _caller_hashes(store, caller_id)
    report = ErasureReport()
    files: list[str | None] = []
    with store.write() as conn:
        for row in rights.all_caller_calls(conn, hashes):
            if rights.is_held(conn, row["call_id"]):
                report.kept_on_hold.append(row["call_id"])
                continue
            files += [row["audio_path"], row["redacted_audio_path"]]
            _erase_row(conn, row["call_id"], now)
            report.erased.append(row["call_id"])
        # the ids too: one made from the caller's number would name them still
        retire_ids(conn, store, report.erased)
        audit.record(
            conn,
            actor,
            "subject_erase",
            None,
            {"erased": len(report.erased), "kept_on_hold": len(report.kept_on_hold)},
            now=now,
        )
    for relative in files:
        store.blobs.delete(relative)
    store.checkpoint()
    return report


# --- rectification ------------------------------------------------------------------

EDITABLE = ("started_at", "agent_id", "team", "caller_id", "channel_layout", "language")


def _rectified_value(store: Store, name: str, value: str, now: datetime) -> tuple[str, Any]:
    """The column and stored value for one edited field; UsageError when invalid."""
    value = value.strip()
    try:
        if name == "started_at":
            moment = parse_started_at(value)
            check_not_future(moment, now)
            return "started_at", iso(moment)
        if name == "caller_id":
            return "caller_hash", _caller_hashes(store, value)[0] if value else None
        if name == "language":
            return "language", parse_language(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if name == "channel_layout" and value not in CHANNEL_LAYOUTS:
        raise UsageError(f"channel_layout must be one of {', '.join(CHANNEL_LAYOUTS)}")
    return name, value or None


def rectify(
    store: Store,
    call_id: str,
    changes: dict[str, str],
    *,
    now: datetime | None = None,
    actor: str = "cli",
) -> list[str]:
    """Correct a call's metadata; returns the names of the fields changed.

    Only calls still kept can be edited: not objected, erased or purged, and not
    past retention unless held (an edit must not bring an expired call back).
    """
    now = now or utcnow()
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise UsageError(f"{name} cannot be edited (editable: {', '.join(EDITABLE)})")
        column, stored = _rectified_value(store, name, value, now)
        values[column] = stored
    if not values:
        raise UsageError("nothing to change")
    with store.write() as conn:
        call_id = _checked_call_id(conn, call_id)
        if not rights.is_editable(conn, store, call_id, now):
            raise NotFoundError(
                f"call {call_id}: no such call (unknown, objected, erased or past retention)"
            )
        rights.update_call(conn, call_id, values, now)
        if "language" in values:
            # Stems and per-language phrases follow the call's language.
            search.reindex_call(conn, call_id)
            categorize_call(conn, call_id, now)
        audit.record(conn, actor, "rectify", call_id, {"fields": sorted(changes)}, now=now)
        caller_objected = values.get("caller_hash") is not None and rights.caller_objected(
            conn, _caller_hashes(store, changes["caller_id"])
        )
    if caller_objected:
        object_calls(store, call_id=call_id, now=now, actor=actor)
    return sorted(changes)
