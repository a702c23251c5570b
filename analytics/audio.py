"""Audio stage: decode, split channels per speaker, detect speech, measure loudness, bleep.

Everything works on float32 arrays at 16 kHz (Whisper's rate). Recordings keep their
channels: on a stereo call each party has its own channel, which is how we tell the agent
from the customer without a diarisation model.

A call is never held in memory whole: :func:`listen` decodes it in blocks of BLOCK_S
seconds and keeps only what later stages need (frame levels, speech masks, the speech
itself), and :func:`bleep` streams block by block from decoder to encoder. A two-hour
call of silence costs what one block costs. The whole-array functions (:func:`decode`,
:func:`speech_activity`, :func:`segment_loudness`) remain for short clips and tests.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

# Decoding and speech detection work on blocks this long (a multiple of the 20 ms frame
# and of Silero's 512-sample window): memory per call is a few blocks, whatever its length.
BLOCK_S = 64
# Speech detection for transcription (Silero VAD): pad speech generously (Whisper needs
# the word edges) and drop only clear silences, so no word is cut; pieces of at most
# one Whisper window.
TRANSCRIBE_VAD = {"min_silence_duration_ms": 500, "speech_pad_ms": 400}
CLIP_MAX_S = 30
# A speech piece ending this close to the end of a block may go on in the next block:
# it is carried over and detected again with the next block.
CARRY_MARGIN_S = 2.0
_BLOCK_UNIT = 2560  # samples: the least common multiple of a 20 ms frame and 512

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


def decode(
    path: Path | BinaryIO, sample_rate: int = SAMPLE_RATE, max_duration_s: float | None = None
) -> DecodedAudio:
    """Decode a recording to float32 at ``sample_rate``, keeping mono or stereo.

    Recordings with more than two channels are down-mixed to stereo. ``path`` may also
    be a binary file object (in-memory audio). The whole call is in memory: for a call of
    any length use :func:`decode_blocks` or :func:`listen`.

    Raises:
        AudioError: the file is missing, not audio, has no decodable samples, or is
            longer than ``max_duration_s``.
    """
    blocks = list(decode_blocks(path, sample_rate=sample_rate, max_duration_s=max_duration_s))
    return DecodedAudio(samples=np.concatenate(blocks, axis=1), sample_rate=sample_rate)


def decode_blocks(
    path: Path | BinaryIO,
    block_s: float = BLOCK_S,
    sample_rate: int = SAMPLE_RATE,
    max_duration_s: float | None = None,
    name: str | None = None,
) -> Iterator[np.ndarray]:
    """Decode a recording block by block: float32 ``(channels, n)`` arrays of ``block_s``.

    Every block but the last has exactly ``block_s`` seconds. ``name`` names a file
    object in error messages (default: the path).

    Raises:
        AudioError: as :func:`decode`; a recording longer than ``max_duration_s`` is
            refused as soon as decoding passes the limit.
    """
    if isinstance(path, str):
        path = Path(path)
    label = name or str(path)
    block_n = max(1, round(block_s * sample_rate))
    limit = None if max_duration_s is None else round(max_duration_s * sample_rate)
    total = 0
    try:
        for block in _rebuffer(_decode_frames(path, sample_rate), block_n):
            total += block.shape[1]
            if limit is not None and total > limit:
                raise AudioError(
                    f"{label}: longer than max_duration_s = {max_duration_s:g} s; "
                    "raise the setting to process it",
                    path=label,
                )
            yield block
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(f"{label}: cannot decode audio ({_reason(exc)})", path=label) from None
    if total == 0:
        raise AudioError(f"{label}: no audio samples", path=label)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _decode_frames(path: Path | BinaryIO, sample_rate: int) -> Iterator[np.ndarray]:
    """Resampled ``(channels, n)`` pieces as FFmpeg decodes them (mono or stereo)."""
    source = str(path) if isinstance(path, Path) else path
    with av.open(source, mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError(f"{path}: no audio stream", path=str(path))
        stream = container.streams.audio[0]
        channels = 1 if (stream.channels or 1) == 1 else 2
        resampler = av.AudioResampler(
            format="fltp", layout="mono" if channels == 1 else "stereo", rate=sample_rate
        )
        yield np.zeros((channels, 0), dtype=np.float32)  # tells the channel count
        for frame in _valid_frames(container.decode(stream)):
            frame.pts = None  # timestamps of some containers confuse the resampler
            for out in resampler.resample(frame):
                yield out.to_ndarray()
        for out in resampler.resample(None):
            yield out.to_ndarray()


def _rebuffer(pieces: Iterable[np.ndarray], block_n: int) -> Iterator[np.ndarray]:
    """Cut a stream of ``(channels, n)`` pieces into blocks of ``block_n`` samples."""
    held: list[np.ndarray] = []
    count = 0
    channels = 1
    for piece in pieces:
        channels = piece.shape[0]
        held.append(piece)
        count += piece.shape[1]
        while count >= block_n:
            joined = np.concatenate(held, axis=1)
            yield np.ascontiguousarray(joined[:, :block_n], dtype=np.float32)
            held, count = [joined[:, block_n:]], joined.shape[1] - block_n
    if count or not held:
        joined = np.concatenate(held, axis=1) if held else np.zeros((channels, 0), np.float32)
        if joined.shape[1]:
            yield np.ascontiguousarray(joined, dtype=np.float32)


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
OPUS_DITHER = 1e-5


def encode(samples: np.ndarray, out_path: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float32 ``(channels, n)`` samples to ``out_path``; the suffix picks the format.

    ``.wav`` (16-bit PCM), ``.flac``, ``.ogg``/``.opus`` (Opus, re-sampled to 48 kHz when
    Opus cannot take ``sample_rate``) and ``.mp3``.

    Raises:
        AudioError: unknown suffix, or FFmpeg could not write the file.
    """
    return encode_blocks([np.atleast_2d(np.asarray(samples, np.float32))], out_path, sample_rate)


