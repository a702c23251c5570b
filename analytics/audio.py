"""Audio stage: decode, split channels per speaker, detect speech, measure loudness, bleep.

Everything works on float32 arrays at 16 kHz (Whisper's rate). Recordings keep their
channels: on a stereo call each party has its own channel, which is how we tell the agent
from the customer without a diarisation model.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from analytics.errors import AudioError
from analytics.models import ChannelLayout, Interval, Speaker, SpeechActivity

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000

# Speech detection. Silero VAD finds speech; these options keep its boundaries tight
# (little padding) and bridge the short pauses between words so that a turn stays one
# interval. Pauses shorter than MERGE_GAP_S are treated as part of the turn.
VAD_THRESHOLD = 0.5
VAD_MIN_SILENCE_MS = 200
VAD_SPEECH_PAD_MS = 30
VAD_MIN_SPEECH_MS = 120
MERGE_GAP_S = 0.3
MIN_INTERVAL_S = 0.12

# Channel bleed: a frame of one channel is the other party's voice leaking in when the
# other channel is this much louder in that frame.
BLEED_MARGIN_DB = 15.0
FRAME_S = 0.02
# Frames this far below the channel's loud level are background, not speech.
FLOOR_BELOW_PEAK_DB = 45.0
SILENCE_DBFS = -70.0

# Two channels this correlated are one recording copied twice, not two parties.
DUAL_MONO_CORRELATION = 0.98

BLEEP_FREQ_HZ = 1000.0
BLEEP_LEVEL = 0.2  # about -17 dBFS peak: clearly audible, never louder than speech


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded recording: ``samples`` is float32 with shape ``(channels, n)``."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


# --- decoding and encoding ---------------------------------------------------------------


def decode(path: Path | BinaryIO, sample_rate: int = SAMPLE_RATE) -> DecodedAudio:
    """Decode a recording to float32 at ``sample_rate``, keeping mono or stereo.

    Recordings with more than two channels are down-mixed to stereo. ``path`` may also
    be a binary file object (in-memory audio).

    Raises:
        AudioError: the file is missing, not audio, or has no decodable samples.
    """
    if isinstance(path, str):
        path = Path(path)
    try:
        samples = _decode_planar(path, sample_rate)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})", path=str(path)) from None
    if samples.shape[1] == 0:
        raise AudioError(f"{path}: no audio samples", path=str(path))
    return DecodedAudio(samples=samples, sample_rate=sample_rate)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _decode_planar(path: Path | BinaryIO, sample_rate: int) -> np.ndarray:
    source = str(path) if isinstance(path, Path) else path
    with av.open(source, mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError(f"{path}: no audio stream", path=str(path))
        stream = container.streams.audio[0]
        channels = 1 if (stream.channels or 1) == 1 else 2
        resampler = av.AudioResampler(
            format="fltp", layout="mono" if channels == 1 else "stereo", rate=sample_rate
        )
        chunks: list[np.ndarray] = []
        for frame in _valid_frames(container.decode(stream)):
            frame.pts = None  # timestamps of some containers confuse the resampler
            chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    if not chunks:
        return np.zeros((channels, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)


def _valid_frames(frames):  # type: ignore[no-untyped-def]
    """Skip frames FFmpeg reports as invalid (as faster-whisper does), keep the rest."""
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


_CODECS = {
    ".wav": "pcm_s16le",
    ".flac": "flac",
    ".ogg": "libopus",
    ".opus": "libopus",
    ".mp3": "libmp3lame",
}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_BIT_RATE = 32000  # per channel: speech stays clear, a minute of stereo is ~0.5 MB


def encode(samples: np.ndarray, out_path: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float32 ``(channels, n)`` samples to ``out_path``; the suffix picks the format.

    ``.wav`` (16-bit PCM), ``.flac``, ``.ogg``/``.opus`` (Opus, re-sampled to 48 kHz when
    Opus cannot take ``sample_rate``) and ``.mp3``.

    Raises:
        AudioError: unknown suffix, or FFmpeg could not write the file.
    """
    out_path = Path(out_path)
    codec = _CODECS.get(out_path.suffix.lower())
    if codec is None:
        raise AudioError(f"{out_path}: unsupported output format {out_path.suffix!r}")
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    try:
        _encode(samples, out_path, sample_rate, codec)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(f"{out_path}: cannot write audio ({_reason(exc)})") from None
    return out_path


