"""Speaker separation of mono calls: DER, agent side and speed.

Run: ``PYTHONPATH=$PWD nice -n 10 python benchmarks/diarization.py``. Each call of
``tests/diarize_eval.py`` (synthetic stereo calls spoken by espeak-ng, a voice per
party, English and French, several voices and speeds, scripted turns with overlaps, the
agent or the customer speaking first; one one-voice voicemail; the real stereo clip of
``../shared/audio``) is mixed down to mono and goes through the mono path of the pipeline
(:func:`analytics.pipeline.analyse_call`: Silero VAD block by block, separation, Whisper
base, Presidio, the agent side from the redacted text). Printed per call and over all:

- **DER (voices)**: pyannote.metrics' diarization error rate of the separation against
  the channel truth (no collar, overlapped speech scored), voices matched optimally;
- **DER (named)**: the same for the final ``agent``/``customer`` speech activity
  (``unknown`` is scored as missed speech): what the quality figures see;
- **agent side**: whether the voice named ``agent`` is the true agent (``unknown`` when
  no segment was named: counted as not right). Counted apart for the calls the cues were
  tuned on, a first held-out set (looked at once, after its first run), and a second
  held-out set never looked at. The real clip is two read sentences, not a call: it
  has no agent and counts for DER only (``n/a``);
- **seconds per minute** of audio for the separation, for Whisper's transcription of the
  same audio in the same run, their ratio, and the whole mono path.

Baseline in the same run: "everything is one speaker" (today's mono behaviour, scored
as voices), so DER reads against doing nothing. Anchor: pyannote's published DER on
two-party telephone speech (CALLHOME) is 26.7%.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from diarize_eval import (  # noqa: E402
    CASES,
    HELD_OUT,
    HELD_OUT_2,
    MORE_CASES,
    ONE_VOICE,
    MonoCall,
    agent_voice_of_truth,
    der,
    make_case,
    real_call,
)
from factories import NOW  # noqa: E402

from analytics import audio  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.diarize import Diarization, Diarizer  # noqa: E402
from analytics.models import Call  # noqa: E402
from analytics.pipeline import analyse_call, build_engines  # noqa: E402
from analytics.quality import intersect, merge  # noqa: E402


def side_verdict(call: MonoCall, segments: list) -> str:  # type: ignore[type-arg]
    """ "yes" when the segments named ``agent`` overlap the true agent more than the true
    customer, "NO" when the reverse, "unknown" when nothing was named agent."""
    agent = merge((s.start, s.end) for s in segments if s.speaker == "agent")
    if not agent:
        return "unknown"
    on_agent = sum(e - s for s, e in intersect(agent, merge(call.truth.of("agent"))))
    on_customer = sum(e - s for s, e in intersect(agent, merge(call.truth.of("customer"))))
    return "yes" if on_agent > on_customer else "NO"


class _Recording(Diarizer):
    """The pipeline's diarizer, keeping the last separation for scoring."""

    last: Diarization | None = None

    def diarize_clips(self, clips, speech, duration_s):  # type: ignore[no-untyped-def]
        self.last = super().diarize_clips(clips, speech, duration_s)
        return self.last


