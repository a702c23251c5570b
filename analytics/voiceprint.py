"""The agent's voice across their calls: which voice of a mono call is the agent's.

An agent's **voiceprint** is a diagonal Gaussian over the frame features the separation
already computes (:func:`analytics.diarize.voice_features`: 20 MFCCs and the log pitch
every 10 ms): the frame-weighted pool of the agent's voice in their other calls —
the agent channel of their stereo calls, and the agent voice of mono calls whose side
the words alone named with high confidence (``enrol_confidence``; a side the voiceprint
helped to name never feeds the voiceprint, so it cannot reinforce its own mistakes).

On a mono call of the same agent (metadata ``agent_id``) with two voices, each voice's
mean is compared with the voiceprint's (squared distance in the voiceprint's standard
deviations, :func:`distance`); the relative contrast of the two voices (:func:`contrast`,
−1..1) times ``weight`` is the voice's log-odds of being the agent. It is added to the
log-odds of the side classifier (:mod:`analytics.diarize_side`): text and voice are
independent evidence, so their log-odds add (naive Bayes). With ``weight`` 3 (odds
20:1 at most), the voice alone never reaches the 0.95 that a weak split needs
(``[diarize] weak_split_side_confidence``): it decides when the words are weak, and
words that are sure need a strong contrary voice to be overturned.

The stats of each call are stored as derived data of that call (``agent_voices``),
deleted with the call; the voiceprint is pooled on read from the agent's calls still
visible, so it is never built from an objected, erased, private or expired call
(README, "Agent voiceprints"). Off by default (``[voiceprint] enabled``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.audio import SAMPLE_RATE, SpeechClip
from analytics.models import VoiceStats


@dataclass(frozen=True)
class VoiceprintConfig:
    """Settings of ``[voiceprint]`` in config.toml."""

    enabled: bool = False  # biometric data: the DPO turns it on (README)
    weight: float = 3.0  # log-odds of a perfect contrast: the voice alone, at most 20:1
    enrol_confidence: float = 0.95  # a mono call's agent voice is enrolled above this
    min_frames: int = 300  # 3 s of a voice, else no stats (too little to tell)
    min_frame_confidence: float = 0.8  # frames the separation is this sure of

    @classmethod
    def from_settings(cls, settings: Any) -> VoiceprintConfig:
        section = settings.section("voiceprint") if hasattr(settings, "section") else {}
        return cls.from_mapping(section)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> VoiceprintConfig:
        from analytics.config import typed_fields

        return cls(**typed_fields(cls, section, "voiceprint"))


# -- stats of a voice ------------------------------------------------------------------------


def stats_of(frames: np.ndarray, min_frames: int = 1) -> VoiceStats | None:
    """The Gaussian of ``frames`` (n × features); None below ``min_frames``."""
    if len(frames) < max(2, min_frames):
        return None
    data = np.asarray(frames, dtype=np.float64)
    return VoiceStats(
        frames=len(data),
        mean=tuple(float(x) for x in data.mean(axis=0)),
        var=tuple(float(x) for x in data.var(axis=0) + 1e-6),
    )


def pool(parts: Sequence[VoiceStats]) -> VoiceStats | None:
    """One Gaussian for several calls' stats (frame-weighted; spread between calls kept)."""
    parts = [p for p in parts if p.frames > 0]
    if not parts:
        return None
    weights = np.array([p.frames for p in parts], dtype=np.float64)
    means = np.array([p.mean for p in parts])
    second = np.array([p.var for p in parts]) + means**2
    w = weights / weights.sum()
    mean = w @ means
    var = np.maximum(w @ second - mean**2, 1e-6)
    return VoiceStats(
        frames=int(weights.sum()),
        mean=tuple(float(x) for x in mean),
        var=tuple(float(x) for x in var),
        calls=sum(p.calls for p in parts),
    )


def _clip_features(clip: SpeechClip) -> np.ndarray:
    from analytics.diarize import voice_features

    return voice_features(clip.samples, SAMPLE_RATE)