def encode_blocks(
    blocks: Iterable[np.ndarray], out_path: Path, sample_rate: int = SAMPLE_RATE
) -> Path:
    """As :func:`encode`, from ``(channels, n)`` blocks written as they come."""
    out_path = Path(out_path)
    codec = _CODECS.get(out_path.suffix.lower())
    if codec is None:
        raise AudioError(f"{out_path}: unsupported output format {out_path.suffix!r}")
    try:
        _encode(iter(blocks), out_path, sample_rate, codec)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(
            f"{out_path}: cannot write audio ({_reason(exc)})", errno=getattr(exc, "errno", None)
        ) from None
    return out_path


def _encode(blocks: Iterator[np.ndarray], out_path: Path, sample_rate: int, codec: str) -> None:
    first = np.atleast_2d(np.asarray(next(blocks), dtype=np.float32))
    layout = "mono" if first.shape[0] == 1 else "stereo"
    is_opus = codec == "libopus"
    rate = 48000 if is_opus and sample_rate not in OPUS_RATES else sample_rate
    with av.open(str(out_path), mode="w", format="ogg" if is_opus else None) as container:
        stream: av.audio.stream.AudioStream = container.add_stream(  # type: ignore[call-overload,assignment]
            codec, rate=rate, layout=layout
        )
        if is_opus:
            stream.bit_rate = OPUS_BIT_RATE * first.shape[0]
        # The resampler also cuts the audio into the frame size the encoder needs.
        resampler = av.AudioResampler(
            format=stream.format.name,
            layout=layout,
            rate=rate,
            frame_size=stream.frame_size or None,
        )
        dither = np.random.default_rng(0)
        for block in itertools.chain([first], blocks):
            if is_opus:
                # libopus is several times slower on digital silence (hours of it in a
                # long call); noise at -100 dBFS, below 16-bit resolution, avoids that.
                block = block + OPUS_DITHER * dither.standard_normal(block.shape, np.float32)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(np.clip(block, -1.0, 1.0), dtype=np.float32),
                format="fltp",
                layout=layout,
            )
            frame.sample_rate = sample_rate
            for chunk in resampler.resample(frame):
                container.mux(stream.encode(chunk))
        for chunk in resampler.resample(None):
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
    return _split(audio.samples, layout, dual_mono=is_dual_mono(audio.samples))