def main() -> None:
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = dataclasses.replace(load_settings(folder / "home", env={}), redacted_audio=False)
        print("building engines (Whisper base, Presidio) ...", flush=True)
        engines = build_engines(settings, 1)
        assert engines.diarizer is not None
        recorder = _Recording(engines.diarizer.config)
        engines.diarizer = recorder
        cases = (*CASES, *MORE_CASES, ONE_VOICE, *HELD_OUT, *HELD_OUT_2)
        print(f"speaking {len(cases)} synthetic calls (espeak-ng) ...", flush=True)
        calls = [make_case(case, folder) for case in cases] + [real_call(folder)]
        group = {case.name: "held out 1, seen once" for case in HELD_OUT}
        group |= {case.name: "held out 2, unseen" for case in HELD_OUT_2}
        tally: dict[str, Counter[str]] = {
            "tuned": Counter(),
            "held out 1, seen once": Counter(),
            "held out 2, unseen": Counter(),
        }
        header = (
            f"{'call':22s} {'min':>5s} {'voices':>6s} {'DER one-spk':>11s} {'DER voices':>10s} "
            f"{'DER named':>9s} {'unknown':>7s} {'agent':>7s} {'s/min sep':>9s} "
            f"{'s/min asr':>9s} {'s/min all':>9s}"
        )
        print(header)
        sums = dict.fromkeys(("ref", "base", "voices", "named", "audio", "sep", "asr", "all"), 0.0)
        for call in calls:
            duration = call.truth.duration_s
            mark = time.perf_counter()
            analysis = analyse_call(_call(call), engines, settings)
            all_s = time.perf_counter() - mark
            voices = recorder.last
            assert voices is not None and analysis.activity is not None
            sep_s, asr_s = analysis.timings_s["diarize"], analysis.timings_s["transcribe"]
            speech = audio.speech_activity({"unknown": call.samples}, duration_s=duration)
            base, parts = der(call.truth.intervals, {0: speech.of("unknown")}, duration)
            voices_der, _ = der(call.truth.intervals, voices.intervals(), duration)
            segments = list(analysis.transcript.segments)
            named = {spk: analysis.activity.of(spk) for spk in ("agent", "customer")}
            named_der, _ = der(call.truth.intervals, named, duration)
            unknown = sum(s.end - s.start for s in segments if s.speaker == "unknown")
            spoken = sum(s.end - s.start for s in segments) or 1.0
            verdict = side_verdict(call, segments)
            if call.name == "real-stereo-clip":
                # Two read sentences, not a call: no agent to find (scored for DER only).
                verdict = f"n/a:{verdict}"
            else:
                tally[group.get(call.name, "tuned")][verdict] += 1
            ref = parts["total"]
            for key, value in (
                ("ref", ref),
                ("base", base * ref),
                ("voices", voices_der * ref),
                ("named", named_der * ref),
                ("audio", duration),
                ("sep", sep_s),
                ("asr", asr_s),
                ("all", all_s),
            ):
                sums[key] += value
            truth_voice = agent_voice_of_truth(call.truth, voices.intervals())
            print(
                f"{call.name:22s} {duration / 60:5.2f} {voices.speakers:6d} {100 * base:10.1f}% "
                f"{100 * voices_der:9.1f}% {100 * named_der:8.1f}% {100 * unknown / spoken:6.0f}% "
                f"{verdict:>7s} {60 * sep_s / duration:9.2f} {60 * asr_s / duration:9.2f} "
                f"{60 * all_s / duration:9.2f}"
                f"   (separation {voices.separation:.2f}, true agent voice {truth_voice})",
                flush=True,
            )
        minutes = sums["audio"] / 60
        n = len(calls)
        every = tally["tuned"] + tally["held out 1, seen once"] + tally["held out 2, unseen"]
        right, scored = every["yes"], sum(every.values())
        print("-" * len(header))
        print(
            f"{'all calls':22s} {minutes:5.2f} {'':6s} {100 * sums['base'] / sums['ref']:10.1f}% "
            f"{100 * sums['voices'] / sums['ref']:9.1f}% {100 * sums['named'] / sums['ref']:8.1f}% "
            f"{'':7s} {right:3d}/{scored:<3d} {sums['sep'] / minutes:9.2f} {sums['asr'] / minutes:9.2f} "
            f"{sums['all'] / minutes:9.2f}"
        )
        print(
            f"DER over all {n} calls (time-weighted): separation "
            f"{100 * sums['voices'] / sums['ref']:.1f}%, named agent/customer "
            f"{100 * sums['named'] / sums['ref']:.1f}% (one-speaker baseline "
            f"{100 * sums['base'] / sums['ref']:.1f}%; goal <= 15%; pyannote on CALLHOME 26.7%)"
        )
        for name, counts in (*tally.items(), ("all", every)):
            total = sum(counts.values())
            print(
                f"agent side ({name} calls): right on {counts['yes']}/{total} = "
                f"{100 * counts['yes'] / total:.0f}% (goal >= 95%); left unknown on "
                f"{counts['unknown']}, wrong on {counts['NO']}"
            )
        print(
            f"speed: separation {sums['sep'] / minutes:.2f} s per minute of audio, Whisper "
            f"transcription of the same audio {sums['asr'] / minutes:.2f} s per minute "
            f"(separation / transcription = {sums['sep'] / sums['asr']:.2f}); whole mono path "
            f"{sums['all'] / minutes:.2f} s per minute"
        )


def _call(call: MonoCall) -> Call:
    return Call(
        call_id=call.name,
        started_at=NOW,
        audio_path=call.path,
        audio_sha256=call.name,
        duration_s=call.truth.duration_s,
        channels=1,
        sample_rate=16000,
        channel_layout="mono",
        language=call.language,
    )


if __name__ == "__main__":
    main()
