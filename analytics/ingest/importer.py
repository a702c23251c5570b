"""Import: recordings copied in under their hash, gated (objections, holds, retention), rows committed in batches."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from analytics import audit
from analytics.errors import DuplicateError, GovernanceError, InputError
from analytics.fields import (
    check_not_future,
    many_digits,
    parse_call_id,
)
from analytics.governance import hold, object_calls
from analytics.ingest.discover import discover
from analytics.ingest.metadata import MetadataRow, read_metadata_full, shown
from analytics.ingest.probe import probe, sha256_of
from analytics.models import (
    AudioInfo,
    CallMetadata,
    CallState,
    Reject,
)
from analytics.store import Connection, Store, intake, iso, policy, utcnow
from analytics.store.writes import (
    call_id_for_sha,
    call_row,
    clear_rejects,
    insert_call,
    record_reject,
)
from analytics.workspace import caller_hashes, opaque_call_id

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    imported: list[str] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)
    objected: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skipped_files: int = 0
    warnings: list[str] = field(default_factory=list)
    digit_ids: list[str] = field(default_factory=list)  # ids that may hold a phone number

    def summary(self) -> str:
        return (
            f"{len(self.imported)} imported, {len(self.already_imported)} already imported, "
            f"{len(self.objected)} objected (no copy kept), {len(self.rejects)} rejected"
        )


def _recording_name(source: Path, sha: str) -> str:
    """A recording's name in the blob store: its content hash (and the file's suffix)."""
    suffix = source.suffix.lower() or ".audio"
    return f"{sha[:2]}/{sha}{suffix}"


def _copy_into_workspace(store: Store, source: Path, sha: str) -> str:
    """Copy a recording in under its hash (atomic, checked); returns its key.

    Not yet flushed to disk: :class:`_Batch` does that for all its copies at once,
    before it commits their rows.
    """
    return store.blobs.put("recordings", _recording_name(source, sha), source, sha)


def _discard_copy(store: Store, source: Path, sha: str) -> None:
    """Remove a copy a killed run left for a recording that must now not be kept."""
    store.blobs.delete(store.blobs.key("recordings", _recording_name(source, sha)))


def resolve_metadata(
    store: Store,
    path: Path,
    row: MetadataRow | None,
    info: AudioInfo,
    now: datetime | None = None,
) -> CallMetadata:
    """The call's metadata: the row's, else defaults (file stem, file time).

    Raises:
        InputError: the file stem is not a valid call id, or the call would start in
            the future (beyond a day of clock skew).
    """
    source = str(path)
    call_id = row.call_id if row and row.call_id else None
    if call_id is None:
        try:
            call_id = parse_call_id(path.stem, "the file name")
        except ValueError as exc:
            raise InputError(source, f"{exc}: give it a call_id in a metadata CSV") from None
    layout = row.channel_layout if row and row.channel_layout else None
    if layout is None:
        layout = "agent_left" if info.channels == 2 else "mono"
    elif info.channels == 1 and layout != "mono":
        log.warning(
            "%s: channel_layout %s given for a mono recording; treated as mono", path.name, layout
        )
        layout = "mono"
    started = row.started_at if row and row.started_at else None
    what, reference = "started_at", now or utcnow()
    if started is None:
        started = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        # a file's time is judged on the clock that dated it, the file system's
        what, reference = (
            "the file's modification time",
            max(reference, store.blobs.file_system_now()),
        )
    try:
        check_not_future(started, reference, what)
    except ValueError as exc:
        raise InputError(source, str(exc)) from None
    caller_hash = (
        caller_hashes(store.key, row.caller_id, store.settings.caller_region)[0]
        if row and row.caller_id
        else None
    )
    return CallMetadata(
        call_id=call_id,
        started_at=started,
        agent_id=row.agent_id if row else None,
        team=row.team if row else None,
        caller_hash=caller_hash,
        channel_layout=layout,
        language=row.language if row else None,
        objection=row.objection if row else False,
        legal_hold=row.legal_hold if row else False,
    )


def _gates(store: Store, meta: CallMetadata, row: MetadataRow | None) -> intake.Gates:
    # the caller's every stored form: an objection filed before E.164 hashing counts
    hashes = (
        list(caller_hashes(store.key, row.caller_id, store.settings.caller_region))
        if row and row.caller_id
        else []
    )
    return intake.gates(store, meta.call_id, hashes)


def _read_sha(path: Path) -> str:
    try:
        return sha256_of(path)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file ({exc.strerror})") from None


@dataclass(frozen=True)
class _Staged:
    """A call ready to be inserted; its recording (if kept) is copied, not yet flushed."""

    meta: CallMetadata
    info: AudioInfo
    sha: str
    relative: str | None  # None: objected, no copy kept
    path: Path
    objected: bool = False  # an objected call keeps its recording only under a hold

    @property
    def state(self) -> CallState:
        return "objected" if self.objected or self.relative is None else "pending"


class _Batch:
    """Calls committed together: their copies flushed once, their rows in one transaction.

    A kill before the commit leaves copies without rows; the next run finds each
    copy in place (same hash, same name) and commits its row. Batches stay small and
    short so that progress is committed steadily.
    """

    MAX_CALLS = 32
    MAX_SECONDS = 2.0

    def __init__(self, store: Store, now: datetime, report: IngestReport) -> None:
        self.store = store
        self.now = now
        self.report = report
        self.staged: list[_Staged] = []
        self.started = 0.0

    def has(self, sha: str | None = None, call_id: str | None = None) -> bool:
        return any(s.sha == sha or s.meta.call_id == call_id for s in self.staged)

    def add(self, staged: _Staged) -> None:
        if not self.staged:
            self.started = time.monotonic()
        self.staged.append(staged)
        if (
            len(self.staged) >= self.MAX_CALLS
            or time.monotonic() - self.started >= self.MAX_SECONDS
        ):
            self.commit()

    def commit(self) -> None:
        staged, self.staged = self.staged, []
        if not staged:
            return
        self.store.blobs.flush([s.relative for s in staged if s.relative])
        try:
            with self.store.write() as conn:
                for call in staged:
                    _insert_row(conn, call, self.now)
        except DuplicateError:
            # a concurrent ingest committed one of them: go one by one to see which
            for call in staged:
                self._commit_one(call)
            return
        for call in staged:
            self._count(call)

    def _commit_one(self, call: _Staged) -> None:
        try:
            with self.store.write() as conn:
                _insert_row(conn, call, self.now)
        except DuplicateError:
            with self.store.read() as conn:
                existing = call_id_for_sha(conn, call.sha)
            if existing is None:
                reason = f"call_id {call.meta.call_id!r} was just imported by another ingest"
                self.report.rejects.append(Reject(str(call.path), reason))
            else:
                self.report.already_imported.append(existing)
            return
        self._count(call)

    def _count(self, call: _Staged) -> None:
        target = self.report.objected if call.state == "objected" else self.report.imported
        target.append(call.meta.call_id)


def _insert_row(conn: Connection, call: _Staged, now: datetime) -> None:
    meta = call.meta
    if call.state == "objected":
        # An objected call keeps no metadata beyond what stops re-import, and no copy
        # unless a litigation hold keeps the recording (then the caller link stays, so
        # that subject access and erasure can still find it).
        kept = call.relative is not None
        meta = replace(
            meta,
            agent_id=None,
            team=None,
            caller_hash=meta.caller_hash if kept else None,
            legal_hold=meta.legal_hold and kept,
        )
    insert_call(
        conn,
        meta,
        info=call.info if call.state != "objected" else None,
        sha256=call.sha,
        audio_path=call.relative,
        source_name=call.path.name if call.state != "objected" else None,  # type: ignore[arg-type]
        state=call.state,
        now=now,
    )
    clear_rejects(conn, str(call.path))


def import_one(
    store: Store, path: Path, row: MetadataRow | None, now: datetime, batch: _Batch
) -> None:
    """Probe, gate and copy one recording and stage its row; InputError if it is refused."""
    source = str(path)
    if path.stat().st_size == 0:
        raise InputError(source, "empty file")
    # Hash first: a recording already imported is not decoded again (fast re-runs).
    sha = _read_sha(path)
    if batch.has(sha=sha):
        batch.commit()  # the same content twice in one run: let the database decide
    with store.read() as conn:
        existing = call_id_for_sha(conn, sha)
    if existing is not None:
        # an erased or purged call answers to an opaque id made from the id it had
        given = row.call_id if row is not None and row.call_id else path.stem
        was_given = opaque_call_id(store.key, given) == existing
        if row is not None and row.call_id and row.call_id != existing and not was_given:
            # Same content under another id: a metadata mistake, and applying this row's
            # objection or hold to the other call would be wrong either way.
            raise InputError(
                source,
                f"this recording is already imported as call {existing!r}, not {row.call_id!r}",
            )
        _apply_row_to_existing(store, existing, row, now, batch.report)
        batch.report.already_imported.append(given if was_given else existing)
        return
    info = probe(path, store.settings.max_duration_s)
    meta = resolve_metadata(store, path, row, info, now)
    if many_digits(meta.call_id):
        batch.report.digit_ids.append(meta.call_id)
    if batch.has(call_id=meta.call_id):
        batch.commit()
    gates = _gates(store, meta, row)
    if gates.clash and gates.clash_sha == sha:  # another ingest committed it meanwhile
        batch.report.already_imported.append(meta.call_id)
        return
    if gates.clash:
        raise InputError(source, f"call_id {meta.call_id!r} already names another recording")
    if meta.objection or gates.objected:
        if meta.legal_hold or gates.held:
            relative = _copy_into_workspace(store, path, sha)
            batch.add(_Staged(meta, info, sha, relative, path, objected=True))
        else:
            _discard_copy(store, path, sha)
            batch.add(_Staged(meta, info, sha, None, path))
        return
    past = policy.started_past_retention(store, meta.started_at, now)
    if past and not meta.legal_hold and not gates.held:
        _discard_copy(store, path, sha)
        raise InputError(
            source,
            f"past retention: started {iso(meta.started_at)}, older than "
            f"{store.settings.retention_days} days and not under a legal hold",
        )
    relative = _copy_into_workspace(store, path, sha)
    batch.add(_Staged(meta, info, sha, relative, path))


def _apply_row_to_existing(
    store: Store, call_id: str, row: MetadataRow | None, now: datetime, report: IngestReport
) -> None:
    """A metadata row naming a recording already imported still carries its objection
    and its legal hold: both are applied; the other fields are left (use rectify).

    A hold the DPO released is not put back: re-reading the same CSV must not undo
    a release (and revive a call past retention).
    """
    if row is None or not (row.objection or row.legal_hold):
        return
    with store.read() as conn:
        state = (call_row(conn, call_id) or {}).get("state")
    if state in (None, "objected", "expired"):
        return
    if row.objection:
        object_calls(store, call_id=call_id, now=now, actor="ingest")
        report.objected.append(call_id)
    elif not intake.held_now(store, call_id) and not intake.was_released(store, call_id):
        try:
            hold(store, call_id, "legal_hold set in the metadata", now=now, actor="ingest")
        except GovernanceError as exc:  # past retention: gone in law, a hold cannot revive it
            raise InputError(str(row.recording), f"legal_hold not applied: {exc}") from None


def ingest(
    store: Store,
    paths: Sequence[Path] = (),
    metadata: Path | None = None,
    *,
    roots: Sequence[Path] = (),
    now: datetime | None = None,
    progress: bool = False,
    actor: str = "cli",
) -> IngestReport:
    """Import recordings from files, folders and metadata rows.

    Every input is judged on its own: a bad one becomes a reject (recorded in the
    database, shown by ``status``) and the others go on.

    Args:
        roots: more folders a CSV row may name recordings in; the CSV's own folder
            and the ``paths`` given are always allowed. A row naming a file
            elsewhere (an absolute path, ``../``, a link out) is a reject.
    """
    now = now or utcnow()
    report = IngestReport()
    store.blobs.sweep_stale_temps()
    rows: list[MetadataRow] = []
    excluded: set[Path] = set()
    if metadata is not None:
        rows, csv_rejects, excluded = read_metadata_full(
            metadata, store.settings.caller_region, report.warnings, now
        )
        report.rejects.extend(csv_rejects)
        rows = _within_roots(rows, metadata, [metadata.parent, *roots, *paths], report)
    files, unusable, report.skipped_files = discover(paths)
    report.rejects.extend(unusable)
    batch = _Batch(store, now, report)
    try:
        for path, row in _candidates(files, rows, excluded, progress):
            if row is not None and not path.is_file():
                reason = f"recording {shown(str(path))} not found"
                report.rejects.append(Reject(str(metadata), reason, row=row.row))
                continue
            try:
                import_one(store, path, row, now, batch)
            except InputError as exc:
                reason = exc.reason if row is None else f"{exc.reason} (metadata line {row.row})"
                report.rejects.append(Reject(exc.source, reason))
            except OSError as exc:  # vanished or unreadable mid-way, or the workspace disk
                report.rejects.append(Reject(str(path), f"cannot import ({exc.strerror or exc})"))
    finally:
        batch.commit()  # also on Ctrl-C: what was copied and checked is kept
    if report.digit_ids:
        report.warnings.append(_digit_warning(report.digit_ids))
    _record_outcome(store, report, metadata, now, actor)
    log.info("ingest: %s", report.summary())
    return report


def _within_roots(
    rows: list[MetadataRow], metadata: Path, roots: Sequence[Path], report: IngestReport
) -> list[MetadataRow]:
    """The rows whose recording (links resolved) lies under one of the roots."""
    allowed = []
    for root in roots:
        with contextlib.suppress(OSError, ValueError):
            allowed.append(root.resolve())
    kept = []
    for row in rows:
        if any(row.recording == root or row.recording.is_relative_to(root) for root in allowed):
            kept.append(row)
            continue
        reason = (
            f"recording {shown(str(row.recording))} is outside the folders allowed "
            f"({', '.join(shown(str(r)) for r in allowed)}): not imported; "
            "use --root to allow another folder"
        )
        report.rejects.append(Reject(str(metadata), reason, row=row.row))
    return kept


def _digit_warning(ids: list[str]) -> str:
    shown_ids = ", ".join(shown(i) for i in ids[:3]) + (", ..." if len(ids) > 3 else "")
    message = (
        f"{len(ids)} call ids hold 6 or more digits ({shown_ids}): if that is a caller's "
        "number, prefer opaque ids (a call_id column); an id stays until the call is "
        "erased or purged"
    )
    log.warning("%s", message)
    return message


def _candidates(
    files: list[Path], rows: list[MetadataRow], excluded: set[Path], progress: bool
) -> Iterable[tuple[Path, MetadataRow | None]]:
    """Each recording once, with its CSV row if one names it; behind a progress bar."""
    by_path = {row.recording: row for row in rows}
    candidates: list[tuple[Path, MetadataRow | None]] = []
    listed: set[Path] = set()
    for file in files:
        resolved = file.resolve()
        if resolved in listed or resolved in excluded:
            continue
        listed.add(resolved)
        candidates.append((file, by_path.get(resolved)))
    candidates.extend((row.recording, row) for row in rows if row.recording not in listed)
    return tqdm(  # type: ignore[no-any-return]
        candidates, desc="ingest", unit="file", disable=not progress, dynamic_ncols=True
    )


def _record_outcome(
    store: Store, report: IngestReport, metadata: Path | None, now: datetime, actor: str
) -> None:
    with store.write() as conn:
        if metadata is not None:
            # the CSV's rows are judged afresh each run: a fixed row loses its old reject
            clear_rejects(conn, str(metadata))
        for reject in report.rejects:
            record_reject(conn, reject, now)
        audit.record(
            conn,
            actor,
            "ingest",
            detail={
                "imported": len(report.imported),
                "already_imported": len(report.already_imported),
                "objected": len(report.objected),
                "rejected": len(report.rejects),
            },
            now=now,
        )
    for reject in report.rejects:
        log.info("rejected %s", reject.describe())
