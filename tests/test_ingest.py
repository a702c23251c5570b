"""Ingest: discovery, metadata CSV, probing, gates, idempotence, rejects — on real files."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import frozen_run
import pytest
from conftest import make_audio
from factories import NOW
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from analytics.config import load_settings
from analytics.governance import hold, object_calls
from analytics.ingest import (
    MetadataRow,
    discover,
    ingest,
    parse_started_at,
    probe,
    read_metadata,
    sha256_of,
)
from analytics.models import Reject
from analytics.store import Store
from analytics.store.schema import calls, holds, rejects
from analytics.store.writes import call_row

REPO = Path(__file__).resolve().parents[1]
SHARED_AUDIO = REPO.parent / "shared" / "audio"

HEADER = (
    "recording,call_id,started_at,agent_id,team,caller_id,channel_layout,language,"
    "objection,legal_hold"
)


def rows_in_db(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(calls)).mappings()]


def reject_rows(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(rejects)).mappings()]


def recording_files(store: Store) -> set[str]:
    home = store.settings.home
    return {
        str(p.relative_to(home)) for p in store.settings.recordings_dir.rglob("*") if p.is_file()
    }


# --- formats ------------------------------------------------------------------------

FORMATS = [
    # (suffix, rate, channels, expected probed rate)
    (".wav", 8000, 1, 8000),
    (".wav", 16000, 2, 16000),
    (".flac", 8000, 2, 8000),
    (".flac", 16000, 1, 16000),
    (".mp3", 8000, 1, 8000),
    (".mp3", 16000, 2, 16000),
    (".ogg", 16000, 1, 48000),  # Opus always decodes at 48 kHz
    (".opus", 8000, 2, 48000),
    (".m4a", 8000, 1, 8000),
    (".m4a", 16000, 2, 16000),
    (".wav", 48000, 2, 48000),
    (".flac", 44100, 1, 44100),
]


@pytest.mark.parametrize(("suffix", "rate", "channels", "probed_rate"), FORMATS)
def test_probe_reads_every_supported_format(
    tmp_path: Path, suffix: str, rate: int, channels: int, probed_rate: int
) -> None:
    path = make_audio(tmp_path / f"call{suffix}", seconds=1.5, rate=rate, channels=channels)
    info = probe(path)
    assert info.channels == channels
    assert info.sample_rate == probed_rate
    assert info.duration_s == pytest.approx(1.5, abs=0.1)


def test_ingest_imports_a_folder_of_mixed_formats(tmp_path: Path, store: Store, now) -> None:
    folder = tmp_path / "in"
    made = {}
    for i, (suffix, rate, channels, _) in enumerate(FORMATS):
        sub = folder / ("deep" if i % 3 == 0 else "") / f"c{i:02d}{suffix}"
        made[f"c{i:02d}"] = (make_audio(sub, 1.0, rate, channels, seed=i), channels)
    (folder / "notes.txt").write_text("not a recording")
    report = ingest(store, [folder], now=now)
    assert sorted(report.imported) == sorted(made)
    assert report.rejects == []
    assert report.skipped_files == 1
    by_id = {row["call_id"]: row for row in rows_in_db(store)}
    for call_id, (source, channels) in made.items():
        row = by_id[call_id]
        assert row["state"] == "pending"
        assert row["channels"] == channels
        assert row["channel_layout"] == ("agent_left" if channels == 2 else "mono")
        assert row["audio_sha256"] == sha256_of(source)
        stored = store.settings.home / row["audio_path"]
        assert sha256_of(stored) == row["audio_sha256"]
        # without metadata: started_at is the file time
        mtime = datetime.fromtimestamp(source.stat().st_mtime, UTC).replace(microsecond=0)
        assert row["started_at"] == mtime.isoformat()


def test_real_speech_clips_import(tmp_path: Path, store: Store, now) -> None:
    clips = [SHARED_AUDIO / n for n in ("jfk.flac", "stereo_diarization.wav", "multilingual.mp3")]
    report = ingest(store, clips, now=now)
    assert sorted(report.imported) == ["jfk", "multilingual", "stereo_diarization"]
    by_id = {row["call_id"]: row for row in rows_in_db(store)}
    assert by_id["stereo_diarization"]["channels"] == 2
    assert by_id["jfk"]["duration_s"] == pytest.approx(11.0, abs=0.5)


# --- bad input, each on its own among good files -------------------------------------


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _corrupt(path: Path) -> Path:
    # keep the header, replace the body with noise: decoders choke on it
    data = bytearray(path.read_bytes())
    rng = __import__("random").Random(7)
    for i in range(200, len(data)):
        data[i] = rng.randrange(256)
    path.write_bytes(bytes(data))
    return path


def _bad_files(folder: Path) -> dict[str, str]:
    """Bad recordings, by name, with a phrase their reject reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "text.wav").write_text("hello, I am not a recording\n" * 20)
    (folder / "empty.mp3").write_bytes(b"")
    (folder / "random.flac").write_bytes(os.urandom(4000))
    _truncate(make_audio(folder / "cut.wav", 2.0, 16000, 2))
    _truncate(make_audio(folder / "cut.flac", 2.0, 8000, 1))
    _truncate(make_audio(folder / "cut.mp3", 2.0, 16000, 1))
    _truncate(make_audio(folder / "cut.m4a", 2.0, 16000, 1))
    _truncate(make_audio(folder / "cut.ogg", 2.0, 16000, 2))  # decodes cleanly, only shorter
    _truncate(make_audio(folder / "tail.opus", 2.0, 8000, 1), keep=0.999)  # no end page
    _truncate(make_audio(folder / "tail.wav", 2.0, 8000, 1), keep=0.97)
    _corrupt(make_audio(folder / "garbled.mp3", 2.0, 16000, 1))
    with wave.open(str(folder / "quad.wav"), "wb") as w:  # an unknown channel layout
        w.setnchannels(4)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00" * 4 * 16000)
    make_audio(folder / "hifi.wav", 0.5, 96000, 1)  # above 48 kHz
    with wave.open(str(folder / "lofi.wav"), "wb") as w:  # below 8 kHz
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(4000)
        w.writeframes(b"\x01\x00" * 4000)
    (folder / "gone.wav").symlink_to(folder / "deleted-target.wav")
    return {
        "text.wav": "not an audio file",
        "empty.mp3": "empty file",
        "random.flac": "corrupt",
        "cut.wav": "truncated",
        "cut.flac": "truncated",
        "cut.mp3": "truncated",
        "cut.m4a": "corrupt",
        "cut.ogg": "truncated",
        "tail.opus": "truncated",
        "tail.wav": "truncated",
        "garbled.mp3": "",  # corrupt or truncated: only that it is named
        "quad.wav": "4 channels",
        "hifi.wav": "96000 Hz",
        "lofi.wav": "4000 Hz",
        "gone.wav": "broken link",
    }


