"""Mono calls with known speakers, for the diarization tests and benchmark.

Each call is made in stereo (one party per channel: the synthetic calls spoken by
espeak-ng with a voice per party, and the real clip of ``../shared/audio``), the truth is
the speech found on each channel, and the mono recording is the mix of both channels.
DER is pyannote.metrics' diarization error rate (no collar, overlap scored): missed
speech + false alarm + confusion over the reference speech time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analytics import audio
from analytics.models import Interval, SpeechActivity
from analytics.synth import Turn, synthesize_call

SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"
REAL_CLIP = SHARED_AUDIO / "stereo_diarization.wav"

A, C = "agent", "customer"

ROADSIDE = (
    Turn(
        A,
        "Good morning, thank you for calling Roadside Assist, my name is Peter, how can I help you?",
    ),
    Turn(C, "Hello, my car broke down on the motorway near Lyon and I need a tow truck."),
    Turn(A, "I am sorry to hear that. Are you in a safe place right now?"),
    Turn(C, "Yes, we are behind the barrier with the children."),
    Turn(A, "Good. Can you give me your policy number please?"),
    Turn(C, "It is four five six seven eight nine."),
    Turn(A, "Thank you. Let me check, one moment please."),
    Turn(C, "Okay.", gap=0.3),
    Turn(A, "I found your contract. A truck will be there within forty minutes."),
    Turn(C, "Forty minutes? That is far too long, we have been waiting already", gap=0.2),
    Turn(A, "I understand, I will ask them to hurry.", gap=-0.6),  # talks over the end
    Turn(C, "Thank you very much."),
    Turn(A, "You are welcome. Have a safe trip, goodbye."),
)
# The customer speaks first ("Hello?" before the agent picks up properly).
TRAVEL = (
    Turn(C, "Hello? Is this the travel insurance?"),
    Turn(A, "Good afternoon, you are speaking with Sarah from Travel Care, how can I help?"),
    Turn(C, "My flight to Madrid was cancelled and I am stuck at the airport with my wife."),
    Turn(A, "I am sorry, that must be stressful. Do you have your booking reference?"),
    Turn(C, "Yes, it is alpha bravo seven two."),
    Turn(A, "Thank you. I can book you a hotel for tonight near the airport."),
    Turn(C, "That would be great, and what about the new flight tomorrow?", gap=0.3),
    Turn(A, "The airline will rebook you, and we cover the hotel and your meals."),
    Turn(C, "Perfect, thank you so much for your help."),
    Turn(A, "You are welcome, is there anything else I can help with?"),
    Turn(C, "No, that is all.", gap=0.4),
    Turn(A, "Have a good evening, goodbye."),
)
COMPLAINT = (
    Turn(A, "Hello, this is David at Home Assist, what can I do for you today?"),
    Turn(C, "I called three times about my boiler and nobody came, this is a joke."),
    Turn(A, "I understand your frustration, let me look at your file."),
    Turn(C, "I have been without hot water for a week now", gap=0.5),
    Turn(A, "I can see the claim here.", gap=-0.5),
    Turn(C, "So when will the technician come?"),
    Turn(A, "A technician can come tomorrow morning between eight and ten."),
    Turn(C, "Fine. But if nobody comes again I will cancel my contract."),
    Turn(A, "Someone will be there, I will follow it myself. Have a nice day."),
    Turn(C, "Goodbye."),
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
# One voice only: the agent leaving a message (a one-speaker mono recording).
VOICEMAIL = (
    Turn(A, "Hello, this is Peter from Roadside Assist calling about your claim."),
    Turn(A, "The tow truck has delivered your car to the garage in Lyon."),
    Turn(A, "The garage will call you tomorrow with a quote for the repair."),
    Turn(A, "If you have any question, please call us back on the usual number."),
    Turn(A, "Thank you and have a good day, goodbye."),
)


@dataclass(frozen=True)
class MonoCase:
    name: str
    turns: Sequence[Turn]
    voices: tuple[str, str]
    language: str = "en"


CASES: tuple[MonoCase, ...] = (
    MonoCase("roadside-m3-f3", ROADSIDE, ("en+m3", "en+f3")),
    MonoCase("roadside-f1-m4", ROADSIDE, ("en+f1", "en+m4")),
    MonoCase("travel-f2-m1", TRAVEL, ("en-us+f2", "en+m1")),
    MonoCase("travel-m7-f4", TRAVEL, ("en+m7", "en+f4")),
    MonoCase("complaint-m1-m7", COMPLAINT, ("en+m1", "en+m7")),
    MonoCase("complaint-f2-f4", COMPLAINT, ("en-us+f2", "en+f4")),
    MonoCase("roadside-m2-m5", ROADSIDE, ("en+m2", "en-gb+m5")),
    MonoCase("french-f3-m3", FRENCH, ("fr+f3", "fr+m3"), "fr"),
)
ONE_VOICE = MonoCase("voicemail-m3", VOICEMAIL, ("en+m3", "en+f3"))


@dataclass(frozen=True)
class MonoCall:
    """A mono recording on disk and the speech of each party (the channel truth)."""

    name: str
    path: Path  # the mono file
    truth: SpeechActivity  # "agent" / "customer" intervals
    language: str | None
    samples: np.ndarray  # the mono mix, 16 kHz


def make_case(case: MonoCase, folder: Path) -> MonoCall:
    """Speak the case in stereo, take each channel's speech as truth, write the mix."""
    stereo = folder / f"{case.name}.stereo.wav"
    synthesize_call(case.turns, stereo, voices=case.voices, language=case.language)
    return mono_from_stereo(case.name, stereo, folder, case.language)


def mono_from_stereo(name: str, stereo: Path, folder: Path, language: str | None) -> MonoCall:
    decoded = audio.decode(stereo)
    channels = audio.speaker_channels(decoded, "agent_left")
    truth = audio.speech_activity(channels, duration_s=decoded.duration_s)
    mix = decoded.samples.mean(axis=0).astype(np.float32)
    path = audio.encode(mix[np.newaxis, :], folder / f"{name}.wav")
    return MonoCall(name, path, truth, language, mix)


def real_call(folder: Path) -> MonoCall:
    """The shared real stereo clip (left is taken as the agent) mixed to mono."""
    return mono_from_stereo("real-stereo-clip", REAL_CLIP, folder, "en")


def der(
    truth: Mapping[str, Sequence[Interval]],
    hypothesis: Mapping[object, Sequence[Interval]],
    duration_s: float,
) -> tuple[float, dict[str, float]]:
    """pyannote's DER (speaker labels matched optimally) and its parts in seconds."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(intervals: Mapping[object, Sequence[Interval]]) -> Annotation:
        out = Annotation()
        for label, spans in intervals.items():
            for start, end in spans:
                if end > start:
                    out[Segment(start, end)] = str(label)
        return out

    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    parts = metric(
        annotation(truth), annotation(hypothesis), uem=Segment(0, duration_s), detailed=True
    )
    return float(parts["diarization error rate"]), {k: float(v) for k, v in parts.items()}


def agent_voice_of_truth(
    truth: SpeechActivity, voices: Mapping[int, Sequence[Interval]]
) -> int | None:
    """The voice label that overlaps the true agent's speech most."""
    from analytics.quality import intersect, merge

    agent = merge(truth.of("agent"))
    best, best_s = None, 0.0
    for label, spans in voices.items():
        overlap = sum(e - s for s, e in intersect(agent, merge(spans)))
        if overlap > best_s:
            best, best_s = label, overlap
    return best
