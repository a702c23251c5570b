"""Discover recordings, read the metadata CSV, probe audio, import into the workspace.

Each input is judged on its own: a bad one becomes a :class:`Reject` with a clear
reason and the others go on. Import is idempotent by content hash (SHA-256), and
crash-safe: the recording is copied under its hash (temp file + rename) before
its row is committed, so a re-run after a kill finds every good file once.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import functools
import hashlib
import io
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from tqdm import tqdm

from analytics import audit
from analytics.errors import GovernanceError, InputError
from analytics.fields import (
    check_not_future,
    many_digits,
    parse_bool,
    parse_call_id,
    parse_caller_id,
    parse_language,
    parse_started_at,
)
from analytics.governance import hold, object_calls
from analytics.models import (
    CHANNEL_LAYOUTS,
    AudioInfo,
    CallMetadata,
    CallState,
    ChannelLayout,
    Reject,
)
from analytics.store import Store, iso, utcnow
from analytics.store.schema import audit as audit_table
from analytics.store.schema import calls, holds, objections
from analytics.store.writes import (
    call_id_for_sha,
    call_row,
    clear_rejects,
    insert_call,
    record_reject,
)
from analytics.workspace import caller_hashes, opaque_call_id

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".m4a", ".mp4", ".aac"}
)
MIN_RATE, MAX_RATE = 8000, 48000
CSV_COLUMNS = (
    "recording",
    "call_id",
    "started_at",
    "agent_id",
    "team",
    "caller_id",
    "channel_layout",
    "language",
    "objection",
    "legal_hold",
)
# A file shorter than this share of the duration its header announces is truncated.
_TRUNCATION_TOLERANCE = 0.9


@dataclass(frozen=True)
class MetadataRow:
    """One validated CSV row. ``caller_id`` (E.164) is personal data: memory only."""

    row: int
    recording: Path
    call_id: str | None = None
    started_at: datetime | None = None
    agent_id: str | None = None
    team: str | None = None
    caller_id: str | None = field(default=None, repr=False)
    channel_layout: ChannelLayout | None = None
    language: str | None = None
    objection: bool = False
    legal_hold: bool = False


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


# --- discovery ---------------------------------------------------------------------


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Reject], int]:
    """Files named directly, and audio files found in folders (recursively).

    Returns (files, rejects for paths that cannot be read as files, count of
    non-audio files skipped). A broken link or a special file (FIFO, socket) with an
    audio suffix in a folder is a reject, not silently skipped: it was meant as a
    recording.
    """
    files: list[Path] = []
    unusable: list[Reject] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.name.startswith(".") or child.is_dir():
                    continue
                if child.suffix.lower() not in AUDIO_SUFFIXES:
                    skipped += child.is_file()
                elif child.is_file():
                    files.append(child)
                else:
                    unusable.append(Reject(str(child), _not_a_file_reason(child)))
        elif path.is_file():
            files.append(path)
        else:
            unusable.append(Reject(str(path), _not_a_file_reason(path)))
    return files, unusable, skipped


def _not_a_file_reason(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "cannot read the file (broken link)"
    if path.exists():
        return "cannot read the file (not a regular file)"
    return "no such file or folder"


# --- metadata CSV ------------------------------------------------------------------


@dataclass(frozen=True)
class _Decoded:
    text: str
    bad_lines: dict[int, str]  # physical line -> what is wrong with it
    cp1252: bool = False  # the whole file was read as Windows-1252


def _decode_csv(path: Path) -> _Decoded:
    """UTF-8 (with or without BOM). A file with no UTF-8 in it at all is an old
    Windows export: it is read as cp1252 (the caller warns). A UTF-8 file with stray
    bytes has those lines refused, each named, rather than every accent garbled."""
    data = path.read_bytes()
    try:
        return _Decoded(data.decode("utf-8-sig"), {})
    except UnicodeDecodeError:
        pass
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    texts: list[str] = []
    bad: dict[int, str] = {}
    utf8_seen = False
    for number, line in enumerate(lines, start=1):
        try:
            texts.append(line.decode("utf-8"))
            utf8_seen = utf8_seen or not line.isascii()
        except UnicodeDecodeError as exc:
            byte = line[exc.start]
            bad[number] = f"byte 0x{byte:02X} at column {exc.start + 1} is not UTF-8"
            texts.append(line.decode("utf-8", errors="replace"))
    if not utf8_seen:
        return _Decoded(data.decode("cp1252", errors="replace"), {}, cp1252=True)
    return _Decoded("\n".join(texts), bad)


def _sniff_delimiter(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def shown(value: str) -> str:
    """A name as it may appear in a one-line message: quoted and escaped if it has
    line breaks or other control characters."""
    return value if value.isprintable() else repr(value)


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_row(
    row_number: int,
    fields: dict[str, str],
    base: Path,
    region: str = "FR",
    now: datetime | None = None,
) -> MetadataRow:
    """Validate one CSV row (keys already normalised). Raises ValueError with the reason.

    ``caller_id`` comes back in E.164 (read in ``region`` when it has no country code).
    """
    recording = _clean(fields.get("recording"))
    if not recording:
        raise ValueError("recording is empty")
    layout = _clean(fields.get("channel_layout"))
    if layout is not None:
        layout = layout.lower()
        if layout not in CHANNEL_LAYOUTS:
            raise ValueError(
                f"channel_layout {layout!r} is not one of {', '.join(CHANNEL_LAYOUTS)}"
            )
    language = parse_language(fields.get("language") or "")
    started = _clean(fields.get("started_at"))
    call_id = _clean(fields.get("call_id"))
    caller_id = _clean(fields.get("caller_id"))
    started_at = parse_started_at(started) if started else None
    if started_at is not None and now is not None:
        check_not_future(started_at, now)
    return MetadataRow(
        row=row_number,
        recording=_resolve(base, recording),
        call_id=parse_call_id(call_id) if call_id else None,
        started_at=started_at,
        agent_id=_clean(fields.get("agent_id")),
        team=_clean(fields.get("team")),
        caller_id=parse_caller_id(caller_id, region) if caller_id else None,
        channel_layout=layout,  # type: ignore[arg-type]
        language=language,
        objection=parse_bool(fields.get("objection") or "", "objection", empty=False),
        legal_hold=parse_bool(fields.get("legal_hold") or "", "legal_hold", empty=False),
    )


def _resolve(base: Path, recording: str) -> Path:
    try:
        return (base / recording).resolve()
    except (OSError, ValueError):  # a NUL byte, a name too long...
        raise ValueError(f"recording {recording!r} is not a usable path") from None


def read_metadata(path: Path, region: str = "FR") -> tuple[list[MetadataRow], list[Reject]]:
    rows, rejects, _excluded = read_metadata_full(path, region)
    return rows, rejects


def read_metadata_full(
    path: Path,
    region: str = "FR",
    warnings: list[str] | None = None,
    now: datetime | None = None,
) -> tuple[list[MetadataRow], list[Reject], set[Path]]:
    """Read a metadata CSV: comma, semicolon or tab separated, with or without BOM.

    Returns the valid rows, one reject per bad row (naming the CSV line) and the
    recordings named by rejected rows (they must not be imported with defaults: the
    row may have carried an objection). A CSV that cannot be read at all is one
    reject naming the file. A line with bytes that are not UTF-8 is a reject naming
    it; a file with no UTF-8 at all is read as cp1252, with a warning in ``warnings``.
    """
    excluded: set[Path] = set()
    source = str(path)
    try:
        decoded = _decode_csv(path)
    except OSError as exc:
        return [], [Reject(source, f"cannot read the metadata CSV ({exc.strerror})")], excluded
    text = decoded.text
    if decoded.cp1252:
        message = (
            f"{source}: not UTF-8; read as Windows-1252 (cp1252): check accented names, "
            "or save the CSV as UTF-8"
        )
        log.warning("%s", message)
        if warnings is not None:
            warnings.append(message)
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        return [], [Reject(source, "the metadata CSV is empty")], excluded
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(header_line))
    rows: list[MetadataRow] = []
    rejects: list[Reject] = []
    header: list[str] | None = None
    seen: dict[Path, int] = {}

    def exclude(named: str | None) -> None:
        # a row we could not read may have carried an objection: never import its
        # recording with default metadata
        if named:
            with contextlib.suppress(ValueError):
                excluded.add(_resolve(path.parent, named))

    last_line = 0
    while True:
        first_line = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the size limit: skip that row only
            rejects.append(Reject(source, f"malformed CSV ({exc})", row=reader.line_num))
            continue
        last_line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if header is None:
            header = [v.strip().lstrip("\ufeff").lower() for v in values]
            if "recording" not in header:
                reason = "the metadata CSV has no 'recording' column"
                return [], [Reject(source, reason, row=reader.line_num)], excluded
            continue
        line = reader.line_num
        fields = dict(zip(header, values, strict=False))
        named = _clean(fields.get("recording"))
        not_utf8 = [n for n in range(first_line, line + 1) if n in decoded.bad_lines]
        if not_utf8:
            reason = f"{decoded.bad_lines[not_utf8[0]]}: save the CSV as UTF-8"
            if named:
                reason += f" (recording {shown(named)} not imported)"
            rejects.append(Reject(source, reason, row=not_utf8[0]))
            exclude(named)
            continue
        if len(values) > len(header):
            reason = f"{len(values)} fields but the header has {len(header)}"
            if named:
                reason += f" (recording {shown(named)} not imported)"
            rejects.append(Reject(source, reason, row=line))
            exclude(named)
            continue
        try:
            parsed = parse_row(line, fields, path.parent, region, now)
        except ValueError as exc:
            reason = f"{exc} (recording {shown(named)} not imported)" if named else str(exc)
            rejects.append(Reject(source, reason, row=line))
            exclude(named)
            continue
        if parsed.recording in seen:
            reason = f"recording already named on line {seen[parsed.recording]}"
            rejects.append(Reject(source, reason, row=line))
            continue
        seen[parsed.recording] = line
        rows.append(parsed)
    if header is None:
        return [], [Reject(source, "the metadata CSV is empty")], excluded
    return rows, rejects, excluded


# --- audio probing ------------------------------------------------------------------


def probe(path: Path, max_duration_s: float | None = None) -> AudioInfo:
    """Open and fully decode a recording to check it; raises InputError with the reason.

    A recording longer than ``max_duration_s`` is refused from its header, before
    decoding, or as soon as decoding passes the limit when the header does not say.
    """
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    if size == 0:
        raise InputError(source, "empty file")
    try:
        truncated = _container_truncation(path, size)
    except OSError as exc:
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    if truncated:
        raise InputError(source, truncated)
    try:
        # A short probe first: FFmpeg's default reads up to 5 MB to guess what the
        # full decode below tells us anyway. Whatever it cannot read gets the full probe.
        return _decode_all(path, _FAST_PROBE, max_duration_s)
    except _TooLong as exc:
        raise InputError(source, str(exc)) from None
    except InputError:
        try:
            return _decode_all(path, {}, max_duration_s)
        except _TooLong as exc:
            raise InputError(source, str(exc)) from None


class _TooLong(Exception):
    """Longer than max_duration_s (final: not retried with the full probe)."""

    def __init__(self, seconds: float, limit: float, known: str) -> None:
        super().__init__(
            f"{known} {seconds:.0f} s, longer than max_duration_s = {limit:g} s "
            "(raise the setting to import it)"
        )


_FAST_PROBE = {"probesize": "8192"}


def _decode_all(path: Path, options: dict[str, str], max_duration_s: float | None) -> AudioInfo:
    source = str(path)
    opened = False
    decoded_samples = 0
    rate = 0
    declared: float | None = None
    try:
        with av.open(str(path), metadata_errors="ignore", options=options) as container:
            opened = True
            if not container.streams.audio:
                raise InputError(source, "not an audio file (no audio stream)")
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            rate = stream.codec_context.sample_rate or stream.rate or 0
            channels = stream.codec_context.channels
            declared = _declared_duration(container, stream)
            if max_duration_s is not None and declared and declared > max_duration_s:
                raise _TooLong(declared, max_duration_s, "its header announces")
            limit = max_duration_s * rate if max_duration_s is not None and rate else None
            for frame in container.decode(stream):
                decoded_samples += frame.samples
                if limit is not None and decoded_samples > limit:
                    raise _TooLong(decoded_samples / rate, max_duration_s or 0, "decoding passed")
            container_name = container.format.name
    except InputError:
        raise
    except PermissionError as exc:  # PyAV's own PermissionError is one too
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            source, _decode_failure(exc, opened, decoded_samples, rate, declared)
        ) from None
    return _check_audio(source, decoded_samples, rate, channels, declared, codec, container_name)


def _decode_failure(
    exc: Exception, opened: bool, decoded_samples: int, rate: int, declared: float | None
) -> str:
    kind = type(exc).__name__
    if not opened:
        return f"not an audio file or corrupt ({kind})"
    if decoded_samples and rate:
        done = decoded_samples / rate
        of = f" of {declared:.1f} s announced" if declared else ""
        return f"truncated or corrupt: decoding stopped after {done:.1f} s{of} ({kind})"
    return f"corrupt audio ({kind})"


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _check_audio(
    source: str,
    decoded_samples: int,
    rate: int,
    channels: int,
    declared: float | None,
    codec: str,
    container_name: str,
) -> AudioInfo:
    if decoded_samples == 0 or not rate:
        raise InputError(source, "not an audio file or corrupt (no audio could be decoded)")
    if not (MIN_RATE <= rate <= MAX_RATE):
        raise InputError(source, f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if channels not in (1, 2):
        raise InputError(source, f"{channels} channels: only mono and stereo are supported")
    duration = decoded_samples / rate
    if declared and declared > 0.5 and duration < declared * _TRUNCATION_TOLERANCE:
        raise InputError(
            source, f"truncated: {duration:.1f} s decoded of {declared:.1f} s announced"
        )
    return AudioInfo(
        duration_s=round(duration, 3),
        channels=channels,
        sample_rate=rate,
        codec=codec,
        container=container_name,
    )


def _container_truncation(path: Path, size: int) -> str | None:
    """Truncation that decoding alone does not reveal, from the container's own framing."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _riff_truncation(head, size)
        if head[:4] == b"OggS":
            handle.seek(max(0, size - _OGG_TAIL))
            return _ogg_truncation(handle.read())
    return None