def test_each_bad_file_is_one_reject_and_the_good_ones_go_in(
    tmp_path: Path, store: Store, now
) -> None:
    folder = tmp_path / "in"
    expected = _bad_files(folder)
    good = [make_audio(folder / f"good{i}.wav", 1.0, 8000, 1 + i % 2, seed=i) for i in range(3)]
    report = ingest(store, [folder], now=now)
    assert sorted(report.imported) == ["good0", "good1", "good2"]
    by_name = {Path(r.source).name: r for r in report.rejects}
    assert sorted(by_name) == sorted(expected)
    assert len(report.rejects) == len(expected)  # one line each
    for name, phrase in expected.items():
        line = by_name[name].describe()
        assert "\n" not in line
        assert line.startswith(str(folder / name))
        assert phrase in line, line
    # recorded in the database, for `status`
    assert {Path(r["source"]).name for r in reject_rows(store)} == set(expected)
    # nothing of a bad file was kept
    assert len(rows_in_db(store)) == len(good)
    assert len(recording_files(store)) == len(good)


# Root reads every file whatever its mode; as root the ingest runs without the
# capabilities that let it (setpriv), so the permission check is the real one.
DROP_DAC = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_unreadable_file_is_rejected_and_the_others_imported(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    make_audio(folder / "ok.wav", 1.0, 16000, 1)
    secret = make_audio(folder / "locked.wav", 1.0, 16000, 1, seed=1)
    secret.chmod(0o000)
    prefix = DROP_DAC if os.geteuid() == 0 else []
    home = tmp_path / "home"
    command = frozen_run.command(
        NOW, [sys.executable, "-m", "analytics", "--home", str(home), "ingest", str(folder)]
    )
    result = subprocess.run(prefix + command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("rejected")]
    assert lines == [f"rejected {secret}: cannot read the file (Permission denied)"]
    assert "1 imported" in result.stdout


def test_missing_path_is_a_reject(tmp_path: Path, store: Store, now) -> None:
    good = make_audio(tmp_path / "a.wav")
    report = ingest(store, [tmp_path / "nope", good], now=now)
    assert report.imported == ["a"]
    assert [r.describe() for r in report.rejects] == [
        f"{tmp_path / 'nope'}: no such file or folder"
    ]


# --- metadata CSV -------------------------------------------------------------------


def _write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_rows_give_the_metadata(tmp_path: Path, store: Store, now) -> None:
    make_audio(tmp_path / "rec" / "one.wav", 1.0, 8000, 2)
    make_audio(tmp_path / "rec" / "two.flac", 1.0, 16000, 2, seed=2)
    meta = _write_csv(
        tmp_path / "meta.csv",
        f"{HEADER}\n"
        "rec/one.wav,c1,2026-11-20T09:14:00+01:00,A101,Niort-1,+33 6 12 34 56 78,agent_right,fr,false,false\n"
        "rec/two.flac,c2,2026-11-21 10:00,A102,Niort-2,,,EN,no,yes\n",
    )
    # the folder is also named: each file is still one call, with its row's metadata
    report = ingest(store, [tmp_path / "rec"], meta, now=now)
    assert sorted(report.imported) == ["c1", "c2"]
    by_id = {row["call_id"]: row for row in rows_in_db(store)}
    assert by_id["c1"]["started_at"] == "2026-11-20T08:14:00+00:00"
    assert by_id["c1"]["channel_layout"] == "agent_right"
    assert by_id["c1"]["team"] == "Niort-1"
    assert by_id["c1"]["caller_hash"] and "612345678" not in by_id["c1"]["caller_hash"]
    assert by_id["c2"]["started_at"] == "2026-11-21T10:00:00+00:00"
    assert by_id["c2"]["language"] == "en"
    assert by_id["c2"]["channel_layout"] == "agent_left"
    with store.read() as conn:
        assert conn.execute(select(holds.c.call_id)).scalars().all() == ["c2"]


@pytest.mark.parametrize(
    ("variant", "encoding"),
    [
        ("bom", "utf-8-sig"),
        ("semicolon", "utf-8"),
        ("quoted", "utf-8"),
        ("blank_lines", "utf-8"),
        ("crlf_cp1252", "cp1252"),
        ("tabs", "utf-8"),
    ],
)
def test_csv_dialects(tmp_path: Path, store: Store, now, variant: str, encoding: str) -> None:
    make_audio(tmp_path / "a b.wav", 1.0, 8000, 1)
    make_audio(tmp_path / "c.wav", 1.0, 8000, 1, seed=1)
    team = "Équipe, Niort" if variant != "semicolon" else "Équipe; Niort"
    rows = [
        ["recording", "call_id", "started_at", "team"],
        ["a b.wav", "x1", "2026-11-20T09:00:00Z", team],
        ["c.wav", "x2", "2026-11-20T10:00:00Z", 'say "hi"'],
    ]
    delimiter = {"semicolon": ";", "tabs": "\t"}.get(variant, ",")
    buf = io.StringIO()
    quoting = csv.QUOTE_ALL if variant == "quoted" else csv.QUOTE_MINIMAL
    terminator = "\r\n" if variant == "crlf_cp1252" else "\n"
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        quoting=quoting,  # type: ignore[arg-type]
        lineterminator=terminator,
    )
    for row in rows:
        writer.writerow(row)
        if variant == "blank_lines":
            buf.write("\n   \n")
    meta = _write_csv(tmp_path / "meta.csv", buf.getvalue(), encoding)
    report = ingest(store, [], meta, now=now)
    assert report.rejects == []
    by_id = {row["call_id"]: row for row in rows_in_db(store)}
    assert by_id["x1"]["team"] == team
    assert by_id["x2"]["team"] == 'say "hi"'
    assert by_id["x1"]["started_at"] == "2026-11-20T09:00:00+00:00"


