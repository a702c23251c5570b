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
  tuned on, a first held-out set (looked at once, after its first run), a second
  held-out set never looked at, and the blind call scripts of ``benchmarks/data/blind/``
  (written by a helper who never saw the code; their own DER and speed rows too). The real clip is two read sentences, not a call: it
  has no agent and counts for DER only (``n/a``);
- **seconds per minute** of audio for the separation, for Whisper's transcription of the
  same audio in the same run, their ratio, and the whole mono path.

**With the agent's voiceprint** (:mod:`analytics.voiceprint`): each call's agent id is
its agent's espeak-ng voice, so an agent's calls share a voice. Every agent voice is
enrolled from two stereo calls of its own, spoken from the side classifier's training
scripts (``analytics/data/diarize/training/``, none of them scored here), with their
agent channel as the agent's voice; the scored mono calls never enrol. The agent side is
printed without and with the voiceprint, for the benchmark and the blind scripts, and
the distribution of the voice contrast (true agent voice minus the other, nats/dim).

``--cache DIR`` keeps each call's separation and redacted transcript and reuses them,
so a later run only re-names the voices (its speeds are the first run's); ``--shard K/N``
hears every N-th call, for parallel runs over one cache; ``--blind-only``.

Baseline in the same run: "everything is one speaker" (today's mono behaviour, scored
as voices), so DER reads against doing nothing. Anchor: pyannote's published DER on
two-party telephone speech (CALLHOME) is 26.7%.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import pickle
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from diarize_eval import (  # noqa: E402
    CASES,
    HELD_OUT,
    HELD_OUT_2,
    MORE_CASES,
    ONE_VOICE,
    A,
    C,
    MonoCall,
    MonoCase,
    agent_voice_of_truth,
    der,
    make_case,
    real_call,
)
from factories import NOW  # noqa: E402

from analytics import audio, diarize  # noqa: E402
from analytics.config import load_settings  # noqa: E402
from analytics.diarize import Diarization, DiarizeConfig, Diarizer, VoiceTag  # noqa: E402
from analytics.models import Call, RedactedSegment, RedactedTranscript, SpeechActivity  # noqa: E402
from analytics.pipeline import analyse_call, build_engines  # noqa: E402
from analytics.quality import intersect, merge  # noqa: E402
from analytics.synth import Turn  # noqa: E402
from analytics.voiceprint import VoiceprintConfig  # noqa: E402


def side_verdict(truth: SpeechActivity, segments: Sequence[RedactedSegment]) -> str:
    """ "yes" when the segments named ``agent`` overlap the true agent more than the true
    customer, "NO" when the reverse, "unknown" when nothing was named agent."""
    agent = merge((s.start, s.end) for s in segments if s.speaker == "agent")
    if not agent:
        return "unknown"
    on_agent = sum(e - s for s, e in intersect(agent, merge(truth.of("agent"))))
    on_customer = sum(e - s for s, e in intersect(agent, merge(truth.of("customer"))))
    return "yes" if on_agent > on_customer else "NO"


class _Recording(Diarizer):
    """The pipeline's diarizer, keeping the last separation for scoring."""

    last: Diarization | None = None

    def diarize_clips(self, clips, speech, duration_s):  # type: ignore[no-untyped-def]
        self.last = super().diarize_clips(clips, speech, duration_s)
        return self.last


@dataclasses.dataclass(frozen=True)
class Heard:
    """One call through the mono path up to the naming of its voices (what is cached)."""

    name: str
    truth: SpeechActivity
    base_der: float
    ref_s: float
    diarization: Diarization
    transcript: RedactedTranscript  # redacted, every segment still "unknown"
    tags: tuple[VoiceTag, ...]
    sep_s: float
    asr_s: float
    all_s: float


def hear(call: MonoCall, engines: Any, settings: Any, recorder: _Recording) -> Heard:
    """The mono path of the pipeline on ``call``, keeping what the naming step is given."""
    seen: dict[str, Any] = {}
    name_voices = diarize.name_voices

    def keep(transcript, tags, diarization, *args):  # type: ignore[no-untyped-def]
        seen.update(transcript=transcript, tags=tuple(tags))
        return name_voices(transcript, tags, diarization, *args)

    duration = call.truth.duration_s
    diarize.name_voices = keep  # type: ignore[assignment]
    try:
        mark = time.perf_counter()
        analysis = analyse_call(_call(call), engines, settings)
        all_s = time.perf_counter() - mark
    finally:
        diarize.name_voices = name_voices  # type: ignore[assignment]
    assert recorder.last is not None and seen
    speech = audio.speech_activity({"unknown": call.samples}, duration_s=duration)
    base, parts = der(call.truth.intervals, {0: speech.of("unknown")}, duration)
    return Heard(
        call.name,
        call.truth,
        base,
        parts["total"],
        recorder.last,
        seen["transcript"],
        seen["tags"],
        analysis.timings_s["diarize"],
        analysis.timings_s["transcribe"],
        all_s,
    )


def _cache_file(cache: Path, name: str, what: object) -> Path:
    digest = hashlib.sha256(repr(what).encode()).hexdigest()[:12]
    return cache / f"{name}-{digest}.pkl"


def heard_calls(
    cases: Sequence[MonoCase], folder: Path, cache: Path | None, engines_of: Any
) -> list[Heard]:
    """Each case (and the real clip) heard, from ``cache`` when it was heard before."""
    out: list[Heard] = []
    for case in (*cases, None):
        name = case.name if case else "real-stereo-clip"
        file = _cache_file(cache, name, case) if cache else None
        if file is not None and file.exists():
            out.append(pickle.loads(file.read_bytes()))
            continue
        engines, settings, recorder = engines_of()
        call = make_case(case, folder) if case else real_call(folder)
        heard = hear(call, engines, settings, recorder)
        if file is not None:
            file.write_bytes(pickle.dumps(heard))
        out.append(heard)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep each call's separation and redacted transcript here and reuse them on "
        "later runs (only the naming of the voices is rerun; speeds are the first run's)",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        help="K/N: hear only every N-th call from the K-th (runs in parallel over one "
        "--cache; a last run without --shard reports them all)",
    )
    parser.add_argument("--blind-only", action="store_true", help="only the blind scripts")
    args = parser.parse_args()
    shard, shards = (int(x) for x in args.shard.split("/"))
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = dataclasses.replace(load_settings(folder / "home", env={}), redacted_audio=False)
        built: list[tuple[Any, Any, _Recording]] = []

        def engines_of() -> tuple[Any, Any, _Recording]:
            if not built:
                print("building engines (Whisper base, Presidio) ...", flush=True)
                engines = build_engines(settings, 1)
                assert engines.diarizer is not None
                engines.diarizer = _Recording(engines.diarizer.config)
                built.append((engines, settings, engines.diarizer))
            return built[0]

        blind = blind_cases()
        cases = (*CASES, *MORE_CASES, ONE_VOICE, *HELD_OUT, *HELD_OUT_2, *blind)
        if args.blind_only:
            cases = blind
        print(f"{len(cases)} synthetic calls (espeak-ng) and the real clip ...", flush=True)
        heard = heard_calls(cases[shard::shards], folder, args.cache, engines_of)
        by_name = {case.name: case for case in cases}
        voices = voice_stats_of(heard, by_name, folder, args.cache)
        prints = enrol(sorted({agent_of(case) for case in cases}), folder, args.cache)
        report(heard, blind, voices, prints, by_name)


