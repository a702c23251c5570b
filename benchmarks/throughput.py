"""Throughput: `callqa process` against bare sequential faster-whisper, same calls, same model.

(a) bare: ``WhisperModel.transcribe(..., vad_filter=True)`` (default beam 5), each channel
    on its own, one after the other (benchmarks/throughput_bare.py);
(b) callqa: the whole ``process`` — decode, transcribe, redact, quality, abuse, redacted
    audio, store — with its default settings.
Model loading is excluded from both. Prints the ratio a/b, the real-time factor, the
share of time spent redacting, and the word error rate of both on the real clips.

Run: ``python benchmarks/throughput.py [--calls N]`` (needs espeak-ng).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput_bare import bare_transcribe_seconds

from analytics.audio import decode
from analytics.config import load_settings
from analytics.ingest import ingest
from analytics.pipeline import build_engines, process
from analytics.store import Store, get_call, utcnow
from analytics.synth import Turn, synthesize_call
from analytics.transcribe import resolve_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
JFK = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"
STEREO_LEFT = "he began a confused complaint against the wizard who had vanished behind the curtain on the left"
STEREO_RIGHT = "the horizon seems extremely distant"
SCRIPT = (
    Turn(
        "agent", "Good morning, you are through to roadside assistance, how can I help you today?"
    ),
    Turn(
        "customer",
        "Hello, my car has broken down on the motorway and I am stuck on the hard shoulder.",
    ),
    Turn("agent", "I am sorry to hear that. Are you and your passengers in a safe place?"),
    Turn("customer", "Yes, we are all behind the barrier, but it is getting cold and dark."),
    Turn(
        "agent", "Understood. I am sending a tow truck now, it should arrive within forty minutes."
    ),
    Turn("customer", "Thank you very much, that is a relief."),
    Turn("agent", "You are welcome. Stay behind the barrier. Goodbye and take care."),
)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


def corpus(folder: Path, n_calls: int) -> list[tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    items: list[tuple[Path, str]] = [
        (SHARED / "jfk.flac", "mono"),
        (SHARED / "stereo_diarization.wav", "agent_left"),
    ]
    for index in range(n_calls):
        path = folder / f"synth-{index}.wav"
        turns = SCRIPT[index % 3 :] + SCRIPT[: index % 3]
        synthesize_call(turns, path, layout="agent_left", language="en")
        items.append((path, "agent_left"))
    return items


def bare_wer(model_dir: str) -> float:
    from faster_whisper import WhisperModel

    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    segments, _ = model.transcribe(str(SHARED / "jfk.flac"), vad_filter=True)
    return float(jiwer.wer(JFK, _norm(" ".join(s.text for s in segments))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--calls", type=int, default=6, help="synthetic stereo calls besides the real clips"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items = corpus(work / "in", args.calls)
        audio_s = sum(decode(path).duration_s for path, _ in items)
        settings = load_settings(work / "home", env={})
        model_dir = resolve_model(settings.model, settings.model_cache_dir)
        print(f"corpus: {len(items)} calls, {audio_s:.1f} s of audio; model {settings.model}")

        bare_s = bare_transcribe_seconds([(p, layout) for p, layout in items], model_dir)  # type: ignore[misc]
        print(f"(a) bare faster-whisper, sequential, beam 5, vad_filter: {bare_s:.1f} s")

        store = Store.open(settings)
        metadata = work / "in" / "metadata.csv"
        metadata.write_text(
            "recording,call_id,channel_layout,started_at\n"
            + "".join(f"{p},{p.stem},{layout},{utcnow().isoformat()}\n" for p, layout in items)
        )
        ingest(store, [], metadata)
        engines = build_engines(settings, settings.workers)
        engines.transcriber.model  # load now: loading is excluded from both sides  # noqa: B018
        started = time.perf_counter()
        report = process(store, engines=engines)
        callqa_s = time.perf_counter() - started
        assert not report.failed, report.failed
        total_stage = sum(report.stage_s.values())
        redact_share = report.stage_s.get("redact", 0.0) / total_stage if total_stage else 0.0
        print(f"(b) callqa process ({settings.workers} workers): {callqa_s:.1f} s")
        print(f"ratio a/b: {bare_s / callqa_s:.2f}  (target >= 1.5)")
        print(f"real-time factor: bare {bare_s / audio_s:.3f}, callqa {callqa_s / audio_s:.3f}")
        print(f"redaction share of process time: {100 * redact_share:.1f}%  (target <= 10%)")
        print(
            "time by stage (summed over workers): "
            + ", ".join(f"{k} {v:.1f}s" for k, v in report.stage_s.items())
        )

        now = utcnow()
        jfk = get_call(store, "jfk", now)
        callqa_jfk = float(jiwer.wer(JFK, _norm(" ".join(s["text"] for s in jfk["segments"]))))
        stereo = get_call(store, "stereo_diarization", now)
        by_speaker = {
            spk: _norm(" ".join(s["text"] for s in stereo["segments"] if s["speaker"] == spk))
            for spk in ("agent", "customer")
        }
        print(f"WER jfk: bare {bare_wer(model_dir):.3f}, callqa {callqa_jfk:.3f}")
        print(
            "WER stereo_diarization: agent {:.3f}, customer {:.3f}".format(
                jiwer.wer(STEREO_LEFT, by_speaker["agent"]),
                jiwer.wer(STEREO_RIGHT, by_speaker["customer"]),
            )
        )
        store.close()


if __name__ == "__main__":
    main()