def test_bad_csv_rows_are_rejects_naming_the_line(tmp_path: Path, store: Store, now) -> None:
    for name in ("ok", "baddate", "badlayout", "badlang", "badbool", "extra"):
        make_audio(tmp_path / f"{name}.wav", 1.0, 8000, 1, seed=len(name))
    meta = _write_csv(
        tmp_path / "meta.csv",
        "recording,call_id,started_at,channel_layout,language,objection\n"
        "ok.wav,ok,2026-11-20T09:00:00Z,,,\n"  # line 2
        "missing.wav,m,2026-11-20T09:00:00Z,,,\n"  # line 3
        "baddate.wav,d,20/11/2026,,,\n"  # line 4
        "\n"
        "badlayout.wav,l,,agent_center,,\n"  # line 6
        "badlang.wav,g,,,french!,\n"  # line 7
        "badbool.wav,b,,,,maybe\n"  # line 8
        "extra.wav,e,,,,,surplus\n"  # line 9
        ",,,,,\n"  # blank in effect: skipped
        "ok.wav,dup,,,,\n",  # line 11
    )
    # the folder holds the badly described files: they must not slip in with defaults
    report = ingest(store, [tmp_path], meta, now=now)
    assert report.imported == ["ok"]
    described = sorted(r.describe() for r in report.rejects)
    assert described == sorted(
        [
            f"{meta}:3: recording {tmp_path / 'missing.wav'} not found",
            f"{meta}:4: started_at '20/11/2026' is not an ISO 8601 date-time "
            "(recording baddate.wav not imported)",
            f"{meta}:6: channel_layout 'agent_center' is not one of agent_left, agent_right, "
            "mono (recording badlayout.wav not imported)",
            f"{meta}:7: language 'french!' is not a language code such as fr or en "
            "(recording badlang.wav not imported)",
            f"{meta}:8: objection must be true or false, not 'maybe' "
            "(recording badbool.wav not imported)",
            f"{meta}:9: 7 fields but the header has 6 (recording extra.wav not imported)",
            f"{meta}:11: recording already named on line 2",
        ]
    )
    assert {r["row"] for r in reject_rows(store)} == {3, 4, 6, 7, 8, 9, 11}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the metadata CSV is empty"),
        (b"\n\n  \n", "the metadata CSV is empty"),
        (b"file,date\na.wav,2026-01-01\n", "no 'recording' column"),
        (b"\xef\xbb\xbf", "the metadata CSV is empty"),
    ],
)
def test_unusable_csv_is_one_reject(
    tmp_path: Path, store: Store, now, content: bytes, reason: str
) -> None:
    meta = tmp_path / "meta.csv"
    meta.write_bytes(content)
    good = make_audio(tmp_path / "a.wav")
    report = ingest(store, [good], meta, now=now)
    assert report.imported == ["a"]
    assert len(report.rejects) == 1
    assert str(meta) in report.rejects[0].describe()
    assert reason in report.rejects[0].reason


