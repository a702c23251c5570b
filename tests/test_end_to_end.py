"""The real pipeline end to end: real Whisper, real Presidio, real SQLite, real files.

The leak test plants personal data in synthetic calls, keeps (in memory, in this
test only) what Whisper really heard, and then scans every file of the workspace —
database bytes, WAL, free pages, redacted audio, config — every export format, and
the logs at DEBUG level: no planted value that Whisper heard may be found. The
answers to a request for a name or an e-mail address (a made-up name, an address
spelled letter by letter) are checked by whatever Whisper wrote in them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factories import NOW, stamp_at

from analytics.cli import cli
from analytics.config import load_settings
from analytics.export import export_calls, segments_path
from analytics.ingest import ingest
from analytics.models import RawTranscript
from analytics.pipeline import Engines, build_engines, process
from analytics.store import Store, get_call, utcnow
from analytics.synth import Turn, synthesize_call

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "audio"

# (what is said, a pattern that finds it however the ASR wrote it). The values are ones
# the base model hears from espeak-ng; the test checks it did hear them.
PLANTED: dict[str, str] = {
    "phone": r"6\W{0,3}4\W{0,3}7\W{0,3}8\W{0,3}3\W{0,3}2\W{0,3}9\W{0,3}1\W{0,3}5\W{0,3}2",
    "policy": r"4\W{0,3}8\W{0,3}2\W{0,3}7\W{0,3}3\W{0,3}9\W{0,3}1\W{0,3}5",
    "name": r"john\W{0,4}smith",
    "street": r"baker\W{0,3}street",
    "spelled e-mail": r"k\W{0,3}o\W{0,3}r\W{0,3}d\W{0,3}e\W{0,3}l",
}
# Answers to a request for personal data that no recogniser matches by their value: a
# made-up name (Whisper writes it as it can: "Melvano Trimbeck") and an e-mail spelled
# letter by letter ("KOR -DLATN -AMPLE .com"). Whatever Whisper wrote in them, apart
# from the words around the value, must be found nowhere.
ANSWERS: dict[str, str] = {
    "Yes. Zelvano Trimbeck.": "Yes.",
    "You can email me at k o r d e l at example dot com.": "You can email me at",
}
# How Whisper may write the words said around a value ("Yes." as "Yeah,"): not data.
REPLY_WORDS = frozenset({"yeah", "yep", "okay", "sure", "well", "right"})
CALLS = {
    "leak-1": (
        Turn("agent", "Good morning, roadside assistance, how can I help you?"),
        Turn("customer", "Hello, my name is John Smith and my car broke down."),
        Turn("agent", "I am sorry to hear that. What is your phone number?"),
        Turn("customer", "It is 6 4 7 8 3 2 9 1 5 2."),
        Turn("agent", "Thank you. And your policy number?"),
        Turn("customer", "My policy number is 4 8 2 7 3 9 1 5."),
        Turn("agent", "A tow truck is on its way. Goodbye."),
    ),
    "leak-2": (
        Turn("agent", "Hello, travel assistance, you are speaking with Mark."),
        Turn("customer", "Hi, please send the claim form to john dot smith at gmail dot com."),
        Turn("agent", "Of course. What is your address?"),
        Turn("customer", "I live at 12 Baker Street in London."),
        Turn("agent", "Thank you, goodbye."),
    ),
    "leak-3": (
        Turn("agent", "Good afternoon, home assistance. Can I take your full name, please?"),
        Turn("customer", "Yes. Zelvano Trimbeck."),
        Turn("agent", "Thank you. Which e-mail address should we use?"),
        Turn("customer", "You can email me at k o r d e l at example dot com."),
        Turn("agent", "Thank you, goodbye."),
    ),
}


class RecordingTranscriber:
    """Wraps the real transcriber and keeps what it heard, in memory, for the test."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.heard: list[RawTranscript] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)  # load(), the model: the real transcriber's

    def transcribe_speech(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raw = self.real.transcribe_speech(*args, **kwargs)  # type: ignore[attr-defined]
        self.heard.append(raw)
        return raw


def _answer_words(heard: list[RawTranscript]) -> set[str]:
    """Words of four letters or more Whisper wrote in the customer's answers of leak-3,
    but for the words said around the value ("you can email me at")."""
    around = {w.lower() for text in ANSWERS.values() for w in re.findall(r"[^\W\d_]+", text)}
    around |= REPLY_WORDS
    words: set[str] = set()
    for raw in heard:
        if raw.call_id != "leak-3":
            continue
        for segment in raw.segments:
            if segment.speaker == "customer":
                found = re.findall(r"[^\W\d_]{4,}", segment.text.lower())
                words.update(w for w in found if w not in around)
    return words


def _readable(words: set[str], blob: str) -> set[str]:
    return {w for w in words if re.search(rf"(?<![^\W\d_]){w}(?![^\W\d_])", blob, re.I)}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Engines:
    settings = load_settings(tmp_path_factory.mktemp("engines-home"), env={})
    return build_engines(settings, settings.workers)


@pytest.fixture()
def workspace(tmp_path: Path, engines: Engines) -> Iterator[Store]:
    settings = load_settings(tmp_path / "home", env={})
    with Store.open(settings) as store:
        yield store


def _scan(blob: str) -> set[str]:
    return {name for name, pattern in PLANTED.items() if re.search(pattern, blob, re.IGNORECASE)}


def _files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file())


