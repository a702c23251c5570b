"""The metadata CSV: decoded, each row validated on its own (a bad row is a reject naming its line)."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from analytics.fields import (
    check_not_future,
    parse_bool,
    parse_call_id,
    parse_caller_id,
    parse_language,
    parse_started_at,
)
from analytics.models import (
    CHANNEL_LAYOUTS,
    ChannelLayout,
    Reject,
)

log = logging.getLogger(__name__)

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
