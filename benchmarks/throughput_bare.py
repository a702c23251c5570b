"""Baseline for the throughput benchmark: bare, sequential faster-whisper.

Each channel of each call is transcribed on its own with ``WhisperModel.transcribe``
defaults (beam 5) and ``vad_filter=True``, one after the other, consuming the segment
generator; this is what "just use faster-whisper" costs. ``benchmarks/throughput.py``
imports :func:`bare_transcribe_seconds` and compares ``callqa process`` against it.

Run alone: ``python benchmarks/throughput_bare.py FILE[:LAYOUT] ...`` (default: the
clips under ../shared/audio).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path

from analytics.audio import decode, speaker_channels
from analytics.models import ChannelLayout
from analytics.transcribe import resolve_model

SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"


def bare_transcribe_seconds(
    paths_with_layouts: Iterable[tuple[Path, ChannelLayout]],
    model_dir: str | Path,
    *,
    cpu_threads: int = 0,
) -> float:
    """Wall-clock seconds to decode and transcribe every channel sequentially.

    Model loading is excluded (done before the clock starts); decoding is included,
    as ``callqa process`` decodes too.
    """
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
    started = time.perf_counter()
    for path, layout in paths_with_layouts:
        for samples in speaker_channels(decode(Path(path)), layout).values():
            segments, _ = model.transcribe(samples, vad_filter=True)
            for _ in segments:
                pass
    return time.perf_counter() - started


def _parse(arg: str) -> tuple[Path, ChannelLayout]:
    path, _, layout = arg.partition(":")
    return Path(path), layout or "agent_left"  # type: ignore[return-value]


def main(argv: list[str]) -> None:
    inputs = [_parse(a) for a in argv] or [
        (SHARED_AUDIO / "jfk.flac", "mono"),
        (SHARED_AUDIO / "stereo_diarization.wav", "agent_left"),
    ]
    model_dir = resolve_model("base", Path.home() / ".cache" / "callqa-models")
    seconds = bare_transcribe_seconds(inputs, model_dir)
    audio_s = sum(decode(p).duration_s for p, _ in inputs)
    print(f"bare faster-whisper: {seconds:.2f}s for {audio_s:.1f}s of audio")


if __name__ == "__main__":
    main(sys.argv[1:])