def test_no_planted_value_reaches_disk_exports_or_logs(
    workspace: Store, engines: Engines, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    folder = tmp_path / "in"
    folder.mkdir()
    for call_id, turns in CALLS.items():
        path = folder / f"{call_id}.wav"
        synthesize_call(turns, path, layout="agent_left", language="en")
        stamp_at(path, NOW - timedelta(hours=1))  # recorded an hour before the test's now
    recorder = RecordingTranscriber(engines.transcriber)
    spy = Engines(recorder, engines.redactor, engines.quality_config, engines.abuse_config)  # type: ignore[arg-type]
    imported = ingest(workspace, [folder])
    report = process(workspace, engines=spy)
    assert sorted(report.done) == sorted(CALLS), (imported, report.failed)

    heard = _scan(" ".join(seg.text for raw in recorder.heard for seg in raw.segments))
    assert len(heard) >= 2, f"Whisper should hear planted values, heard {sorted(heard)}"
    answered = _answer_words(recorder.heard)
    assert len(answered) >= 2, "Whisper should write something for the name and the e-mail"

    out = tmp_path / "exports"
    for fmt in ("jsonl", "csv", "parquet"):
        export_calls(workspace, fmt, out / f"calls.{fmt}")
    assert segments_path(out / "calls.parquet").exists()
    workspace.checkpoint()
    leaks = {
        "workspace files": _scan(_files_text(workspace.settings.home)) & heard,
        "exports": _scan(_files_text(out)) & heard,
        "logs": _scan(caplog.text) & heard,
    }
    assert leaks == {"workspace files": set(), "exports": set(), "logs": set()}
    readable = {
        "workspace files": _readable(answered, _files_text(workspace.settings.home)),
        "exports": _readable(answered, _files_text(out)),
        "logs": _readable(answered, caplog.text),
    }
    # Counts only, never the words themselves, in the failure message.
    assert {k: len(v) for k, v in readable.items()} == {
        "workspace files": 0,
        "exports": 0,
        "logs": 0,
    }
    counts: dict[str, int] = {}
    for call_id in CALLS:
        for kind, n in get_call(workspace, call_id, utcnow())["pii"].items():
            counts[kind] = counts.get(kind, 0) + n
    assert counts.get("PHONE_NUMBER", 0) >= 1 and counts.get("PERSON", 0) >= 1


def test_real_clips_through_the_cli(tmp_path: Path) -> None:
    """`callqa run` on the shared clips, then export: the contract of DESIGN.md."""
    home = tmp_path / "home"
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text(
        "recording,call_id,channel_layout,agent_id,team,started_at\n"
        f"{SHARED / 'jfk.flac'},jfk,mono,A1,T1,{utcnow().isoformat()}\n"
        f"{SHARED / 'stereo_diarization.wav'},st,agent_left,A2,T1,{utcnow().isoformat()}\n"
    )
    runner = CliRunner()
    # the clips live outside the CSV's folder: allowed by --root, as an operator would
    result = runner.invoke(
        cli,
        ["--home", str(home), "run", "--metadata", str(csv_path), "--root", str(SHARED)],
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "calls.jsonl"
    result = runner.invoke(
        cli, ["--home", str(home), "export", "--format", "jsonl", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    records = {r["call_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"jfk", "st"}
    assert set(records["jfk"]) >= {
        "call_id", "started_at", "agent_id", "team", "language", "duration_s",
        "channel_layout", "segments", "pii", "quality", "abuse",
    }  # fmt: skip
    assert records["jfk"]["language"] == "en"
    assert {s["speaker"] for s in records["jfk"]["segments"]} == {"unknown"}
    agent = " ".join(
        s["text"] for s in records["st"]["segments"] if s["speaker"] == "agent"
    ).lower()
    customer = " ".join(
        s["text"] for s in records["st"]["segments"] if s["speaker"] == "customer"
    ).lower()
    assert "wizard" in agent and "horizon" in customer
    assert (
        records["st"]["quality"]["talk_time_agent_s"]
        > records["st"]["quality"]["talk_time_customer_s"]
        > 0
    )
    redacted = list((home / "redacted-audio").iterdir())
    assert len(redacted) == 2