GROUPS = ("tuned", "held out 1, seen once", "held out 2, unseen", "blind")


VOICEPRINT = VoiceprintConfig(enabled=True)


def agent_of(case: MonoCase) -> tuple[str, str]:
    """The agent id of a case: its language and its agent's espeak-ng voice."""
    return case.language, case.voices[0]


def training_calls(language: str) -> list[tuple[Turn, ...]]:
    """The side classifier's training scripts of ``language`` (names filled in)."""
    text = (ROOT / "analytics" / "data" / "diarize" / "training" / f"{language}.txt").read_text(
        encoding="utf-8"
    )
    calls: list[tuple[Turn, ...]] = []
    for block in text.split("\n\n"):
        turns = []
        for line in block.splitlines():
            if line[:2] in ("A:", "C:"):
                spoken = line[2:].strip().replace("<PERSON>", "Morgan")
                spoken = spoken.replace("<ORGANIZATION>", "Acme").replace("<LOCATION>", "Lyon")
                turns.append(Turn(A if line[0] == "A" else C, spoken))
        if len(turns) >= 4:
            calls.append(tuple(turns))
    return calls


ENROL_CALLS = 2
ENROL_CUSTOMER = {"en": ("en+m6", "en+f5"), "fr": ("fr+m6", "fr+f5")}