def channel_stats(
    clips: Sequence[SpeechClip], speaker: str, config: VoiceprintConfig
) -> VoiceStats | None:
    """A stereo call's voice of ``speaker`` (its channel's speech clips)."""
    parts = [_clip_features(c) for c in clips if c.speaker == speaker]
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    return stats_of(np.vstack(parts), config.min_frames)


def stats_by_voice(
    clips: Sequence[SpeechClip], diarization: Any, config: VoiceprintConfig
) -> dict[int, VoiceStats]:
    """Each separated voice of a mono call, over the frames the separation is sure of.

    The separation keeps them from its own feature pass (``Diarization.voices``, at its
    frame confidence 0.8); otherwise (another threshold, or an older separation) the
    features of the clips are computed again.
    """
    from analytics.diarize import FRAME_STEP_S, VOICE_STATS_CONFIDENCE

    kept = getattr(diarization, "voices", None)
    if kept and config.min_frame_confidence == VOICE_STATS_CONFIDENCE:
        return {lab: v for lab, v in kept.items() if v.frames >= max(2, config.min_frames)}

    labels, confidence = diarization.frame_labels, diarization.frame_confidence
    chunks: dict[int, list[np.ndarray]] = {}
    for clip in clips:
        features = _clip_features(clip)
        first = round(clip.start / SAMPLE_RATE / FRAME_STEP_S)
        last = min(len(labels), first + len(features))
        if last <= first:
            continue
        lab = labels[first:last]
        sure = confidence[first:last] >= config.min_frame_confidence
        for voice in np.unique(lab[(lab >= 0) & sure]):
            chunks.setdefault(int(voice), []).append(
                features[: last - first][(lab == voice) & sure]
            )
    out = {}
    for voice, parts in chunks.items():
        stats = stats_of(np.vstack(parts), config.min_frames)
        if stats is not None:
            out[voice] = stats
    return out


# -- scoring ---------------------------------------------------------------------------------


def distance(voice: VoiceStats, print_: VoiceStats) -> float:
    """Mean squared distance of the voice's mean from the voiceprint's, in the
    voiceprint's standard deviations (per dimension)."""
    mu_v, mu_p = np.asarray(voice.mean), np.asarray(print_.mean)
    if mu_v.shape != mu_p.shape:
        return float("nan")
    return float(np.mean((mu_v - mu_p) ** 2 / np.asarray(print_.var)))


def contrast(voices: Mapping[int, VoiceStats], print_: VoiceStats) -> dict[int, float]:
    """Per voice of a two-voice call: (d_other − d_own) / (d_other + d_own), in −1..1.

    1: this voice is the voiceprint and the other is far; 0: both as near (two alike
    voices, or a print of neither); the two voices' contrasts are opposite. Relative,
    so it does not depend on how far voices lie apart in a given site's recordings.
    Only the means count: a separated voice's spread is widened by the other party's
    frames that leak into it (on the benchmark the spread term made it worse).
    """
    if len(voices) != 2:
        return {}
    (a, va), (b, vb) = voices.items()
    da, db = distance(va, print_), distance(vb, print_)
    if math.isnan(da) or math.isnan(db) or da + db <= 0:
        return {}
    r = (db - da) / (da + db)
    return {a: r, b: -r}


def voice_logits(
    voices: Mapping[int, VoiceStats], print_: VoiceStats | None, config: VoiceprintConfig
) -> dict[int, float]:
    """Log-odds that each voice is the agent's, from the voiceprint alone."""
    if print_ is None:
        return {}
    return {lab: config.weight * c for lab, c in contrast(voices, print_).items()}


def combine(text_p: Mapping[int, float], logits: Mapping[int, float]) -> dict[int, float]:
    """P(agent) per voice: the side classifier's log-odds plus the voice's."""
    out = {}
    for lab, p in text_p.items():
        p = min(1 - 1e-6, max(1e-6, p))
        logit = math.log(p / (1 - p)) + logits.get(lab, 0.0)
        out[lab] = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
    return out