def _split(
    samples: np.ndarray, layout: ChannelLayout, dual_mono: bool
) -> dict[Speaker, np.ndarray]:
    if layout == "mono" or samples.shape[0] == 1 or dual_mono:
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
    voiced = {
        spk: _vad_mask(_to_16k(x, sample_rate), len(frame_db[spk])) for spk, x in channels.items()
    }
    return activity_from_frames(frame_db, voiced, duration_s)


def activity_from_frames(
    frame_db: Mapping[Speaker, np.ndarray],
    voiced: Mapping[Speaker, np.ndarray],
    duration_s: float,
) -> SpeechActivity:
    """Speech intervals from each speaker's frame levels and VAD frames (FRAME_S each)."""
    intervals: dict[Speaker, tuple[Interval, ...]] = {}
    for speaker, mask in voiced.items():
        own = mask & _own_voice_mask(speaker, frame_db)
        intervals[speaker] = _mask_to_intervals(own, duration_s)
        logger.debug("speech activity: %s has %d intervals", speaker, len(intervals[speaker]))
    return SpeechActivity(duration_s=duration_s, intervals=intervals)


# --- a whole call, block by block ----------------------------------------------------------


@dataclass(frozen=True)
class SpeechClip:
    """A stretch of one speaker's speech (for transcription); ``start`` in call samples."""

    speaker: Speaker
    start: int
    samples: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class HeardCall:
    """What the later stages need of a call, without its audio.

    ``levels``: each speaker's level in dBFS per FRAME_S frame (loudness, bleed);
    ``speech``: the stretches of speech to transcribe, bleed silenced. Their memory
    grows with the speech in the call, not with its length.
    """

    duration_s: float
    activity: SpeechActivity
    levels: Mapping[Speaker, np.ndarray] = field(repr=False)
    speech: tuple[SpeechClip, ...] = field(repr=False)
    # The decoded audio, kept for bleeping (listen(keep_audio=True)); close() frees it.
    audio: PcmSpool | None = field(default=None, repr=False, compare=False)

    def close(self) -> None:
        if self.audio is not None:
            self.audio.close()

    def loudness(self, segments: Sequence[tuple[Speaker, float, float]]) -> list[float | None]:
        """Loudness in dBFS of each segment, as :func:`segment_loudness` measures it."""
        out: list[float | None] = []
        for speaker, start, end in segments:
            levels = self.levels.get(speaker)
            if levels is None:
                out.append(None)
                continue
            first = max(0, int(np.floor(start / FRAME_S + 1e-9)))
            last = max(0, int(np.floor(end / FRAME_S + 1e-9)))
            out.append(_active_level_db(levels[first:last]))
        return out


def listen(
    path: Path | BinaryIO,
    layout: ChannelLayout,
    *,
    max_duration_s: float | None = None,
    block_s: float = BLOCK_S,
    keep_audio: bool = False,
    name: str | None = None,
) -> HeardCall:
    """Decode a call once and keep what the later stages need (:class:`HeardCall`).

    One decode: the blocks go to an unnamed temporary file (:class:`PcmSpool`) while the
    length is checked against ``max_duration_s`` and a dual-mono copy is told from two
    parties (streaming correlation); the analysis then reads the blocks back from it.
    One speech detection per channel: Silero VAD's speech probabilities are computed
    once on each (bleed-silenced) channel, and both the speech activity (tight
    boundaries) and the speech to transcribe (generous padding) are read from them.
    Memory stays a few blocks whatever the call's length.

    Args:
        path: the recording, or its bytes as a binary file object (``name`` then names
            it in error messages).
        keep_audio: keep the decoded audio in ``HeardCall.audio`` for :func:`bleep_heard`
            (the caller closes it with :meth:`HeardCall.close`).

    Raises:
        AudioError: the file cannot be decoded, or it is longer than ``max_duration_s``.
    """
    # Blocks of whole 20 ms frames and whole 512-sample VAD windows (a multiple of 0.16 s),
    # so per-block frames and VAD windows line up with the call's.
    block_s = max(1, round(block_s * SAMPLE_RATE / _BLOCK_UNIT)) * _BLOCK_UNIT / SAMPLE_RATE
    spool = PcmSpool()
    try:
        dual = _stream_dual_mono(
            spool.record(decode_blocks(path, block_s, max_duration_s=max_duration_s, name=name))
        )
        heard = _hear(spool, layout, dual)
    except BaseException:
        spool.close()
        raise
    if not keep_audio:
        spool.close()
        return heard
    return replace(heard, audio=spool)