def enrol(agents: Sequence[tuple[str, str]], folder: Path, cache: Path | None) -> dict:
    """Each agent's voiceprint from ENROL_CALLS stereo calls of their own (agent channel)."""
    from analytics.synth import synthesize_call
    from analytics.voiceprint import channel_stats, pool

    prints: dict[tuple[str, str], Any] = {}
    for language, voice in agents:
        file = _cache_file(cache, f"enrol-{language}-{voice}", ENROL_CALLS) if cache else None
        if file is not None and file.exists():
            prints[(language, voice)] = pickle.loads(file.read_bytes())
            continue
        scripts = training_calls(language)
        start = int(hashlib.sha256(voice.encode()).hexdigest(), 16) % len(scripts)
        parts = []
        for k in range(ENROL_CALLS):
            turns = scripts[(start + 7 * k) % len(scripts)]
            customer = next(v for v in ENROL_CUSTOMER[language] if v != voice)
            path = folder / f"enrol-{voice}-{k}.wav"
            synthesize_call(turns, path, voices=(voice, customer), language=language)
            heard = audio.listen(path, "agent_left")
            stats = channel_stats(heard.speech, "agent", VOICEPRINT)
            heard.close()
            if stats is not None:
                parts.append(stats)
        prints[(language, voice)] = pool(parts)
        if file is not None:
            file.write_bytes(pickle.dumps(prints[(language, voice)]))
    return prints


def voice_stats_of(
    heard: Sequence[Heard], cases: dict[str, MonoCase], folder: Path, cache: Path | None
) -> dict[str, dict]:
    """Each scored call's separated voices as stats (the pipeline's stats_by_voice)."""
    from analytics.voiceprint import stats_by_voice

    out: dict[str, dict] = {}
    for h in heard:
        case = cases.get(h.name)
        if case is None:
            continue
        file = _cache_file(cache, f"{h.name}-voices", case) if cache else None
        if file is not None and file.exists():
            out[h.name] = pickle.loads(file.read_bytes())
            continue
        call = make_case(case, folder)
        listened = audio.listen(call.path, "mono")
        out[h.name] = stats_by_voice(listened.speech, h.diarization, VOICEPRINT)
        listened.close()
        if file is not None:
            file.write_bytes(pickle.dumps(out[h.name]))
    return out


def mono_enrolled(
    heard: Sequence[Heard], voices: dict[str, dict], cases: dict[str, MonoCase], config: Any
) -> dict[str, tuple[tuple[str, str], Any, bool]]:
    """The scored calls the pipeline would enrol (their words name the agent with P >=
    enrol_confidence on a clear split): call -> (agent, voice stats, named right)."""
    out = {}
    for h in heard:
        case = cases.get(h.name)
        own = voices.get(h.name, {})
        if case is None or len(own) != 2:
            continue
        side = diarize.agent_side(h.transcript, h.tags)
        sure = side.label is not None and side.text_scores.get(side.label, 0.0)
        if (
            side.label in own
            and sure >= VOICEPRINT.enrol_confidence
            and h.diarization.separation >= config.min_named_separation
        ):
            truth = agent_voice_of_truth(h.truth, h.diarization.intervals())
            out[h.name] = (agent_of(case), own[side.label], side.label == truth)
    return out