def _encode(samples: np.ndarray, out_path: Path, sample_rate: int, codec: str) -> None:
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    is_opus = codec == "libopus"
    rate = 48000 if is_opus and sample_rate not in OPUS_RATES else sample_rate
    with av.open(str(out_path), mode="w", format="ogg" if is_opus else None) as container:
        stream: av.audio.stream.AudioStream = container.add_stream(  # type: ignore[call-overload,assignment]
            codec, rate=rate, layout=layout
        )
        if is_opus:
            stream.bit_rate = OPUS_BIT_RATE * samples.shape[0]
        frame = av.AudioFrame.from_ndarray(
            np.clip(samples, -1.0, 1.0), format="fltp", layout=layout
        )
        frame.sample_rate = sample_rate
        # The resampler also cuts the audio into the frame size the encoder needs.
        resampler = av.AudioResampler(
            format=stream.format.name,
            layout=layout,
            rate=rate,
            frame_size=stream.frame_size or None,
        )
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))


# --- speakers ------------------------------------------------------------------------------


def speaker_channels(audio: DecodedAudio, layout: ChannelLayout) -> dict[Speaker, np.ndarray]:
    """Map each speaker to its channel.

    ``agent_left``: agent on channel 0, customer on channel 1; ``agent_right`` the
    reverse. A mono layout, or a mono file whatever the layout, gives one ``unknown``
    speaker holding the mix. So does a "dual mono" file (the same signal on both
    channels, as many converted recordings are): it has no second party to separate.
    """
    samples = audio.samples
    if layout == "mono" or samples.shape[0] == 1 or is_dual_mono(samples):
        return {"unknown": samples.mean(axis=0, dtype=np.float32)}
    left, right = samples[0], samples[1]
    if layout == "agent_right":
        return {"agent": right, "customer": left}
    return {"agent": left, "customer": right}


def is_dual_mono(samples: np.ndarray) -> bool:
    """True when both channels carry the same signal (correlation ≥ DUAL_MONO_CORRELATION)."""
    if samples.shape[0] != 2 or min(np.std(samples[0]), np.std(samples[1])) == 0:
        return False
    correlation = np.corrcoef(samples[0], samples[1])[0, 1]
    return bool(correlation >= DUAL_MONO_CORRELATION)


# --- speech activity -----------------------------------------------------------------------


def speech_activity(
    channels: Mapping[Speaker, np.ndarray],
    sample_rate: int = SAMPLE_RATE,
    duration_s: float | None = None,
) -> SpeechActivity:
    """Detect when each speaker talks (Silero VAD, then bleed removal).

    Args:
        channels: one array per speaker, as :func:`speaker_channels` returns.
        sample_rate: their sample rate (Silero runs at 16 kHz; others are resampled).
        duration_s: the call duration; default the longest channel.

    Returns:
        Speech intervals per speaker, in seconds, sorted, not overlapping.
    """
    if duration_s is None:
        duration_s = max((len(x) for x in channels.values()), default=0) / sample_rate
    frame_db = {spk: _frame_db(_to_16k(x, sample_rate)) for spk, x in channels.items()}
    intervals: dict[Speaker, tuple[Interval, ...]] = {}
    for speaker, samples in channels.items():
        voiced = _vad_mask(_to_16k(samples, sample_rate), len(frame_db[speaker]))
        voiced &= _own_voice_mask(speaker, frame_db)
        intervals[speaker] = _mask_to_intervals(voiced, duration_s)
        logger.debug("speech activity: %s has %d intervals", speaker, len(intervals[speaker]))
    return SpeechActivity(duration_s=duration_s, intervals=intervals)


