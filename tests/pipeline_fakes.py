"""Fast stand-ins for the heavy engines, for unit tests of the pipeline.

The fake transcriber "hears" a fixed sentence carrying planted personal data on
every channel with sound; the fake redactor replaces the planted values. The real
engines are tested in the stages' own slow tests and in test_pipeline's slow tests.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from factories import NOW, stamp_at

from analytics.abuse import AbuseConfig
from analytics.audio import SpeechClip, encode
from analytics.models import (
    PiiSpan,
    RawSegment,
    RawTranscript,
    RedactedSegment,
    RedactedTranscript,
    Word,
)
from analytics.pipeline import Engines
from analytics.quality import QualityConfig
from analytics.synth import _speak

PLANTED = ("Zoltan", "0647832915")
SENTENCE = "hello I am Zoltan my number is 0647832915 thank you goodbye"
_PLANTED_RE = re.compile("|".join(PLANTED))


@dataclass
class FakeTranscriber:
    delay_s: float = 0.0
    heard: list[str] = field(default_factory=list)  # call ids, in the order transcribed

    def transcribe(
        self, call_id: str, channels: Mapping[str, np.ndarray], language: str | None = None
    ) -> RawTranscript:
        loud = [spk for spk, samples in channels.items() if np.any(np.abs(samples) > 0.01)]
        return self._hear(call_id, list(channels), loud, language)

    def transcribe_speech(
        self,
        call_id: str,
        speech: Sequence[SpeechClip],
        duration_s: float,
        language: str | None = None,
    ) -> RawTranscript:
        speakers = list(dict.fromkeys(clip.speaker for clip in speech))
        loud = {clip.speaker for clip in speech if np.any(np.abs(clip.samples) > 0.01)}
        return self._hear(call_id, speakers, [spk for spk in speakers if spk in loud], language)

    def _hear(
        self, call_id: str, speakers: list[str], loud: list[str], language: str | None
    ) -> RawTranscript:
        self.heard.append(call_id)
        time.sleep(self.delay_s)
        segments = []
        for offset, speaker in enumerate(speakers):
            if speaker not in loud:
                continue
            start = 0.2 + offset * 0.1
            words = []
            t = start
            for token in SENTENCE.split():
                words.append(Word(t, t + 0.2, " " + token))
                t += 0.25
            segments.append(RawSegment(speaker, start, t, SENTENCE, tuple(words)))  # type: ignore[arg-type]
        segments.sort(key=lambda s: s.start)
        return RawTranscript(
            call_id, language or "en", 1.0 if language else 0.9, 1.0, tuple(segments)
        )


class FakeRedactor:
    def redact(self, raw: RawTranscript) -> RedactedTranscript:
        segments, spans, counts = [], [], {}
        for idx, seg in enumerate(raw.segments):
            for word in seg.words:
                if _PLANTED_RE.search(word.text):
                    kind = "PHONE_NUMBER" if word.text.strip().isdigit() else "PERSON"
                    counts[kind] = counts.get(kind, 0) + 1
                    spans.append(PiiSpan(idx, kind, word.start, word.end))
            text = _PLANTED_RE.sub(
                lambda m: "<PHONE_NUMBER>" if m.group().isdigit() else "<PERSON>", seg.text
            )
            segments.append(RedactedSegment(seg.speaker, seg.start, seg.end, text))
        return RedactedTranscript(
            raw.call_id,
            raw.language,
            raw.language_probability,
            raw.duration_s,
            tuple(segments),
            counts,
            tuple(spans),
        )


def fake_engines(delay_s: float = 0.0) -> Engines:
    return Engines(
        transcriber=FakeTranscriber(delay_s),  # type: ignore[arg-type]
        redactor=FakeRedactor(),  # type: ignore[arg-type]
        quality_config=QualityConfig.default(),
        abuse_config=AbuseConfig.default(),
    )


@functools.cache
def _voice(channel: int) -> np.ndarray:
    """A short word spoken by espeak-ng (real speech, so Silero VAD finds it)."""
    return _speak(
        ("hello there", "yes hello")[channel % 2], ("en+m3", "en+f3")[channel % 2], 170, 16000
    )


def write_call(
    path: Path, seconds: float = 2.0, channels: int = 2, rate: int = 16000, seed: int = 0
) -> Path:
    """A short recording with a spoken word per channel at different times.

    A faint noise floor drawn from ``seed`` makes every seed a different recording.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    samples = (0.001 * rng.standard_normal((channels, n))).astype(np.float32)
    for ch in range(channels):
        voice = _voice(ch) if rate == 16000 else _resampled(_voice(ch), rate)
        start = int((0.1 + 0.8 * ch) * rate)
        end = min(n, start + len(voice))
        samples[ch, start:end] += voice[: end - start]
    path.parent.mkdir(parents=True, exist_ok=True)
    return stamp_at(encode(samples, path, rate), NOW - timedelta(hours=1))


def _resampled(voice: np.ndarray, rate: int) -> np.ndarray:
    positions = np.linspace(0, len(voice) - 1, round(len(voice) * rate / 16000))
    return np.interp(positions, np.arange(len(voice)), voice).astype(np.float32)


def fake_engine_factory(settings: object, workers: int) -> Engines:
    """Engines for a worker process (the Ray executor builds one set per actor)."""
    return fake_engines()
