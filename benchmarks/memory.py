"""Peak memory of the audio work on one call, per hour of audio: block-wise vs whole-call.

Each run builds a synthetic stereo call of sparse speech (an espeak-ng sentence every
two minutes, on alternating channels, over digital silence: a small FLAC, like the
incident's 1.2 MB file of two hours of silence) and measures, in a fresh subprocess
each, the peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of:

- ``blocks``: what ``process`` does now: :func:`analytics.audio.listen` (decode and
  Silero VAD in 64 s blocks), loudness from the kept frame levels, and the streamed
  :func:`analytics.audio.bleep`;
- ``whole``: the old whole-call approach, kept here as the baseline: ``decode`` the
  call, ``speaker_channels``, ``speech_activity`` and ``pack_speech`` on whole arrays,
  ``segment_loudness``, and a bleep that decodes, copies and encodes the whole call.

With ``--mono`` a ``mono`` run is added: the same call read as a mono recording
(:func:`analytics.audio.listen` with the ``mono`` layout) and its voices separated
(:meth:`analytics.diarize.Diarizer.diarize_clips`), so the separation's memory shows
against ``blocks`` (it should follow the speech, not the length of the call).

With ``--whisper`` the ``blocks`` run also transcribes the speech with the ``tiny.en``
model (a constant few hundred MB for the model; the speech itself is small).

Usage (each run is a subprocess; the whole-call baseline is skipped past
``--max-whole-min`` minutes, as it grows by gigabytes)::

    nice -n 10 python benchmarks/memory.py [--minutes 10 30 60 120] [--whisper] [--mono]
        [--max-whole-min 60] [--redacted ogg|flac]

``--redacted flac`` (the default here) writes the bleeped copy as FLAC: Opus encoding
of hours of audio takes minutes on a shared machine and weighs the same in memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

RATE = 16000
SPEECH_EVERY_S = 120
SENTENCES = (
    "Good morning, roadside assistance, how can I help you?",
    "My car has broken down on the motorway near Lyon.",
)


def build_call(path: Path, minutes: float) -> Path:
    """A stereo FLAC of sparse speech, written block by block (never whole in memory)."""
    from analytics.audio import encode_blocks
    from analytics.synth import _speak

    voices = [
        _speak(text, voice, 150, RATE)
        for text, voice in zip(SENTENCES, ("en+m3", "en+f3"), strict=True)
    ]
    total = int(minutes * 60 * RATE)

    def blocks() -> Iterator[np.ndarray]:
        for start in range(0, total, SPEECH_EVERY_S * RATE):
            block = np.zeros((2, min(SPEECH_EVERY_S * RATE, total - start)), np.float32)
            turn = (start // (SPEECH_EVERY_S * RATE)) % 2
            voice = voices[turn][: block.shape[1] - RATE]
            block[turn, RATE : RATE + len(voice)] = voice
            yield block

    return encode_blocks(blocks(), path)


def _spans(duration_s: float) -> list[tuple[float, float]]:
    """One bleep per spoken sentence (as if each held a name)."""
    return [(t + 1.5, t + 2.5) for t in range(0, int(duration_s), SPEECH_EVERY_S)]


def run_blocks(path: Path, out: Path, whisper: bool) -> dict[str, float]:
    from analytics import audio

    heard = audio.listen(path, "agent_left")
    figures = {"speech_pieces": len(heard.speech)}
    if whisper:
        from analytics.transcribe import Transcriber

        transcriber = Transcriber("tiny.en", cache_dir=out.parent / "models", batch_size=8)
        raw = transcriber.transcribe_speech("bench", heard.speech, heard.duration_s, "en")
        figures["segments"] = len(raw.segments)
    heard.loudness([("agent", 0.0, 10.0), ("customer", 120.0, 130.0)])
    audio.bleep(path, _spans(heard.duration_s), out)
    return figures


def run_mono(path: Path) -> dict[str, float]:
    """A mono reading of the call and the separation of its voices (no bleep, no ASR)."""
    from analytics import audio
    from analytics.diarize import Diarizer

    heard = audio.listen(path, "mono")
    voices = Diarizer().diarize_clips(heard.speech, heard.activity.of("unknown"), heard.duration_s)
    return {"speech_pieces": len(heard.speech), "voices": voices.speakers}


def run_whole(path: Path, out: Path) -> dict[str, float]:
    """The approach before block-wise processing (whole-call arrays at every step)."""
    from analytics import audio
    from analytics.transcribe import pack_speech

    decoded = audio.decode(path)
    channels = audio.speaker_channels(decoded, "agent_left")
    audio.speech_activity(channels, duration_s=decoded.duration_s)
    packed = pack_speech(channels)
    audio.segment_loudness(channels, [("agent", 0.0, 10.0), ("customer", 120.0, 130.0)])
    samples = decoded.samples.copy()  # the old bleep: a whole copy, toned, encoded whole
    for start, end in _spans(decoded.duration_s):
        samples[:, int((start - 0.25) * RATE) : int((end + 0.25) * RATE)] = 0.2
    audio.encode(samples, out)
    return {"speech_pieces": len(packed.pieces)}


def child(mode: str, path: Path, out: Path, whisper: bool) -> None:
    started = time.perf_counter()
    if mode == "mono":
        figures = run_mono(path)
    else:
        figures = run_whole(path, out) if mode == "whole" else run_blocks(path, out, whisper)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def measure(mode: str, path: Path, out: Path, whisper: bool) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(out)]
        + (["--whisper"] if whisper else []),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.returncode, "stderr": done.stderr.strip().splitlines()[-1:]}  # type: ignore[dict-item]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60, 120])
    parser.add_argument("--whisper", action="store_true")
    parser.add_argument("--max-whole-min", type=float, default=60)
    parser.add_argument("--redacted", choices=["ogg", "flac"], default="flac")
    parser.add_argument("--mono", action="store_true", help="add the mono separation run")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "OUT"))
    args = parser.parse_args()
    if args.child:
        mode, path, out = args.child
        child(mode, Path(path), Path(out), args.whisper)
        return
    print(f"{'call':>8} {'flac MB':>8} {'mode':>7} {'peak RSS MB':>12} {'MB per h':>9} {'s':>7}")
    with tempfile.TemporaryDirectory(prefix="callqa-memory-") as tmp:
        for minutes in args.minutes:
            path = build_call(Path(tmp) / f"call-{minutes:g}min.flac", minutes)
            size_mb = path.stat().st_size / 1e6
            peaks = {}
            for mode in ("blocks", "whole", *(("mono",) if args.mono else ())):
                if mode == "whole" and minutes > args.max_whole_min:
                    continue
                out = Path(tmp) / f"out-{mode}.{args.redacted}"
                figures = measure(mode, path, out, args.whisper and mode == "blocks")
                if "error" in figures:
                    print(f"{minutes:>6g} m {size_mb:>8.2f} {mode:>7} failed: {figures}")
                    continue
                peaks[mode] = peak = figures["peak_rss_mb"]
                per_hour = peak / (minutes / 60)
                print(
                    f"{minutes:>6g} m {size_mb:>8.2f} {mode:>7} {peak:>12.0f} "
                    f"{per_hour:>9.0f} {figures['seconds']:>7.1f}"
                )
            if "whole" in peaks and "blocks" in peaks:
                print(f"{'':>8} whole / blocks peak: {peaks['whole'] / peaks['blocks']:.1f}x")
            if "mono" in peaks:
                print(
                    f"{'':>8} mono separation / blocks peak: {peaks['mono'] / peaks['blocks']:.2f}x"
                )
            path.unlink()


if __name__ == "__main__":
    main()
