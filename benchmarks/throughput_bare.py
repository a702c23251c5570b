"""Baseline for the throughput benchmark: bare, sequential faster-whisper.

Each channel of each call is transcribed on its own with ``WhisperModel.transcribe``
defaults (beam 5) and ``vad_filter=True``, one after the other, consuming the segment
generator: what "just use faster-whisper" costs. ``benchmarks/throughput.py`` imports
:func:`bare_transcribe_seconds` and compares ``callqa process`` against it.

Run alone, it compares the baseline with callqa's :class:`Transcriber` (transcription
only) on the shared clips plus two synthetic calls, and prints times, CPU times (less
disturbed by other processes than wall time) and word error rates::

    python benchmarks/throughput_bare.py [FILE[:LAYOUT] ...]
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from analytics.audio import decode, speaker_channels
from analytics.models import ChannelLayout
from analytics.transcribe import Transcriber, resolve_model

SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
REFERENCES = {
    ("jfk.flac", "unknown"): "And so my fellow Americans, ask not what your country can do "
    "for you, ask what you can do for your country.",
    ("stereo_diarization.wav", "agent"): "He began a confused complaint against the wizard, "
    "who had vanished behind the curtain on the left.",
    ("stereo_diarization.wav", "customer"): "The horizon seems extremely distant.",
}


def bare_transcribe_seconds(
    paths_with_layouts: Iterable[tuple[Path, ChannelLayout]],
    model_dir: str | Path,
    *,
    cpu_threads: int = 0,
    texts: dict[tuple[str, str], str] | None = None,
) -> float:
    """Wall-clock seconds to decode and transcribe every channel, sequentially.

    Model loading is excluded (done before the clock starts); decoding is included, as
    ``callqa process`` decodes too. ``texts``, if given, receives the text per
    (file name, speaker), for word error rates.
    """
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
    started = time.perf_counter()
    for path, layout in paths_with_layouts:
        for speaker, samples in speaker_channels(decode(Path(path)), layout).items():
            segments, _ = model.transcribe(samples, vad_filter=True)
            text = " ".join(segment.text for segment in segments)
            if texts is not None:
                texts[(Path(path).name, speaker)] = text
    return time.perf_counter() - started


def callqa_transcribe_seconds(
    paths_with_layouts: Sequence[tuple[Path, ChannelLayout]],
    transcriber: Transcriber,
    *,
    parallel_calls: int = 1,
    texts: dict[tuple[str, str], str] | None = None,
) -> float:
    """The same work through callqa's Transcriber, ``parallel_calls`` calls at a time."""
    assert transcriber.model is not None  # load before the clock starts

    def one(item: tuple[Path, ChannelLayout]) -> None:
        path, layout = item
        result = transcriber.transcribe(path.stem, speaker_channels(decode(path), layout))
        if texts is not None:
            for speaker in {s.speaker for s in result.segments}:
                texts[(path.name, speaker)] = " ".join(
                    s.text for s in result.segments if s.speaker == speaker
                )

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel_calls) as pool:
        list(pool.map(one, paths_with_layouts))
    return time.perf_counter() - started


def _timed(run: Callable[[], float]) -> tuple[float, float]:
    cpu = time.process_time()
    wall = run()
    return wall, time.process_time() - cpu


def _wer(texts: dict[tuple[str, str], str]) -> str:
    import jiwer

    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())

    rates = [
        f"{name}/{speaker} {jiwer.wer(norm(ref), norm(texts.get((name, speaker), ''))):.3f}"
        for (name, speaker), ref in REFERENCES.items()
    ]
    return ", ".join(rates)


def _synthetic_calls(folder: Path) -> list[tuple[Path, ChannelLayout]]:
    from analytics.synth import Turn, synthesize_call

    script = [
        Turn("agent", "Good morning, roadside assistance, my name is Peter, how can I help you?"),
        Turn("customer", "Hello, my car has broken down on the highway and will not start."),
        Turn("agent", "I am sorry to hear that. Are you in a safe place right now?"),
        Turn("customer", "Yes, I am parked on the hard shoulder with my hazard lights on."),
        Turn("agent", "Can you give me your policy number and the registration of the car?"),
        Turn("customer", "The registration is AB 123 CD and my policy number is 45678."),
        Turn("agent", "Thank you. A tow truck will be with you within forty minutes."),
        Turn("customer", "That is great, thank you very much for your help. Goodbye."),
    ]
    first, second = folder / "call1.wav", folder / "call2.flac"
    synthesize_call(script, first)
    synthesize_call(script[::-1], second, sample_rate=8000, layout="agent_right")
    return [(first, "agent_left"), (second, "agent_right")]


def _parse(arg: str) -> tuple[Path, ChannelLayout]:
    path, _, layout = arg.partition(":")
    return Path(path), layout or "agent_left"  # type: ignore[return-value]


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [_parse(a) for a in argv] or [
            (SHARED_AUDIO / "jfk.flac", "mono"),
            (SHARED_AUDIO / "stereo_diarization.wav", "agent_left"),
            (SHARED_AUDIO / "multilingual.mp3", "mono"),
            *_synthetic_calls(Path(tmp)),
        ]
        model_dir = resolve_model("base", Path(tmp) / "models")
        audio_s = sum(decode(p).duration_s for p, _ in inputs)
        print(f"{len(inputs)} recordings, {audio_s:.1f}s of audio, base model, int8 CPU")
        bare_texts: dict[tuple[str, str], str] = {}
        bare = _timed(lambda: bare_transcribe_seconds(inputs, model_dir, texts=bare_texts))
        print(f"bare faster-whisper (beam 5, per channel): {bare[0]:.2f}s wall, {bare[1]:.2f}s CPU")
        print(f"  WER {_wer(bare_texts)}")
        configs = {
            "callqa Transcriber, 1 call at a time, 2 threads": (1, 0),
            "callqa Transcriber, 2 calls at a time, 1 thread each": (2, 1),
        }
        for label, (workers, threads) in configs.items():
            transcriber = Transcriber(
                "base", cache_dir=Path(tmp) / "models", num_workers=workers, cpu_threads=threads
            )
            texts: dict[tuple[str, str], str] = {}
            ours = _timed(
                lambda t=transcriber, w=workers, x=texts: callqa_transcribe_seconds(
                    inputs, t, parallel_calls=w, texts=x
                )
            )
            print(
                f"{label}: {ours[0]:.2f}s wall ({bare[0] / ours[0]:.2f}x), "
                f"{ours[1]:.2f}s CPU ({bare[1] / ours[1]:.2f}x)"
            )
            print(f"  WER {_wer(texts)}")


if __name__ == "__main__":
    main(sys.argv[1:])
