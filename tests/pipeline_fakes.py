"""Fast stand-ins for the heavy engines, for unit tests of the pipeline.

The fake transcriber "hears" a fixed sentence carrying planted personal data on
every channel with sound; the fake redactor replaces the planted values. The real
engines are tested in the stages' own slow tests and in test_pipeline's slow tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from factories import NOW, stamp_at

from analytics.abuse import AbuseConfig
from analytics.audio import encode
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

PLANTED = ("Zoltan", "0647832915")
SENTENCE = "hello I am Zoltan my number is 0647832915 thank you goodbye"
_PLANTED_RE = re.compile("|".join(PLANTED))


@dataclass
class FakeTranscriber:
    delay_s: float = 0.0

    def transcribe(
        self, call_id: str, channels: Mapping[str, np.ndarray], language: str | None = None
    ) -> RawTranscript:
        time.sleep(self.delay_s)
        segments = []
        for offset, (speaker, samples) in enumerate(channels.items()):
            if not np.any(np.abs(samples) > 0.01):
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


def write_call(
    path: Path, seconds: float = 2.0, channels: int = 2, rate: int = 16000, seed: int = 0
) -> Path:
    """A short recording with a noise burst per channel at different times."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    samples = np.zeros((channels, n), dtype=np.float32)
    for ch in range(channels):
        start = int((0.1 + 0.4 * ch) * rate)
        samples[ch, start : start + int(0.6 * rate)] = 0.3 * rng.standard_normal(int(0.6 * rate))
    path.parent.mkdir(parents=True, exist_ok=True)
    return stamp_at(encode(samples, path, rate), NOW - timedelta(hours=1))


def fake_engine_factory(settings: object, workers: int) -> Engines:
    """Engines for a worker process (the Ray executor builds one set per actor)."""
    return fake_engines()