def test_missing_csv_is_a_reject(tmp_path: Path, store: Store, now) -> None:
    report = ingest(store, [make_audio(tmp_path / "a.wav")], tmp_path / "no.csv", now=now)
    assert report.imported == ["a"]
    assert "cannot read the metadata CSV" in report.rejects[0].reason


def test_a_huge_field_rejects_its_row_only(tmp_path: Path, store: Store, now) -> None:
    make_audio(tmp_path / "b.wav")
    meta = _write_csv(tmp_path / "m.csv", "recording,team\na.wav," + "x" * 200_000 + "\nb.wav,T\n")
    report = ingest(store, [], meta, now=now)
    assert report.imported == ["b"]
    assert [r.row for r in report.rejects] == [2]
    assert "malformed CSV" in report.rejects[0].reason


# hypothesis: generated rows survive writing with any dialect and reading back

_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"),
    min_size=1,
    max_size=12,
).map(str.strip)
_opt_text = st.one_of(st.none(), _text.filter(bool))
_name = st.text(alphabet="abcdefghij-_ 0123456789éà", min_size=1, max_size=10).map(
    lambda s: s.strip() + ".wav"
)
_call_id = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9._:@-]{1,20}", fullmatch=True))
# a French mobile number in the spellings CSVs hold, with the E.164 form it reads as
_caller = st.one_of(
    st.none(),
    st.tuples(
        st.integers(0, 99_999_999),
        st.sampled_from(["0{} {}", "+33 {} {}", "0033{}{}", "33{}{}", "+33 (0){} {}"]),
    ).map(lambda p: (p[1].format("6", f"{p[0]:08d}"), f"+336{p[0]:08d}")),
)
_moment = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@st.composite
def metadata_rows(draw: st.DrawFn) -> list[dict]:
    names = draw(st.lists(_name, min_size=1, max_size=6, unique_by=lambda n: n.strip()))
    return [
        {
            "recording": name,
            "call_id": draw(_call_id),
            "started_at": draw(st.one_of(st.none(), _moment)),
            "agent_id": draw(_opt_text),
            "team": draw(_opt_text),
            "caller": draw(_caller),
            "channel_layout": draw(st.sampled_from([None, "agent_left", "agent_right", "mono"])),
            "language": draw(st.sampled_from([None, "fr", "en", "de", "spa"])),
            "objection": draw(st.booleans()),
            "legal_hold": draw(st.booleans()),
        }
        for name in names
    ]