def report(
    heard: Sequence[Heard],
    blind: Sequence[MonoCase],
    voices: dict[str, dict],
    prints: dict,
    cases: dict[str, MonoCase],
) -> None:
    from analytics.voiceprint import contrast, pool, voice_logits

    config, quality_config = DiarizeConfig(), None
    with_print: dict[str, Counter[str]] = {name: Counter() for name in GROUPS}
    mono_print: dict[str, Counter[str]] = {name: Counter() for name in GROUPS}
    enrolled = mono_enrolled(heard, voices, cases, config)
    contrasts: dict[str, list[float]] = {"benchmark": [], "blind": []}
    group = {case.name: GROUPS[1] for case in HELD_OUT}
    group |= {case.name: GROUPS[2] for case in HELD_OUT_2}
    group |= {case.name: GROUPS[3] for case in blind}
    tally: dict[str, Counter[str]] = {name: Counter() for name in GROUPS}
    sums: dict[str, dict[str, float]] = {}
    header = (
        f"{'call':28s} {'min':>5s} {'voices':>6s} {'DER one-spk':>11s} {'DER voices':>10s} "
        f"{'DER named':>9s} {'unknown':>7s} {'agent':>7s} {'s/min sep':>9s} "
        f"{'s/min asr':>9s} {'s/min all':>9s}"
    )
    print(header)
    keys = ("ref", "base", "voices", "named", "audio", "sep", "asr", "all", "named_vp")
    for h in heard:
        duration = h.truth.duration_s
        named_transcript, activity = diarize.label_speakers(
            h.transcript, h.tags, h.diarization, config, quality_config
        )
        voices_der, _ = der(h.truth.intervals, h.diarization.intervals(), duration)
        named = {spk: activity.of(spk) for spk in ("agent", "customer")}
        named_der, _ = der(h.truth.intervals, named, duration)
        segments = named_transcript.segments
        unknown = sum(s.end - s.start for s in segments if s.speaker == "unknown")
        spoken = sum(s.end - s.start for s in segments) or 1.0
        verdict = side_verdict(h.truth, segments)
        where = "all" if group.get(h.name) != GROUPS[3] else GROUPS[3]
        if h.name == "real-stereo-clip":
            # Two read sentences, not a call: no agent to find (scored for DER only).
            verdict = f"n/a:{verdict}"
        else:
            tally[group.get(h.name, GROUPS[0])][verdict] += 1
        values = (
            h.ref_s,
            h.base_der * h.ref_s,
            voices_der * h.ref_s,
            named_der * h.ref_s,
            duration,
            h.sep_s,
            h.asr_s,
            h.all_s,
            named_der * h.ref_s,  # replaced below by the voiceprint's, when there is one
        )
        total = sums.setdefault(where, dict.fromkeys(keys, 0.0))
        for key, value in zip(keys, values, strict=True):
            total[key] += value
        side = diarize.agent_side(h.transcript, h.tags)
        truth_voice = agent_voice_of_truth(h.truth, h.diarization.intervals())
        vp_note = ""
        case = cases.get(h.name)
        if case is not None:
            print_ = prints.get(agent_of(case))
            logits = voice_logits(voices.get(h.name, {}), print_, VOICEPRINT)
            vp_transcript, vp_activity, vp_side = diarize.name_voices(
                h.transcript, h.tags, h.diarization, config, quality_config, logits
            )
            others = [v for n, (a, v, _) in enrolled.items() if a == agent_of(case) and n != h.name]
            mono_logits = voice_logits(voices.get(h.name, {}), pool(others), VOICEPRINT)
            mono_transcript, _, _ = diarize.name_voices(
                h.transcript, h.tags, h.diarization, config, quality_config, mono_logits
            )
            mono_verdict = side_verdict(h.truth, mono_transcript.segments)
            mono_print[group.get(h.name, GROUPS[0])][mono_verdict] += 1
            vp_named = {spk: vp_activity.of(spk) for spk in ("agent", "customer")}
            vp_der, _ = der(h.truth.intervals, vp_named, duration)
            total["named_vp"] += (vp_der - named_der) * h.ref_s
            vp_verdict = side_verdict(h.truth, vp_transcript.segments)
            with_print[group.get(h.name, GROUPS[0])][vp_verdict] += 1
            c = contrast(voices.get(h.name, {}), print_) if print_ is not None else {}
            if truth_voice in c:
                contrasts["blind" if where == GROUPS[3] else "benchmark"].append(c[truth_voice])
            vp_note = (
                f", with voiceprint {vp_verdict} (voice log-odds "
                f"{ {k: round(v, 2) for k, v in logits.items()} }, P {dict(vp_side.scores)})"
            )
        print(
            f"{h.name:28s} {duration / 60:5.2f} {h.diarization.speakers:6d} "
            f"{100 * h.base_der:10.1f}% {100 * voices_der:9.1f}% {100 * named_der:8.1f}% "
            f"{100 * unknown / spoken:6.0f}% {verdict:>7s} {60 * h.sep_s / duration:9.2f} "
            f"{60 * h.asr_s / duration:9.2f} {60 * h.all_s / duration:9.2f}"
            f"   (separation {h.diarization.separation:.2f}, true agent voice {truth_voice}, "
            f"P(agent) by voice {dict(side.scores)}{vp_note})",
            flush=True,
        )
    print("-" * len(header))
    for where, label in (("all", "the benchmark's calls"), (GROUPS[3], "the blind scripts")):
        if where not in sums:
            continue
        total = sums[where]
        minutes = total["audio"] / 60
        print(
            f"DER over {label} (time-weighted, {minutes:.1f} min): separation "
            f"{100 * total['voices'] / total['ref']:.1f}%, named agent/customer "
            f"{100 * total['named'] / total['ref']:.1f}%, named with the voiceprint "
            f"{100 * total['named_vp'] / total['ref']:.1f}% (one-speaker baseline "
            f"{100 * total['base'] / total['ref']:.1f}%; goal <= 15%; pyannote on CALLHOME "
            "26.7%)"
        )
        print(
            f"speed over {label}: separation {total['sep'] / minutes:.2f} s per minute of "
            f"audio, Whisper transcription of the same audio {total['asr'] / minutes:.2f} s "
            f"per minute (separation / transcription = {total['sep'] / total['asr']:.2f}); "
            f"whole mono path {total['all'] / minutes:.2f} s per minute"
        )
    wrong = sum(1 for _, _, right in enrolled.values() if not right)
    print(
        f"mono enrolment: {len(enrolled)} scored calls named by their words with P >= "
        f"{VOICEPRINT.enrol_confidence} on a clear split ({wrong} of them the wrong voice)"
    )
    for label, tallies in (
        ("words only", tally),
        ("with the voiceprint", with_print),
        ("with a voiceprint from the agent's other mono calls only", mono_print),
    ):
        every = tallies[GROUPS[0]] + tallies[GROUPS[1]] + tallies[GROUPS[2]]
        for name, counts in (*tallies.items(), ("benchmark (tuned + held out)", every)):
            n = sum(counts.values())
            if not n:
                continue
            print(
                f"agent side, {label} ({name} calls): right on {counts['yes']}/{n} = "
                f"{100 * counts['yes'] / n:.0f}% (goal >= 95%); left unknown on "
                f"{counts['unknown']}, wrong on {counts['NO']}"
            )
    for name, values in contrasts.items():
        if values:
            v = np.array(values)
            print(
                f"voice contrast of the true agent voice ({name}, {len(v)} two-voice calls; "
                f"> 0 points at the agent): min {v.min():.2f}, median {np.median(v):.2f}, "
                f"max {v.max():.2f}; below 0 on {(v < 0).sum()}"
            )