# A RIFF size may miss the pad byte or its own 8-byte header; anything more is missing.
_RIFF_SLACK = 8


def _riff_truncation(head: bytes, size: int) -> str | None:
    """A WAV whose RIFF header announces more bytes than the file has was cut short."""
    field = int.from_bytes(head[4:8], "little")
    if field in (0, 0xFFFFFFFF):
        return None  # written by a streaming recorder that never knew the length
    announced = field + 8
    if size + _RIFF_SLACK < announced:
        return f"truncated: {size} bytes of the {announced} its header announces"
    return None


_OGG_TAIL = 1 << 16  # an Ogg page is at most 65,307 bytes
_OGG_EOS = 0x04


def _ogg_truncation(tail: bytes) -> str | None:
    """An Ogg stream ends with a whole page flagged end-of-stream; a cut one does not.

    (Ogg announces no length: a truncated file decodes cleanly, only shorter.)
    """
    start = tail.rfind(b"OggS")
    while start >= 0:
        header = tail[start : start + 27]
        if len(header) == 27 and header[4] == 0:  # version 0: a real page header
            lacing = tail[start + 27 : start + 27 + header[26]]
            end = start + 27 + header[26] + sum(lacing)
            if len(lacing) < header[26] or end > len(tail):
                return "truncated: the last Ogg page is cut short"
            if not header[5] & _OGG_EOS:
                return "truncated: the Ogg stream has no end-of-stream page"
            return None
        start = tail.rfind(b"OggS", 0, start)
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- import -------------------------------------------------------------------------