def _cell(value: object, style: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return {"word": str(value).lower(), "digit": str(int(value)), "caps": str(value).upper()}[
            style
        ]
    if isinstance(value, datetime):
        return value.isoformat() if style != "digit" else value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=metadata_rows(),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    blank_lines=st.booleans(),
    terminator=st.sampled_from(["\n", "\r\n"]),
    style=st.sampled_from(["word", "digit", "caps"]),
    columns=st.permutations(
        [
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
        ]
    ),
)
def test_read_metadata_round_trips_generated_rows(
    tmp_path: Path,
    rows: list[dict],
    delimiter: str,
    bom: bool,
    quoting: int,
    blank_lines: bool,
    terminator: str,
    style: str,
    columns: list[str],
) -> None:
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        quoting=quoting,  # type: ignore[arg-type]
        lineterminator=terminator,
    )
    writer.writerow(columns)
    for row in rows:
        if blank_lines:
            buf.write(terminator)
        cells = {**row, "caller_id": row["caller"][0] if row["caller"] else None}
        writer.writerow([_cell(cells[c], style) for c in columns])
    path = tmp_path / "meta.csv"
    path.write_bytes((("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8"))
    parsed, found_rejects = read_metadata(path)
    assert found_rejects == []
    assert len(parsed) == len(rows)
    for got, want in zip(parsed, rows, strict=True):
        assert got.recording == (tmp_path / want["recording"]).resolve()
        for key in ("call_id", "agent_id", "team", "channel_layout", "language"):
            assert getattr(got, key) == want[key], key
        assert got.caller_id == (want["caller"][1] if want["caller"] else None)
        assert got.started_at == want["started_at"]
        assert got.objection is want["objection"]
        assert got.legal_hold is want["legal_hold"]


@hsettings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.lists(st.text(max_size=20), max_size=12), max_size=8).map(
            lambda rows: "\n".join(
                ",".join(r) for r in [["recording", "started_at", "objection"], *rows]
            ).encode("utf-8", "surrogatepass")
        ),
    )
)
def test_read_metadata_never_raises_on_garbage(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(data)
    parsed, found = read_metadata(path)
    assert all(isinstance(r, MetadataRow) for r in parsed)
    assert all(isinstance(r, Reject) and r.source == str(path) for r in found)
    for reject in found:
        assert "\n" not in reject.describe() or "\n" in str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T09:14:00+00:00", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20T09:14:00Z", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20 10:14:00+01:00", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20T09:14", datetime(2026, 11, 20, 9, 14, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_parse_started_at(text: str, expected: datetime) -> None:
    assert parse_started_at(text) == expected


@pytest.mark.parametrize(
    "text", ["", "20/11/2026", "2026-13-01", "yesterday", "0001-01-01T00:00:00+01:00"]
)
def test_parse_started_at_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="started_at"):
        parse_started_at(text)


# --- idempotence --------------------------------------------------------------------


def test_reingest_is_idempotent(tmp_path: Path, store: Store, now) -> None:
    folder = tmp_path / "in"
    for i in range(4):
        make_audio(folder / f"c{i}.flac", 1.0, 16000, 1, seed=i)
    first = ingest(store, [folder], now=now)
    before = rows_in_db(store)
    files_before = recording_files(store)
    second = ingest(store, [folder, folder / "c0.flac"], now=now)
    assert len(first.imported) == 4
    assert second.imported == []
    assert sorted(second.already_imported) == ["c0", "c1", "c2", "c3"]
    assert second.rejects == []
    assert rows_in_db(store) == before
    assert recording_files(store) == files_before


def test_same_content_under_another_name_is_one_call(tmp_path: Path, store: Store, now) -> None:
    a = make_audio(tmp_path / "a.wav")
    b = tmp_path / "copy-of-a.wav"
    b.write_bytes(a.read_bytes())
    report = ingest(store, [a, b], now=now)
    assert report.imported == ["a"]
    assert report.already_imported == ["a"]
    assert len(rows_in_db(store)) == 1


def test_same_call_id_with_other_content_is_a_reject(tmp_path: Path, store: Store, now) -> None:
    ingest(store, [make_audio(tmp_path / "one" / "x.wav", seed=1)], now=now)
    other = make_audio(tmp_path / "two" / "x.wav", seed=2)
    report = ingest(store, [other], now=now)
    assert report.imported == []
    assert [r.describe() for r in report.rejects] == [
        f"{other}: call_id 'x' already names another recording"
    ]
    assert len(rows_in_db(store)) == 1


def test_fixed_input_loses_its_old_reject(tmp_path: Path, store: Store, now) -> None:
    path = tmp_path / "a.wav"
    path.write_text("not yet a recording")
    assert len(ingest(store, [path], now=now).rejects) == 1
    make_audio(path)
    assert ingest(store, [path], now=now).imported == ["a"]
    assert reject_rows(store) == []


# --- objection and retention gates --------------------------------------------------


def test_objected_row_keeps_no_audio_copy(tmp_path: Path, store: Store, now) -> None:
    make_audio(tmp_path / "o.wav")
    meta = _write_csv(
        tmp_path / "m.csv",
        "recording,call_id,agent_id,caller_id,objection\no.wav,o1,A1,0612345678,true\n",
    )
    report = ingest(store, [tmp_path], meta, now=now)
    assert report.objected == ["o1"]
    row = call_row_of(store, "o1")
    assert row["state"] == "objected"
    assert row["audio_path"] is None and row["agent_id"] is None and row["caller_hash"] is None
    assert recording_files(store) == set()
    # re-ingest: still one objected call, still no copy
    again = ingest(store, [tmp_path], meta, now=now)
    assert again.imported == [] and len(rows_in_db(store)) == 1
    assert recording_files(store) == set()


def test_caller_objection_filed_before_stops_their_next_call(
    tmp_path: Path, store: Store, now
) -> None:
    object_calls(store, caller_id="+33 6 12 34 56 78", now=now)
    make_audio(tmp_path / "n.wav")
    meta = _write_csv(tmp_path / "m.csv", "recording,caller_id\nn.wav,06 12 34 56 78\n")
    report = ingest(store, [], meta, now=now)
    assert report.objected == ["n"]
    assert recording_files(store) == set()


def test_objection_in_a_later_csv_applies_to_an_imported_call(
    tmp_path: Path, store: Store, now
) -> None:
    make_audio(tmp_path / "r.wav")
    first = _write_csv(tmp_path / "m1.csv", "recording,call_id\nr.wav,r1\n")
    assert ingest(store, [], first, now=now).imported == ["r1"]
    later = _write_csv(tmp_path / "m2.csv", "recording,call_id,objection\nr.wav,r1,true\n")
    report = ingest(store, [], later, now=now)
    assert report.objected == ["r1"]
    assert call_row_of(store, "r1")["state"] == "objected"
    assert recording_files(store) == set()


def call_row_of(store: Store, call_id: str) -> dict:
    with store.read() as conn:
        row = call_row(conn, call_id)
    assert row is not None
    return row


def test_past_retention_is_not_imported_unless_held(tmp_path: Path, store: Store, now) -> None:
    old = (now - timedelta(days=200)).isoformat()
    recent = (now - timedelta(days=10)).isoformat()
    for name in ("old", "old_held", "recent"):
        make_audio(tmp_path / f"{name}.wav", seed=len(name))
    meta = _write_csv(
        tmp_path / "m.csv",
        "recording,started_at,legal_hold\n"
        f"old.wav,{old},false\nold_held.wav,{old},true\nrecent.wav,{recent},\n",
    )
    report = ingest(store, [], meta, now=now)
    assert sorted(report.imported) == ["old_held", "recent"]
    assert len(report.rejects) == 1
    assert "past retention" in report.rejects[0].reason
    assert "old.wav" in report.rejects[0].source
    assert {r["call_id"] for r in rows_in_db(store)} == {"old_held", "recent"}
    assert len(recording_files(store)) == 2


def test_a_hold_placed_before_reimport_lets_an_old_call_in(
    tmp_path: Path, store: Store, now
) -> None:
    # a call imported while young, then re-imported later under a hold, stays one call
    make_audio(tmp_path / "h.wav")
    meta = _write_csv(tmp_path / "m.csv", "recording,started_at\nh.wav,2026-11-01T00:00:00Z\n")
    ingest(store, [], meta, now=now)
    hold(store, "h", "case 42", now=now)
    later = now + timedelta(days=365)
    report = ingest(store, [], meta, now=later)
    assert report.already_imported == ["h"] and report.rejects == []


def test_legal_hold_in_a_later_csv_holds_an_imported_call(
    tmp_path: Path, store: Store, now
) -> None:
    make_audio(tmp_path / "k.wav")
    ingest(store, [tmp_path / "k.wav"], now=now)
    meta = _write_csv(tmp_path / "m.csv", "recording,legal_hold\nk.wav,true\n")
    ingest(store, [], meta, now=now)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(holds)).scalar_one() == 1


