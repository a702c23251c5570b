"""Real round trips for the redaction benchmark: spoken, transcribed, redacted, scored.

The English template calls of ``tests/redact_templates.py`` (values from Faker) are
spoken with espeak-ng (agent and customer on their own channels), run through the
real ``process`` pipeline (Whisper base from the packaged weights, the product's
Redactor, SQLite in a temporary workspace), and scored by what stays readable: a
planted value's word that Whisper wrote in the raw transcript (kept in memory here
only) and that is still in the redacted one is a leak. The same run gives the share
of ``process`` time spent redacting (stage timings of the pipeline).

    python benchmarks/redaction.py --sets roundtrip
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import redact_external
import redact_templates

from analytics.models import RawTranscript, RedactedTranscript

_WORD = re.compile(r"[^\W_]+")


@dataclass
class RoundTrip:
    calls: int = 0
    planted: int = 0  # value words planted
    heard: int = 0  # ... that Whisper wrote
    readable: int = 0  # ... still in the redacted transcript
    by_type: dict[str, list[int]] = field(default_factory=dict)  # type → [heard, readable]
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (type, word)
    stage_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    audio_s: float = 0.0

    def table(self) -> str:
        lines = [f"  {'type':16} {'heard':>6} {'readable':>8} {'hidden':>7}"]
        for kind, (heard, readable) in sorted(self.by_type.items()):
            share = 1 - readable / heard if heard else 1.0
            lines.append(f"  {kind:16} {heard:6d} {readable:8d} {share:7.3f}")
        hidden = 1 - self.readable / self.heard if self.heard else 1.0
        lines.append(f"  {'ALL':16} {self.heard:6d} {self.readable:8d} {hidden:7.3f}")
        lines.append(
            f"  {self.calls} calls, {self.planted} value words planted, {self.heard} heard "
            f"by Whisper; {self.audio_s:.0f} s of audio in {self.wall_s:.0f} s"
        )
        total = sum(self.stage_s.values())
        if total:
            shares = ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in self.stage_s.items())
            lines.append(f"  process time by stage: {shares}")
            redact = self.stage_s.get("redact", 0.0)
            lines.append(
                f"  redaction: {100 * redact / total:.1f} % of callqa process time "
                f"(budget 10 %), {redact:.2f} s for {self.calls} calls"
            )
        return "\n".join(lines)


def _turns(text: str) -> list[tuple[str, str]]:
    """A template's lines as (speaker, text): two lines are agent then customer."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) == 1:
        return [("customer", lines[0])]
    return [("agent" if i % 2 == 0 else "customer", line) for i, line in enumerate(lines)]


def _words(value: str) -> list[str]:
    """The words of a value a reader could recognise: letters (3+) and digit groups (2+)."""
    found = _WORD.findall(value.lower())
    return [w for w in found if (w.isdigit() and len(w) >= 2) or (not w.isdigit() and len(w) >= 3)]


def _present(word: str, text: str) -> bool:
    lower = text.lower()
    if word.isdigit():
        return word in re.sub(r"\D", "", lower)
    return re.search(rf"(?<![^\W\d_]){re.escape(word)}(?![^\W\d_])", lower) is not None


def run(calls: int = 12) -> RoundTrip:
    """Speak, process and score ``calls`` English template calls (first fill of each)."""
    from analytics.config import load_settings
    from analytics.ingest import ingest
    from analytics.pipeline import Engines, build_engines, process
    from analytics.store import Store
    from analytics.synth import Turn, synthesize_call

    records = [r for r in redact_templates.template_sets(fills=1)["templates_en/orig"] if r.spans][
        :calls
    ]
    result = RoundTrip(calls=len(records))
    raw: dict[str, RawTranscript] = {}
    redacted: dict[str, RedactedTranscript] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        by_call: dict[str, redact_external.Record] = {}
        for number, record in enumerate(records):
            call_id = f"rt-{number:03d}"
            by_call[call_id] = record
            turns = [Turn(speaker, line) for speaker, line in _turns(record.text)]
            synthesize_call(turns, folder / f"{call_id}.wav", language="en")
        settings = load_settings(Path(tmp) / "home", env={})
        engines = build_engines(settings, 1)

        class Transcriber:
            def __getattr__(self, name: str) -> object:
                return getattr(engines.transcriber, name)

            def transcribe_speech(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                out = engines.transcriber.transcribe_speech(*args, **kwargs)  # type: ignore[attr-defined]
                raw[out.call_id] = out
                return out

        class Redactor:
            def __getattr__(self, name: str) -> object:
                return getattr(engines.redactor, name)

            def redact(self, transcript: RawTranscript) -> RedactedTranscript:
                out = engines.redactor.redact(transcript)
                redacted[out.call_id] = out
                return out

        spy = Engines(Transcriber(), Redactor(), engines.quality_config, engines.abuse_config)  # type: ignore[arg-type]
        with Store.open(settings) as store:
            ingest(store, [folder])
            began = time.perf_counter()
            report = process(store, engines=spy)
            result.wall_s = time.perf_counter() - began
        result.stage_s = dict(report.stage_s)
        result.audio_s = report.audio_s
        for call_id, record in by_call.items():
            if call_id not in raw or call_id not in redacted:
                continue
            heard_text = " ".join(s.text for s in raw[call_id].segments)
            kept_text = " ".join(s.text for s in redacted[call_id].segments)
            for start, end, kind in record.spans:
                if kind not in redact_external.TARGET_TYPES:
                    continue
                counts = result.by_type.setdefault(kind, [0, 0])
                for word in _words(record.text[start:end]):
                    result.planted += 1
                    if not _present(word, heard_text):
                        continue
                    result.heard += 1
                    counts[0] += 1
                    if _present(word, kept_text):
                        result.readable += 1
                        counts[1] += 1
                        result.leaks.append((kind, word))
    return result
