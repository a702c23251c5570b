"""Transcription accuracy and speed: the pipeline's packed path against plain faster-whisper.

For each set, the same file is transcribed twice with the packaged Whisper base model:

- ``packed``: what ``analytics.pipeline.analyse_call`` does: :func:`analytics.audio.listen`
  (block-wise decode, Silero VAD, bleed suppression), then
  :meth:`Transcriber.transcribe_speech` on the speech clips; language detected.
- ``baseline``: plain faster-whisper on each channel of the decoded file
  (``WhisperModel.transcribe(channel, vad_filter=True)``, its defaults: beam 5,
  conditioning on previous text, language detected per channel).

Both share one loaded model (same threads). It prints, per set, the word error rate
(jiwer, on lower-cased text without punctuation) of each speaker's text against the known
script, and seconds of processing per minute of audio, with the packed/baseline ratios::

    nice -n 10 python benchmarks/transcription.py [--repeat N]

Sets: the real clips of ``../shared/audio`` (jfk, stereo_diarization per channel,
multilingual English then German) and stereo calls spoken by espeak-ng (English, French,
a French outbound call where the customer answers first, and the same call mixed to mono).
The multilingual clip's reference is the MIT licence's English text and the German
translation as read (reconstructed by ear; the same reference scores both paths).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jiwer

from analytics.audio import decode, listen, speaker_channels
from analytics.models import ChannelLayout
from analytics.synth import Turn, synthesize_call

# The outbound call (the customer answers first, "Allô oui ?") is the mono-call
# benchmark's own script: one text for both measurements.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from diarize_eval import FRENCH_OUTBOUND

from analytics.transcribe import Transcriber

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"

A, C = "agent", "customer"
MIT_EN = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of the "
    "software and associated documentation files, to deal in the software without "
    "restriction, including without limitation the rights to use, copy, modify, merge, "
    "publish, distribute, sublicense, and/or sell copies of the software, and to permit "
    "persons to whom the software is furnished to do so, subject to the following "
    "conditions. The above copyright notice and this permission notice shall be included "
    "in all copies or substantial portions of the software."
)
MIT_DE = (
    "Jedem, der diese Software und die dazugehörigen Dokumentationsdateien erhält, wird "
    "hiermit unentgeltlich die Genehmigung erteilt, mit der Software uneingeschränkt zu "
    "verfahren. Dies umfasst insbesondere das Recht, die Software zu verwenden, zu "
    "vervielfältigen, zu modifizieren, zusammenzufügen, zu veröffentlichen, zu verteilen, "
    "unterzulizenzieren und/oder Kopien der Software zu verkaufen, und diese Rechte "
    "unter den folgenden Bedingungen den Personen, die die Software erhalten, zu verleihen. "
    "Der obige Urheberrechtsvermerk und dieser Genehmigungsvermerk müssen in allen Kopien "
    "oder wesentlichen Teilen der Software enthalten sein."
)
ENGLISH = (
    Turn(A, "Good morning, roadside assistance, my name is Peter, how can I help you?"),
    Turn(C, "Hello, my car has broken down and the engine will not start."),
    Turn(A, "I am sorry to hear that. Are you in a safe place right now?"),
    Turn(C, "Yes, I am parked in a car park with my lights on.", gap=1.5),
    Turn(A, "Can you give me the registration of the car please?"),
    Turn(C, "It is a blue estate, I think the plate starts with the letters k and l."),
    Turn(A, "Thank you. A tow truck will be with you within forty minutes.", gap=2.0),
    Turn(C, "That is great, thank you very much."),
)
FRENCH = (
    Turn(A, "Bonjour, assistance routière, je m'appelle Claire, que puis-je faire pour vous ?"),
    Turn(C, "Bonjour, ma voiture est en panne sur l'autoroute près de Niort."),
    Turn(A, "Je suis désolée. Êtes-vous en sécurité derrière la glissière ?"),
    Turn(C, "Oui, nous sommes derrière la glissière avec les enfants."),
    Turn(A, "Très bien. Une dépanneuse arrive dans trente minutes."),
    Turn(C, "Merci beaucoup madame."),
    Turn(A, "Je vous en prie, bonne journée, au revoir."),
)


@dataclass(frozen=True)
class Case:
    """A file to transcribe and the reference text of each speaker (or ``unknown``)."""

    name: str
    path: Path
    layout: ChannelLayout
    references: dict[str, str]


def normalise(text: str) -> str:
    """Lower case, accents kept, punctuation and apostrophes as spaces."""
    text = unicodedata.normalize("NFC", text.lower())
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def wer(references: dict[str, str], hypotheses: dict[str, str]) -> float:
    """Word error rate over every speaker's words (jiwer's aggregate)."""
    speakers = sorted(references)
    refs = [normalise(references[s]) for s in speakers]
    hyps = [normalise(hypotheses.get(s, "")) for s in speakers]
    return float(jiwer.wer(refs, hyps))


def synthetic_cases(folder: Path) -> list[Case]:
    cases: list[Case] = []
    specs = [
        ("en-inbound", ENGLISH, "en", None, 140, "agent_left"),
        ("fr-inbound", FRENCH, "fr", None, 140, "agent_left"),
        ("fr-outbound", FRENCH_OUTBOUND, "fr", ("fr+m3", "fr+f4"), 160, "agent_right"),
        ("fr-outbound-mono", FRENCH_OUTBOUND, "fr", ("fr+m3", "fr+f4"), 160, "mono"),
    ]
    for name, turns, language, voices, speed, layout in specs:
        path = folder / f"{name}.wav"
        placed = synthesize_call(
            turns, path, layout=layout, language=language, voices=voices, speed=speed
        )
        if layout == "mono":
            references = {"unknown": " ".join(t.text for t in placed)}
        else:
            references = {
                speaker: " ".join(t.text for t in placed if t.speaker == speaker)
                for speaker in (A, C)
            }
        cases.append(Case(name, path, layout, references))
    return cases


def real_cases() -> list[Case]:
    return [
        Case(
            "jfk",
            SHARED_AUDIO / "jfk.flac",
            "mono",
            {
                "unknown": "And so my fellow Americans, ask not what your country can do for "
                "you, ask what you can do for your country."
            },
        ),
        Case(
            "stereo_diarization",
            SHARED_AUDIO / "stereo_diarization.wav",
            "agent_left",
            {
                A: "He began a confused complaint against the wizard, who had vanished "
                "behind the curtain on the left.",
                C: "The horizon seems extremely distant.",
            },
        ),
        Case(
            "multilingual",
            SHARED_AUDIO / "multilingual.mp3",
            "mono",
            {"unknown": MIT_EN + " " + MIT_DE},
        ),
    ]


def packed(transcriber: Transcriber, case: Case) -> dict[str, str]:
    """The pipeline's path: listen() block by block, then transcribe_speech()."""
    heard = listen(case.path, case.layout)
    result = transcriber.transcribe_speech(case.name, heard.speech, heard.duration_s, None)
    texts: dict[str, list[str]] = {}
    for segment in result.segments:
        texts.setdefault(segment.speaker, []).append(segment.text)
    return {speaker: " ".join(parts) for speaker, parts in texts.items()}