def _hear(spool: PcmSpool, layout: ChannelLayout, dual: bool) -> HeardCall:
    """Levels, VAD probabilities (one pass per channel), then activity and speech clips."""
    frames: dict[Speaker, list[np.ndarray]] = {}
    probs: dict[Speaker, list[np.ndarray]] = {}
    for block in spool.blocks():
        channels = _split(block, layout, dual)
        levels = {spk: _frame_db(samples) for spk, samples in channels.items()}
        for speaker, cleaned in _silence_bleed(channels, levels).items():
            frames.setdefault(speaker, []).append(levels[speaker])
            probs.setdefault(speaker, []).append(speech_probabilities(cleaned))
    n = spool.samples
    duration_s = n / SAMPLE_RATE
    levels = {spk: np.concatenate(parts) for spk, parts in frames.items()}
    voiced: dict[Speaker, np.ndarray] = {}
    stamps: dict[Speaker, list[dict[str, int]]] = {}
    for speaker, parts in probs.items():
        p = np.concatenate(parts)
        voiced[speaker] = _stamps_to_mask(
            timestamps_from_probabilities(p, n, _ACTIVITY_VAD), len(levels[speaker])
        )
        stamps[speaker] = timestamps_from_probabilities(p, n, _TRANSCRIBE_READING)
    return HeardCall(
        duration_s=duration_s,
        activity=activity_from_frames(levels, voiced, duration_s),
        levels=levels,
        speech=tuple(_cut_clips(spool, layout, dual, levels, stamps)),
    )