_TEMP_PREFIX = ".import-"
_STALE_TEMP_S = 3600.0  # a temp copy without a writer's pid is stale after this


def _recording_path(store: Store, source: Path, sha: str) -> Path:
    suffix = source.suffix.lower() or ".audio"
    return Path("recordings") / sha[:2] / f"{sha}{suffix}"


def _copy_into_workspace(store: Store, source: Path, sha: str) -> str:
    """Copy a recording under its hash (atomic); returns its path relative to home.

    Not yet flushed to disk: :class:`_Batch` does that for all its copies at once,
    before it commits their rows. The copy is hashed as it is written: a file that
    changed since it was hashed is refused rather than stored under a hash that is
    not its own.
    """
    relative = _recording_path(store, source, sha)
    target = store.settings.home / relative
    if target.exists():  # a run killed after the rename left it; the rename made it whole
        return str(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    # the pid in the name lets a later run tell a dead writer's leftovers from a live one's
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{_TEMP_PREFIX}{os.getpid()}-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha:
            raise InputError(str(source), "the file changed while it was being imported")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(relative)


def _discard_copy(store: Store, source: Path, sha: str) -> None:
    """Remove a copy a killed run left for a recording that must now not be kept."""
    (store.settings.home / _recording_path(store, source, sha)).unlink(missing_ok=True)


def _writer_alive(name: str) -> bool | None:
    """Whether the process that wrote a temp file still runs (None: name has no pid)."""
    pid_text = name.removeprefix(_TEMP_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep_stale_temps(store: Store) -> int:
    """Delete temp copies left by ingests that were killed mid-copy; returns the count."""
    removed = 0
    now = time.time()
    for tmp in store.settings.recordings_dir.glob(f"*/{_TEMP_PREFIX}*"):
        alive = _writer_alive(tmp.name)
        try:
            stale = alive is False or (alive is None and now - tmp.stat().st_mtime > _STALE_TEMP_S)
        except FileNotFoundError:
            continue
        if stale:
            tmp.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temp files left by an interrupted ingest", removed)
    return removed


def file_system_now(store: Store) -> datetime:
    """The file system's clock, read from a file created now in the workspace.

    It may differ from the process clock (a host's skewed clock, a test's frozen one).
    """
    with tempfile.NamedTemporaryFile(dir=store.settings.recordings_dir, prefix=".clock-") as f:
        return datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime, UTC)


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
        what, reference = "the file's modification time", max(reference, file_system_now(store))
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


@dataclass(frozen=True)
class _Gates:
    """What the database says about a call about to be imported."""

    clash: bool  # its call_id already names a recording
    clash_sha: str | None  # ...this one (the content hash of the call that has the id)
    objected: bool  # an objection names the call or its caller
    held: bool  # a litigation hold names it


# Built once: one statement answers the three questions (ingest asks them per file).
_GATES_QUERY = select(
    exists().where(calls.c.call_id == bindparam("call_id")).label("clash"),
    select(calls.c.audio_sha256)
    .where(calls.c.call_id == bindparam("call_id"))
    .scalar_subquery()
    .label("clash_sha"),
    exists()
    .where(
        or_(
            objections.c.call_id == bindparam("call_id"),
            and_(
                objections.c.caller_hash.is_not(None),
                objections.c.caller_hash.in_(bindparam("caller_hashes", expanding=True)),
            ),
        )
    )
    .label("objected"),
    exists().where(holds.c.call_id == bindparam("call_id")).label("held"),
)


def _gates(store: Store, meta: CallMetadata, row: MetadataRow | None) -> _Gates:
    # the caller's every stored form: an objection filed before E.164 hashing counts
    hashes = (
        list(caller_hashes(store.key, row.caller_id, store.settings.caller_region))
        if row and row.caller_id
        else []
    )
    with store.read() as conn:
        found = conn.execute(_GATES_QUERY, {"call_id": meta.call_id, "caller_hashes": hashes}).one()
    return _Gates(
        clash=bool(found.clash),
        clash_sha=found.clash_sha,
        objected=bool(found.objected),
        held=bool(found.held),
    )


def _is_held(store: Store, call_id: str) -> bool:
    with store.read() as conn:
        return (
            conn.execute(select(holds.c.call_id).where(holds.c.call_id == call_id)).first()
            is not None
        )


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


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2): one flush of a whole file system, much cheaper than N fsyncs."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def _flush_to_disk(store: Store, files: list[Path]) -> None:
    """Make the copies durable before any row names them (a power cut after the
    commit must not leave a row pointing at a file whose bytes never reached disk)."""
    if not files:
        return
    syncfs = _syncfs()
    if syncfs is not None:
        fd = os.open(store.settings.recordings_dir, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in [*files, *{f.parent for f in files}]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
        home = self.store.settings.home
        _flush_to_disk(self.store, [home / s.relative for s in staged if s.relative])
        try:
            with self.store.write() as conn:
                for call in staged:
                    _insert_row(conn, call, self.now)
        except IntegrityError:
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
        except IntegrityError:
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
    cutoff = now - timedelta(days=store.settings.retention_days)
    if meta.started_at < cutoff and not meta.legal_hold and not gates.held:
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
    elif not _is_held(store, call_id) and not _was_released(store, call_id):
        try:
            hold(store, call_id, "legal_hold set in the metadata", now=now, actor="ingest")
        except GovernanceError as exc:  # past retention: gone in law, a hold cannot revive it
            raise InputError(str(row.recording), f"legal_hold not applied: {exc}") from None


def _was_released(store: Store, call_id: str) -> bool:
    with store.read() as conn:
        query = select(audit_table.c.id).where(
            audit_table.c.action == "release", audit_table.c.call_id == call_id
        )
        return conn.execute(query.limit(1)).first() is not None


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
    sweep_stale_temps(store)
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