def baseline(transcriber: Transcriber, case: Case) -> dict[str, str]:
    """Plain faster-whisper, each channel on its own, its default options."""
    texts: dict[str, str] = {}
    for speaker, samples in speaker_channels(decode(case.path), case.layout).items():
        segments, _ = transcriber.model.transcribe(samples, vad_filter=True)
        texts[speaker] = " ".join(segment.text for segment in segments)
    return texts


def timed(run, transcriber: Transcriber, case: Case, repeat: int) -> tuple[dict[str, str], float]:  # type: ignore[no-untyped-def]
    best = float("inf")
    texts: dict[str, str] = {}
    for _ in range(repeat):
        started = time.process_time()
        texts = run(transcriber, case)
        best = min(best, time.process_time() - started)
    return texts, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per path; the fastest counts")
    parser.add_argument("--only", nargs="*", help="set names to run")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="the Transcriber's batch_size (setting)"
    )
    parser.add_argument("--beam-size", type=int, default=1, help="the Transcriber's beam_size")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="callqa-asr-bench-") as tmp:
        transcriber = Transcriber(
            "base",
            cache_dir=Path(tmp) / "models",
            batch_size=args.batch_size,
            beam_size=args.beam_size,
        )
        transcriber.load()
        cases = real_cases() + synthetic_cases(Path(tmp))
        if args.only:
            cases = [c for c in cases if c.name in args.only]
        print(
            f"{'set':<20} {'min':>5} {'WER packed':>10} {'WER base':>9} {'Δ pts':>6}"
            f" {'s/min packed':>12} {'s/min base':>10} {'speed ratio':>11}"
        )
        total_minutes = total_packed = total_base = 0.0
        all_refs: dict[str, str] = {}
        all_packed: dict[str, str] = {}
        all_base: dict[str, str] = {}
        for case in cases:
            minutes = decode(case.path).duration_s / 60
            base_texts, base_s = timed(baseline, transcriber, case, args.repeat)
            packed_texts, packed_s = timed(packed, transcriber, case, args.repeat)
            wer_packed = wer(case.references, packed_texts)
            wer_base = wer(case.references, base_texts)
            print(
                f"{case.name:<20} {minutes:5.2f} {wer_packed:10.1%} {wer_base:9.1%}"
                f" {100 * (wer_packed - wer_base):+6.1f} {packed_s / minutes:12.1f}"
                f" {base_s / minutes:10.1f} {packed_s / base_s:11.2f}"
            )
            total_minutes += minutes
            total_packed += packed_s
            total_base += base_s
            for speaker, text in case.references.items():
                key = f"{case.name}/{speaker}"
                all_refs[key] = text
                all_packed[key] = packed_texts.get(speaker, "")
                all_base[key] = base_texts.get(speaker, "")
        print(
            f"{'all':<20} {total_minutes:5.2f} {wer(all_refs, all_packed):10.1%}"
            f" {wer(all_refs, all_base):9.1%}"
            f" {100 * (wer(all_refs, all_packed) - wer(all_refs, all_base)):+6.1f}"
            f" {total_packed / total_minutes:12.1f} {total_base / total_minutes:10.1f}"
            f" {total_packed / total_base:11.2f}"
        )
        print("times: CPU seconds (process time, all threads) per minute of audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