def _cut_clips(
    spool: PcmSpool,
    layout: ChannelLayout,
    dual: bool,
    levels: Mapping[Speaker, np.ndarray],
    stamps: Mapping[Speaker, list[dict[str, int]]],
) -> list[SpeechClip]:
    """The speech pieces' samples (bleed silenced), read back from the spool."""
    wanted = [(spk, s["start"], s["end"]) for spk, found in stamps.items() for s in found]
    if not wanted:
        return []
    parts: dict[int, list[np.ndarray]] = {i: [] for i in range(len(wanted))}
    hop = int(FRAME_S * SAMPLE_RATE)
    offset = 0
    for block in spool.blocks():
        end = offset + block.shape[1]
        channels = _split(block, layout, dual)
        first = offset // hop
        block_levels = {
            spk: lv[first : first + -(-block.shape[1] // hop)] for spk, lv in levels.items()
        }
        cleaned = _silence_bleed(channels, block_levels)
        for index, (speaker, start, stop) in enumerate(wanted):
            lo, hi = max(start, offset), min(stop, end)
            if hi > lo:
                parts[index].append(cleaned[speaker][lo - offset : hi - offset])
        offset = end
    clips = [
        SpeechClip(speaker, start, np.concatenate(parts[i]).astype(np.float32, copy=False))
        for i, (speaker, start, _) in enumerate(wanted)
        if parts[i]
    ]
    return sorted(clips, key=lambda clip: (clip.start, clip.speaker))


class PcmSpool:
    """A call's decoded blocks in an unnamed temporary file: decoded once, read many times.

    The file has no name (the kernel frees it when it is closed or the process dies, so
    a killed worker leaves nothing behind) and is only ever audio, never text.
    """

    def __init__(self) -> None:
        self._file: BinaryIO | None = tempfile.TemporaryFile(prefix="callqa-pcm-")  # noqa: SIM115 (closed by close())
        self._shapes: list[tuple[int, int]] = []

    @property
    def samples(self) -> int:
        return sum(n for _, n in self._shapes)

    @property
    def channels(self) -> int:
        return self._shapes[0][0] if self._shapes else 1

    def record(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass the blocks on, writing each to the spool."""
        handle = self._open()
        for block in blocks:
            data = np.ascontiguousarray(block, dtype=np.float32)
            handle.write(data.tobytes())
            self._shapes.append(data.shape)
            yield block
        handle.flush()

    def blocks(self) -> Iterator[np.ndarray]:
        """The recorded blocks, in order (a fresh copy of each)."""
        handle = self._open()
        handle.seek(0)
        for channels, n in self._shapes:
            raw = handle.read(channels * n * 4)
            yield np.frombuffer(raw, dtype=np.float32).reshape(channels, n).copy()

    def _open(self) -> BinaryIO:
        if self._file is None:
            raise ValueError("the decoded audio was closed")
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def speech_clips(channels: Mapping[Speaker, np.ndarray]) -> list[SpeechClip]:
    """The speech to transcribe of whole channels (16 kHz), bleed silenced first."""
    clips: list[SpeechClip] = []
    for speaker, samples in suppress_bleed(channels).items():
        finder = _ClipFinder(speaker)
        finder.feed(samples, 0)
        clips.extend(finder.finish())
    return clips


class _ClipFinder:
    """Silero VAD over one speaker's blocks; a piece still going at a block's end is
    carried into the next block, so no piece is cut at a block boundary."""

    def __init__(self, speaker: Speaker) -> None:
        from faster_whisper.vad import VadOptions

        self.speaker = speaker
        self.options = VadOptions(**TRANSCRIBE_VAD, max_speech_duration_s=CLIP_MAX_S)
        self.carry = np.zeros(0, np.float32)
        self.carry_start = 0
        self.clips: list[SpeechClip] = []

    def feed(self, samples: np.ndarray, start: int) -> None:
        if len(self.carry):
            self._scan(np.concatenate([self.carry, samples]), self.carry_start, final=False)
        else:
            self._scan(samples, start, final=False)

    def finish(self) -> list[SpeechClip]:
        if len(self.carry):
            self._scan(self.carry, self.carry_start, final=True)
        return self.clips

    def _scan(self, buffer: np.ndarray, start: int, final: bool) -> None:
        import faster_whisper.vad

        # Looked up on the module at each call: tests stand a simple detector in for it.
        stamps = (
            faster_whisper.vad.get_speech_timestamps(buffer, self.options) if np.any(buffer) else []
        )
        settled = len(buffer) if final else max(0, len(buffer) - int(CARRY_MARGIN_S * SAMPLE_RATE))
        keep_from = len(buffer) if final else settled
        for stamp in stamps:
            if not final and stamp["end"] >= settled:
                keep_from = min(keep_from, stamp["start"])
                break
            piece = buffer[stamp["start"] : stamp["end"]].copy()
            self.clips.append(SpeechClip(self.speaker, start + stamp["start"], piece))
        self.carry = buffer[keep_from:].copy()
        self.carry_start = start + keep_from


def _stream_dual_mono(blocks: Iterable[np.ndarray]) -> bool:
    """:func:`is_dual_mono` over a stream of blocks (running sums, in float64)."""
    sums = np.zeros(5)  # x, y, xx, yy, xy
    n = 0
    two_channels = True
    for block in blocks:
        if not two_channels or block.shape[0] != 2:
            # Not two channels: not dual mono, but the stream is still read to its end
            # (the blocks are recorded as they pass; stopping here cut a mono call to
            # its first block, 64 s).
            two_channels = False
            continue
        x, y = block[0].astype(np.float64), block[1].astype(np.float64)
        sums += (x.sum(), y.sum(), x @ x, y @ y, x @ y)
        n += len(x)
    if not two_channels:
        return False
    sx, sy, sxx, syy, sxy = sums
    var_x, var_y = n * sxx - sx * sx, n * syy - sy * sy
    if n == 0 or var_x <= 0 or var_y <= 0:
        return False
    correlation = (n * sxy - sx * sy) / np.sqrt(var_x * var_y)
    return bool(correlation >= DUAL_MONO_CORRELATION)


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
    return _silence_bleed(channels, levels, hop)


def _silence_bleed(
    channels: Mapping[Speaker, np.ndarray],
    levels: Mapping[Speaker, np.ndarray],
    hop: int = int(FRAME_S * SAMPLE_RATE),
) -> dict[Speaker, np.ndarray]:
    """:func:`suppress_bleed` given each channel's frame levels (``hop`` samples each)."""
    if len(channels) < 2:
        return dict(channels)
    cleaned: dict[Speaker, np.ndarray] = {}
    for speaker, samples in channels.items():
        own = levels[speaker]
        bleed = np.zeros(len(own), dtype=bool)
        for other, other_levels in levels.items():
            if other != speaker:
                n = min(len(own), len(other_levels))
                bleed[:n] |= other_levels[:n] - own[:n] >= BLEED_MARGIN_DB
        keep = np.repeat(~bleed, hop)[: len(samples)]
        cleaned[speaker] = np.where(keep, samples, np.float32(0.0)).astype(np.float32, copy=False)
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
    if len(samples) == 0 or not np.any(samples):
        return np.zeros(n_frames, dtype=bool)
    found = timestamps_from_probabilities(
        speech_probabilities(samples), len(samples), _ACTIVITY_VAD
    )
    return _stamps_to_mask(found, n_frames)


def _stamps_to_mask(stamps: Sequence[Mapping[str, int]], n_frames: int) -> np.ndarray:
    mask = np.zeros(n_frames, dtype=bool)
    hop = int(FRAME_S * SAMPLE_RATE)
    for chunk in stamps:
        mask[chunk["start"] // hop : -(-chunk["end"] // hop)] = True
    return mask


# --- Silero VAD, one pass ------------------------------------------------------------------
#
# faster-whisper's get_speech_timestamps runs the Silero model and then reads speech
# pieces from its probabilities. callqa needs two readings of the same channel (tight
# speech activity, generously padded pieces for Whisper): the model runs once
# (speech_probabilities) and timestamps_from_probabilities reads the pieces, with the
# very rules of faster-whisper 1.2's get_speech_timestamps (MIT, from silero-vad).

VAD_WINDOW = 512


@dataclass(frozen=True)
class VadReading:
    """How speech pieces are read from Silero's probabilities (faster-whisper's options)."""

    threshold: float = VAD_THRESHOLD
    min_speech_duration_ms: int = 0
    max_speech_duration_s: float = float("inf")
    min_silence_duration_ms: int = 2000
    speech_pad_ms: int = 400


_ACTIVITY_VAD = VadReading(
    min_speech_duration_ms=VAD_MIN_SPEECH_MS,
    min_silence_duration_ms=VAD_MIN_SILENCE_MS,
    speech_pad_ms=VAD_SPEECH_PAD_MS,
)


_TRANSCRIBE_READING = VadReading(
    min_silence_duration_ms=TRANSCRIBE_VAD["min_silence_duration_ms"],
    speech_pad_ms=TRANSCRIBE_VAD["speech_pad_ms"],
    max_speech_duration_s=CLIP_MAX_S,
)


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero VAD's speech probability of each 512-sample window of 16 kHz ``samples``.

    The last window is zero-padded; silence (all zeros) skips the model.
    """
    n_windows = -(-len(samples) // VAD_WINDOW)
    if n_windows == 0 or not np.any(samples):
        return np.zeros(n_windows, np.float32)
    from faster_whisper.vad import get_vad_model

    padded = np.zeros(n_windows * VAD_WINDOW, np.float32)
    padded[: len(samples)] = samples
    return np.asarray(get_vad_model()(padded), np.float32).reshape(-1)[:n_windows]


def timestamps_from_probabilities(
    probs: np.ndarray, n_samples: int, reading: VadReading
) -> list[dict[str, int]]:
    """Speech pieces (``start``/``end`` in samples) from per-window probabilities."""
    rate = SAMPLE_RATE
    window = VAD_WINDOW
    threshold = reading.threshold
    neg_threshold = max(threshold - 0.15, 0.01)
    min_speech = rate * reading.min_speech_duration_ms / 1000
    pad = rate * reading.speech_pad_ms / 1000
    max_speech = rate * reading.max_speech_duration_s - window - 2 * pad
    min_silence = rate * reading.min_silence_duration_ms / 1000
    min_silence_at_max = rate * 98 / 1000
    triggered = False
    speeches: list[dict[str, int]] = []
    current: dict[str, int] = {}
    temp_end = prev_end = next_start = 0
    for i, prob in enumerate(probs):
        if prob >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = window * i
        if prob >= threshold and not triggered:
            triggered = True
            current["start"] = window * i
            continue
        if triggered and window * i - current["start"] > max_speech:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = window * i
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if prob < neg_threshold and triggered:
            if not temp_end:
                temp_end = window * i
            if window * i - temp_end > min_silence_at_max:
                prev_end = temp_end
            if window * i - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            continue
    if current and n_samples - current["start"] > min_speech:
        current["end"] = n_samples
        speeches.append(current)
    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * pad:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + pad))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + pad))
    return speeches


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
    return _active_level_db(10.0 * np.log10(np.maximum(power, 1e-12)))


def _active_level_db(frame_db: np.ndarray) -> float | None:
    """RMS level of the frames within FLOOR_BELOW_PEAK_DB of the loudest (None if silent)."""
    if len(frame_db) == 0:
        return None
    frame_db = frame_db.astype(np.float64)
    active = frame_db > max(SILENCE_DBFS, frame_db.max() - FLOOR_BELOW_PEAK_DB)
    if not active.any():
        return None
    power = 10.0 ** (frame_db[active] / 10.0)
    return round(float(10.0 * np.log10(power.mean())), 2)


# --- bleeping ------------------------------------------------------------------------------


def bleep(
    source: Path | PcmSpool,
    spans: Sequence[tuple[float, float]],
    out_path: Path,
    pad_s: float = 0.25,
    block_s: float = BLOCK_S,
) -> Path:
    """Write a copy of ``source`` where each span is replaced by a 1 kHz tone.

    Each span is widened by ``pad_s`` on both sides and clipped to the recording; all
    channels are bleeped. The copy is 16 kHz; its format follows ``out_path``'s suffix:
    ``.ogg`` gives Opus in Ogg (small and seekable in browsers: the one callqa uses),
    ``.flac`` lossless FLAC. It streams block by block from the decoder to the encoder,
    into a temporary file then moved into place, so a crash never leaves a half-written
    copy and a long call never sits in memory.

    ``source`` may be the decoded audio :func:`listen` kept (``keep_audio=True``): the
    call is then not decoded again.

    Raises:
        AudioError: ``source`` cannot be decoded or the copy cannot be written (with
            ``details["errno"]`` when the file system refused, e.g. a full disk).
    """
    out_path = Path(out_path)
    rate = SAMPLE_RATE
    widened = sorted(
        (max(0, int((start - pad_s) * rate)), int(np.ceil((end + pad_s) * rate)))
        for start, end in spans
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{out_path.stem}.", suffix=out_path.suffix, dir=out_path.parent
    )
    os.close(fd)
    try:
        encode_blocks(_bleeped_blocks(source, widened, rate, block_s), Path(tmp_name), rate)
        os.replace(tmp_name, out_path)
    except OSError as exc:
        raise AudioError(
            f"{out_path}: cannot write bleeped audio ({_reason(exc)})", errno=exc.errno
        ) from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    logger.info("bleeped %d spans into %s", len(spans), out_path.name)
    return out_path


def _bleeped_blocks(
    source: Path | PcmSpool, spans: Sequence[tuple[int, int]], rate: int, block_s: float
) -> Iterator[np.ndarray]:
    """The source's blocks, each span (in samples) replaced by the tone."""
    offset = 0
    blocks = (
        source.blocks()
        if isinstance(source, PcmSpool)
        else decode_blocks(source, block_s, sample_rate=rate)
    )
    for block in blocks:
        end = offset + block.shape[1]
        for first, last in spans:
            lo, hi = max(first, offset), min(last, end)
            if hi > lo:
                block[:, lo - offset : hi - offset] = _tone(first, last, rate)[
                    lo - first : hi - first
                ]
        yield block
        offset = end


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