# --- discovery and progress ---------------------------------------------------------


def test_discover_recurses_and_skips_hidden_and_non_audio(tmp_path: Path) -> None:
    make_audio(tmp_path / "a" / "b" / "deep.WAV")
    make_audio(tmp_path / ".hidden.wav")
    (tmp_path / "readme.md").write_text("x")
    files, found_rejects, skipped = discover([tmp_path])
    assert [f.name for f in files] == ["deep.WAV"]
    assert found_rejects == []
    assert skipped == 1


def test_progress_bar_shows_eta(tmp_path: Path, store: Store, now, capsys) -> None:
    for i in range(5):
        make_audio(tmp_path / f"p{i}.wav", 0.2, 8000, 1, seed=i)
    ingest(store, [tmp_path], now=now, progress=True)
    err = capsys.readouterr().err
    assert "ingest" in err and "5/5" in err
    assert "<" in err  # tqdm's elapsed<remaining


def test_no_progress_bar_by_default(tmp_path: Path, store: Store, now, capsys) -> None:
    ingest(store, [make_audio(tmp_path / "q.wav")], now=now)
    assert capsys.readouterr().err == ""


def test_workspace_is_created_on_first_use(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    with Store.open(load_settings(home, env={})) as fresh:
        assert fresh.settings.db_path.exists()
        assert (home / "recordings").is_dir()


def test_temp_copies_of_dead_ingests_are_swept(tmp_path: Path, store: Store, now) -> None:
    proc = subprocess.Popen(["true"])  # a pid whose process has exited
    proc.wait()
    folder = store.settings.recordings_dir / "ab"
    folder.mkdir(parents=True)
    stale = folder / f".import-{proc.pid}-x1y2"
    stale.write_bytes(b"half a copy")
    live = folder / f".import-{os.getppid()}-z3"  # pytest's parent: alive
    live.write_bytes(b"being written")
    ingest(store, [make_audio(tmp_path / "a.wav")], now=now)
    assert not stale.exists()
    assert live.exists()


def test_a_row_naming_imported_content_under_another_id_is_a_reject(
    tmp_path: Path, store: Store, now
) -> None:
    """Its objection must not land on the other call: the row is refused, clearly."""
    a = make_audio(tmp_path / "a.wav")
    (tmp_path / "b.wav").write_bytes(a.read_bytes())
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text("recording,call_id,objection\na.wav,first,false\nb.wav,second,true\n")
    report = ingest(store, [], csv_path, now=now)
    assert report.imported == ["first"] and report.objected == []
    assert len(report.rejects) == 1
    assert "already imported as call 'first'" in report.rejects[0].reason
    with store.read() as conn:
        assert call_row(conn, "first")["state"] == "pending"


# --- hardening (issue 11): caller ids, dates, call ids, paths, encodings ---------------------


def test_caller_ids_in_any_spelling_meet_the_objection_and_bad_ones_name_their_line(
    tmp_path: Path, store: Store, now
) -> None:
    object_calls(store, caller_id="06 11 22 33 44", now=now)
    spellings = ["33611223344", "+33 (0)6 11 22 33 44", "0033611223344", "+33611223344"]
    for index in range(len(spellings) + 2):
        make_audio(tmp_path / f"s{index}.wav", 1.0, 8000, 1, seed=index)
    lines = [f"s{i}.wav,s{i},{spelling}" for i, spelling in enumerate(spellings)]
    lines += ["s4.wav,s4,anonymous", "s5.wav,s5,07 99 88 77 66"]
    meta = _write_csv(tmp_path / "m.csv", "recording,call_id,caller_id\n" + "\n".join(lines))
    report = ingest(store, [], meta, now=now)
    assert sorted(report.objected) == ["s0", "s1", "s2", "s3"]  # every spelling is that caller
    assert report.imported == ["s5"]
    assert [r.describe() for r in report.rejects] == [
        f"{meta}:6: caller_id is not a phone number (recording s4.wav not imported)"
    ]
    assert "anonymous" not in str(reject_rows(store))


def test_a_start_in_the_future_is_refused_from_the_csv_and_from_the_file_time(
    tmp_path: Path, store: Store, now
) -> None:
    for name in ("skew", "future", "mtime"):
        make_audio(tmp_path / f"{name}.wav", 1.0, 8000, 1, seed=len(name))
    meta = _write_csv(
        tmp_path / "m.csv",
        "recording,call_id,started_at\n"
        f"skew.wav,skew,{(now + timedelta(hours=20)).isoformat()}\n"  # clock skew: fine
        "future.wav,future,2099-01-01T00:00:00Z\n",
    )
    far = datetime(2099, 1, 1, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "mtime.wav", (far, far))
    report = ingest(store, [tmp_path / "mtime.wav"], meta, now=now)
    assert report.imported == ["skew"]
    reasons = sorted(r.describe() for r in report.rejects)
    assert reasons == [
        f"{meta}:3: started_at 2099-01-01T00:00:00+00:00 is in the future (later than now "
        "plus 1 day of clock skew) (recording future.wav not imported)",
        f"{tmp_path / 'mtime.wav'}: the file's modification time 2099-01-01T00:00:00+00:00 is "
        "in the future (later than now plus 1 day of clock skew)",
    ]
    assert {r["call_id"] for r in rows_in_db(store)} == {"skew"}


def test_call_ids_are_checked_in_the_csv_and_in_file_names(
    tmp_path: Path, store: Store, now
) -> None:
    make_audio(tmp_path / "csv.wav", 1.0, 8000, 1)
    make_audio(tmp_path / "in" / "bad name!.wav", 1.0, 8000, 1, seed=1)
    make_audio(tmp_path / "in" / "good.wav", 1.0, 8000, 1, seed=2)
    meta = _write_csv(
        tmp_path / "m.csv",
        'recording,call_id\ncsv.wav,"![x](http://evil.example/a.png)\n\x1b[2Jaudit"\n',
    )
    report = ingest(store, [tmp_path / "in"], meta, now=now)
    assert report.imported == ["good"]
    described = sorted(r.describe() for r in report.rejects)
    assert len(described) == 2
    assert "is not a valid call id (1-128 of the characters" in described[0]
    assert described[0].startswith(f"{tmp_path / 'in' / 'bad name!.wav'}: the file name ")
    assert described[0].endswith("give it a call_id in a metadata CSV")
    assert described[1].startswith(f"{meta}:3: call_id ")  # the line the row ends on
    assert "\n" not in described[1] and "\x1b" not in described[1]


def test_ids_that_may_be_phone_numbers_are_warned_about(tmp_path: Path, store: Store, now) -> None:
    make_audio(tmp_path / "0611223344_20261120.wav", 1.0, 8000, 1)
    make_audio(tmp_path / "c1.wav", 1.0, 8000, 1, seed=1)
    report = ingest(store, [tmp_path], now=now)
    assert sorted(report.imported) == ["0611223344_20261120", "c1"]
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("1 call ids hold 6 or more digits (0611223344_20261120)")


def test_csv_rows_cannot_reach_outside_the_allowed_folders(
    tmp_path: Path, store: Store, now
) -> None:
    make_audio(tmp_path / "csv" / "inside.wav", 1.0, 8000, 1)
    secret = make_audio(tmp_path / "elsewhere" / "secret.wav", 1.0, 8000, 1, seed=1)
    secret2 = make_audio(tmp_path / "elsewhere" / "secret2.wav", 1.0, 8000, 1, seed=3)
    linked = make_audio(tmp_path / "elsewhere" / "linked.wav", 1.0, 8000, 1, seed=4)
    other = make_audio(tmp_path / "other" / "allowed.wav", 1.0, 8000, 1, seed=2)
    (tmp_path / "csv" / "link.wav").symlink_to(linked)
    meta = _write_csv(
        tmp_path / "csv" / "m.csv",
        f"recording\ninside.wav\n../elsewhere/secret.wav\n{secret2}\nlink.wav\n{other}\n",
    )
    report = ingest(store, [], meta, now=now)
    assert report.imported == ["inside"]
    assert sorted(r.row for r in report.rejects) == [3, 4, 5, 6]
    assert all("is outside the folders allowed" in r.reason for r in report.rejects)
    assert all(r.source == str(meta) for r in report.rejects)
    assert {r["call_id"] for r in rows_in_db(store)} == {"inside"}
    # --root adds a folder; a path given on the command line is allowed as such
    again = ingest(store, [secret], meta, roots=[tmp_path / "other"], now=now)
    assert sorted(again.imported) == ["allowed", "secret"]
    assert {r.row for r in again.rejects} == {4, 5}  # secret2, and the link pointing out


def test_a_stray_byte_in_a_utf8_csv_rejects_its_line_only(
    tmp_path: Path, store: Store, now
) -> None:
    for name in ("a", "b"):
        make_audio(tmp_path / f"{name}.wav", 1.0, 8000, 1, seed=len(name) + ord(name))
    data = "recording,call_id,team\na.wav,a,Équipe Niort\n".encode() + b"b.wav,b,Caf\xe9\n"
    meta = tmp_path / "m.csv"
    meta.write_bytes(data)
    report = ingest(store, [], meta, now=now)
    assert report.imported == ["a"]
    assert [r.describe() for r in report.rejects] == [
        f"{meta}:3: byte 0xE9 at column 12 is not UTF-8: save the CSV as UTF-8 "
        "(recording b.wav not imported)"
    ]
    assert rows_in_db(store)[0]["team"] == "Équipe Niort"  # not garbled


def test_a_csv_with_no_utf8_at_all_is_read_as_cp1252_with_a_warning(
    tmp_path: Path, store: Store, now
) -> None:
    make_audio(tmp_path / "a.wav", 1.0, 8000, 1)
    meta = _write_csv(tmp_path / "m.csv", "recording,call_id,team\na.wav,a,Équipe\n", "cp1252")
    report = ingest(store, [], meta, now=now)
    assert report.imported == ["a"] and report.rejects == []
    assert rows_in_db(store)[0]["team"] == "Équipe"
    assert report.warnings == [
        f"{meta}: not UTF-8; read as Windows-1252 (cp1252): check accented names, "
        "or save the CSV as UTF-8"
    ]


def test_cli_ingest_root_option_and_warnings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_audio(tmp_path / "csv" / "in.wav", 1.0, 8000, 1)
    make_audio(tmp_path / "far" / "0611223344.wav", 1.0, 8000, 1, seed=1)
    meta = _write_csv(tmp_path / "csv" / "m.csv", "recording\nin.wav\n../far/0611223344.wav\n")
    base = [sys.executable, "-m", "analytics", "--home", str(home), "ingest"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(
        frozen_run.command(NOW, [*base, "--metadata", str(meta)]),
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert first.returncode == 1 and "is outside the folders allowed" in first.stderr
    second = subprocess.run(
        frozen_run.command(
            NOW, [*base, "--metadata", str(meta), "--root", str(tmp_path / "far")]
        ),
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "1 imported, 1 already imported" in second.stdout
    assert "warning: 1 call ids hold 6 or more digits" in second.stderr
