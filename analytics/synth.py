"""Synthetic calls spoken by espeak-ng, for tests, the demo corpus and benchmarks.

A script is a list of :class:`Turn`; each is spoken with its speaker's voice and placed on
its speaker's channel at its time, so overlaps (overtalk, interruptions) can be planted on
purpose. :func:`synthesize_call` returns where the voiced audio really is: ground truth.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from analytics.audio import decode, encode
from analytics.errors import CallqaError
from analytics.models import ChannelLayout

Party = Literal["agent", "customer"]

ESPEAK = "espeak-ng"
NORMAL_PEAK = 0.15  # normal speech peaks here, leaving headroom for shouting
SHOUT_GAIN_DB = 14.0
VOICED_LEVEL = 1e-3  # -43 dB below the peak: below this is espeak's silence or fade
DEFAULT_VOICES = {"en": ("en+m3", "en+f3"), "fr": ("fr+m3", "fr+f3")}


@dataclass(frozen=True)
class Turn:
    """One scripted turn.

    ``at`` is the start in seconds; None places it ``gap`` seconds after the previous
    turn ends. ``shout`` makes it SHOUT_GAIN_DB louder.
    """

    speaker: Party
    text: str
    at: float | None = None
    gap: float = 0.6
    shout: bool = False


@dataclass(frozen=True)
class PlacedTurn:
    """Where a turn's voiced audio is in the written file (seconds)."""

    speaker: Party
    text: str
    start: float
    end: float


def synthesize_call(
    turns: Sequence[Turn],
    out_path: Path,
    *,
    layout: ChannelLayout = "agent_left",
    language: str = "en",
    sample_rate: int = 16000,
    voices: tuple[str, str] | None = None,
    speed: int = 140,
    bleed_db: float | None = None,
) -> list[PlacedTurn]:
    """Speak ``turns`` and write the call to ``out_path`` (format from the suffix).

    Args:
        turns: the script.
        out_path: ``.wav``, ``.flac``, ``.ogg`` or ``.mp3``.
        layout: which channel is the agent's; ``mono`` mixes both into one channel.
        language: espeak language, used to pick default voices.
        sample_rate: of the written file (8000 and 16000 are typical for calls).
        voices: (agent voice, customer voice) for espeak-ng ``-v``.
        speed: espeak-ng words per minute (``-s``).
        bleed_db: if set, each channel also carries the other party at this gain (dB,
            negative), like a headset picking up the other side.

    Returns:
        The placement of each turn, trimmed to its voiced audio.

    Raises:
        CallqaError: espeak-ng is missing or fails.
    """
    agent_voice, customer_voice = voices or DEFAULT_VOICES.get(language, _generic(language))
    tracks: dict[Party, np.ndarray] = {
        "agent": np.zeros(0, np.float32),
        "customer": np.zeros(0, np.float32),
    }
    placed: list[PlacedTurn] = []
    cursor = 0.0
    for turn in turns:
        voice = agent_voice if turn.speaker == "agent" else customer_voice
        speech = _speak(turn.text, voice, speed, sample_rate)
        if turn.shout:
            speech = speech * 10 ** (SHOUT_GAIN_DB / 20)
        start = turn.at if turn.at is not None else cursor + (turn.gap if placed else 0.0)
        offset = round(start * sample_rate)
        tracks[turn.speaker] = _add_at(tracks[turn.speaker], speech, offset)
        end = (offset + len(speech)) / sample_rate
        placed.append(PlacedTurn(turn.speaker, turn.text, offset / sample_rate, end))
        cursor = max(cursor, end)
    samples = _arrange(tracks, layout, bleed_db, tail=round(0.5 * sample_rate))
    encode(samples, Path(out_path), sample_rate)
    return placed


def _generic(language: str) -> tuple[str, str]:
    return (f"{language}+m3", f"{language}+f3")


def _speak(text: str, voice: str, speed: int, sample_rate: int) -> np.ndarray:
    """espeak-ng's voice for ``text``, resampled, trimmed of silence, at NORMAL_PEAK."""
    if shutil.which(ESPEAK) is None:
        raise CallqaError(f"{ESPEAK} is not installed (Debian package espeak-ng)")
    result = subprocess.run(
        [ESPEAK, "-v", voice, "-s", str(speed), "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise CallqaError(f"{ESPEAK} failed for voice {voice!r} (exit {result.returncode})")
    speech = decode(io.BytesIO(result.stdout), sample_rate).samples[0]
    peak = float(np.abs(speech).max())
    if peak == 0.0:
        raise CallqaError(f"{ESPEAK} produced silence for voice {voice!r}")
    speech = speech * (NORMAL_PEAK / peak)
    voiced = np.flatnonzero(np.abs(speech) > VOICED_LEVEL)
    return speech[voiced[0] : voiced[-1] + 1].astype(np.float32)


def _add_at(track: np.ndarray, speech: np.ndarray, offset: int) -> np.ndarray:
    needed = offset + len(speech)
    if len(track) < needed:
        track = np.concatenate([track, np.zeros(needed - len(track), np.float32)])
    track[offset:needed] += speech
    return track


def _arrange(
    tracks: dict[Party, np.ndarray], layout: ChannelLayout, bleed_db: float | None, tail: int
) -> np.ndarray:
    length = max(len(t) for t in tracks.values()) + tail
    agent, customer = (np.pad(tracks[p], (0, length - len(tracks[p]))) for p in tracks)
    if layout == "mono":
        return (agent + customer)[np.newaxis, :]
    if bleed_db is not None:
        gain = 10 ** (bleed_db / 20)
        agent, customer = agent + gain * customer, customer + gain * agent
    left, right = (agent, customer) if layout == "agent_left" else (customer, agent)
    return np.stack([left, right]).astype(np.float32)