def suppress_bleed(
    channels: Mapping[Speaker, np.ndarray], sample_rate: int = SAMPLE_RATE
) -> dict[Speaker, np.ndarray]:
    """Copies of the channels with the other party's bleed silenced.

    A frame where another channel is BLEED_MARGIN_DB louder is that party leaking in
    (a headset hearing the other side): it is zeroed so the VAD and Whisper skip it.
    """
    if len(channels) < 2:
        return dict(channels)
    hop = max(1, int(FRAME_S * sample_rate))
    levels = {spk: _frame_db(np.asarray(x, np.float32), hop) for spk, x in channels.items()}
    cleaned: dict[Speaker, np.ndarray] = {}
    for speaker, samples in channels.items():
        own = levels[speaker]
        bleed = np.zeros(len(own), dtype=bool)
        for other, other_levels in levels.items():
            if other != speaker:
                n = min(len(own), len(other_levels))
                bleed[:n] |= other_levels[:n] - own[:n] >= BLEED_MARGIN_DB
        keep = np.repeat(~bleed, hop)[: len(samples)]
        cleaned[speaker] = np.where(keep, samples, 0.0).astype(np.float32)
    return cleaned


def _to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == SAMPLE_RATE:
        return np.asarray(samples, dtype=np.float32)
    n_out = round(len(samples) * SAMPLE_RATE / sample_rate)
    positions = np.linspace(0, len(samples) - 1, n_out)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _frame_db(samples: np.ndarray, hop: int = int(FRAME_S * SAMPLE_RATE)) -> np.ndarray:
    """Level of each ``hop``-sample frame (default FRAME_S at 16 kHz) in dBFS."""
    n_frames = int(np.ceil(len(samples) / hop))
    padded = np.zeros(n_frames * hop, dtype=np.float32)
    padded[: len(samples)] = samples
    power = np.mean(padded.reshape(n_frames, hop) ** 2, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def _vad_mask(samples: np.ndarray, n_frames: int) -> np.ndarray:
    """Frames Silero VAD calls speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        threshold=VAD_THRESHOLD,
        min_speech_duration_ms=VAD_MIN_SPEECH_MS,
        min_silence_duration_ms=VAD_MIN_SILENCE_MS,
        speech_pad_ms=VAD_SPEECH_PAD_MS,
    )
    mask = np.zeros(n_frames, dtype=bool)
    if len(samples) == 0 or not np.any(samples):
        return mask
    hop = int(FRAME_S * SAMPLE_RATE)
    for chunk in get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE):
        mask[chunk["start"] // hop : -(-chunk["end"] // hop)] = True
    return mask


def _own_voice_mask(speaker: Speaker, frame_db: Mapping[Speaker, np.ndarray]) -> np.ndarray:
    """Frames where this channel carries its own speaker, not background or bleed.

    A frame is bleed when another channel is BLEED_MARGIN_DB louder at that moment: a
    party's own microphone always picks them up far louder than the other one does.
    """
    own = frame_db[speaker]
    loud = np.percentile(own, 99) if len(own) else SILENCE_DBFS
    mask = own > max(SILENCE_DBFS, loud - FLOOR_BELOW_PEAK_DB)
    for other, levels in frame_db.items():
        if other == speaker:
            continue
        n = min(len(own), len(levels))
        mask[:n] &= levels[:n] - own[:n] < BLEED_MARGIN_DB
    return _close_gaps(mask, int(MERGE_GAP_S / FRAME_S))


def _close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False no longer than ``max_gap`` frames between True frames."""
    out = mask.copy()
    true_idx = np.flatnonzero(mask)
    if len(true_idx) < 2:
        return out
    for before, after in itertools.pairwise(true_idx):
        if 1 < after - before <= max_gap + 1:
            out[before:after] = True
    return out


def _mask_to_intervals(mask: np.ndarray, duration_s: float) -> tuple[Interval, ...]:
    mask = _close_gaps(mask, int(MERGE_GAP_S / FRAME_S))
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    intervals = []
    for start, end in zip(starts, ends, strict=True):
        begin_s, end_s = start * FRAME_S, min(end * FRAME_S, duration_s)
        if end_s - begin_s >= MIN_INTERVAL_S:
            intervals.append((round(float(begin_s), 3), round(float(end_s), 3)))
    return tuple(intervals)


# --- loudness ------------------------------------------------------------------------------


def segment_loudness(
    channels: Mapping[Speaker, np.ndarray],
    segments: Sequence[tuple[Speaker, float, float]],
    sample_rate: int = SAMPLE_RATE,
) -> list[float | None]:
    """Loudness in dBFS of each segment on its speaker's channel.

    The RMS is taken over the active frames only (those within FLOOR_BELOW_PEAK_DB of
    the segment's loudest frame), so pauses inside a segment do not lower it. None when
    the speaker has no channel or the segment is silent or empty.
    """
    hop = max(1, int(FRAME_S * sample_rate))
    levels: list[float | None] = []
    for speaker, start, end in segments:
        samples = channels.get(speaker)
        if samples is None:
            levels.append(None)
            continue
        part = samples[max(0, int(start * sample_rate)) : max(0, int(end * sample_rate))]
        levels.append(_active_rms_db(part, hop))
    return levels


def _active_rms_db(part: np.ndarray, hop: int) -> float | None:
    n_frames = len(part) // hop
    if n_frames == 0:
        return None
    power = np.mean(part[: n_frames * hop].reshape(n_frames, hop).astype(np.float64) ** 2, axis=1)
    frame_db = 10.0 * np.log10(np.maximum(power, 1e-12))
    active = frame_db > max(SILENCE_DBFS, frame_db.max() - FLOOR_BELOW_PEAK_DB)
    if not active.any():
        return None
    return round(float(10.0 * np.log10(power[active].mean())), 2)


# --- bleeping ------------------------------------------------------------------------------


def bleep(
    source: Path,
    spans: Sequence[tuple[float, float]],
    out_path: Path,
    pad_s: float = 0.25,
) -> Path:
    """Write a copy of ``source`` where each span is replaced by a 1 kHz tone.

    Each span is widened by ``pad_s`` on both sides and clipped to the recording; all
    channels are bleeped. The copy is 16 kHz; its format follows ``out_path``'s suffix:
    ``.ogg`` gives Opus in Ogg (small and seekable in browsers: the one callqa uses),
    ``.flac`` lossless FLAC. Written to a temporary file, then moved into place, so a
    crash never leaves a half-written copy.

    Raises:
        AudioError: ``source`` cannot be decoded or the copy cannot be written.
    """
    out_path = Path(out_path)
    audio = decode(source)
    samples = audio.samples.copy()
    for start, end in spans:
        first = max(0, int((start - pad_s) * audio.sample_rate))
        last = min(samples.shape[1], int(np.ceil((end + pad_s) * audio.sample_rate)))
        if last > first:
            samples[:, first:last] = _tone(first, last, audio.sample_rate)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{out_path.stem}.", suffix=out_path.suffix, dir=out_path.parent
    )
    os.close(fd)
    try:
        encode(samples, Path(tmp_name), audio.sample_rate)
        os.replace(tmp_name, out_path)
    except OSError as exc:
        raise AudioError(f"{out_path}: cannot write bleeped audio ({_reason(exc)})") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    logger.info("bleeped %d spans into %s", len(spans), out_path.name)
    return out_path


def _tone(first: int, last: int, sample_rate: int) -> np.ndarray:
    """The bleep, phase-continuous with the sample index, with 5 ms fades (no clicks)."""
    t = np.arange(first, last) / sample_rate
    tone = BLEEP_LEVEL * np.sin(2 * np.pi * BLEEP_FREQ_HZ * t)
    fade = min(len(tone) // 2, int(0.005 * sample_rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
    return tone.astype(np.float32)