BLIND_DIR = ROOT / "benchmarks" / "data" / "blind"
# Voice pairs (agent, customer) and speeds given to the blind calls in turn.
BLIND_VOICES = {
    "en": (
        ("en+f3", "en+m1"),
        ("en+m4", "en-us+f2"),
        ("en+m2", "en+m7"),
        ("en+f4", "en+f1"),
        ("en-gb+m5", "en+f5"),
        ("en+m3", "en+m6"),
    ),
    "fr": (
        ("fr+f2", "fr+m4"),
        ("fr+m1", "fr+f3"),
        ("fr+m7", "fr+m3"),
        ("fr+f4", "fr+f1"),
        ("fr+m2", "fr+f5"),
        ("fr+f3", "fr+m6"),
    ),
}
BLIND_SPEEDS = (160, 175, 150)


def blind_cases(folder: Path = BLIND_DIR) -> tuple[MonoCase, ...]:
    """The blind call scripts (``benchmarks/data/blind/``, see its README) as cases."""
    cases: list[MonoCase] = []
    for lang in ("en", "fr"):
        path = folder / f"calls_{lang}.jsonl"
        if not path.exists():
            continue
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        for i, line in enumerate(lines):
            call = json.loads(line)
            turns = tuple(
                Turn(A if t["speaker"] == "agent" else C, t["text"]) for t in call["turns"]
            )
            voices = BLIND_VOICES[lang][i % len(BLIND_VOICES[lang])]
            speed = BLIND_SPEEDS[i % len(BLIND_SPEEDS)]
            cases.append(MonoCase(f"blind-{call['id']}", turns, voices, lang, speed))
    return tuple(cases)


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
