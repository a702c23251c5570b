"""Audio probing: what a recording holds (codec, channels, rate, duration), truncation, content hash."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import av

from analytics.errors import InputError
from analytics.models import (
    AudioInfo,
)

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".m4a", ".mp4", ".aac"}
)
MIN_RATE, MAX_RATE = 8000, 48000
# A file shorter than this share of the duration its header announces is truncated.
_TRUNCATION_TOLERANCE = 0.9


def probe(path: Path, max_duration_s: float | None = None) -> AudioInfo:
    """Open and fully decode a recording to check it; raises InputError with the reason.

    A recording longer than ``max_duration_s`` is refused from its header, before
    decoding, or as soon as decoding passes the limit when the header does not say.
    """
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    if size == 0:
        raise InputError(source, "empty file")
    try:
        truncated = _container_truncation(path, size)
    except OSError as exc:
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    if truncated:
        raise InputError(source, truncated)
    try:
        # A short probe first: FFmpeg's default reads up to 5 MB to guess what the
        # full decode below tells us anyway. Whatever it cannot read gets the full probe.
        return _decode_all(path, _FAST_PROBE, max_duration_s)
    except _TooLong as exc:
        raise InputError(source, str(exc)) from None
    except InputError:
        try:
            return _decode_all(path, {}, max_duration_s)
        except _TooLong as exc:
            raise InputError(source, str(exc)) from None


class _TooLong(Exception):
    """Longer than max_duration_s (final: not retried with the full probe)."""

    def __init__(self, seconds: float, limit: float, known: str) -> None:
        super().__init__(
            f"{known} {seconds:.0f} s, longer than max_duration_s = {limit:g} s "
            "(raise the setting to import it)"
        )


_FAST_PROBE = {"probesize": "8192"}


def _decode_all(path: Path, options: dict[str, str], max_duration_s: float | None) -> AudioInfo:
    source = str(path)
    opened = False
    decoded_samples = 0
    rate = 0
    declared: float | None = None
    try:
        with av.open(str(path), metadata_errors="ignore", options=options) as container:
            opened = True
            if not container.streams.audio:
                raise InputError(source, "not an audio file (no audio stream)")
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            rate = stream.codec_context.sample_rate or stream.rate or 0
            channels = stream.codec_context.channels
            declared = _declared_duration(container, stream)
            if max_duration_s is not None and declared and declared > max_duration_s:
                raise _TooLong(declared, max_duration_s, "its header announces")
            limit = max_duration_s * rate if max_duration_s is not None and rate else None
            for frame in container.decode(stream):
                decoded_samples += frame.samples
                if limit is not None and decoded_samples > limit:
                    raise _TooLong(decoded_samples / rate, max_duration_s or 0, "decoding passed")
            container_name = container.format.name
    except InputError:
        raise
    except PermissionError as exc:  # PyAV's own PermissionError is one too
        raise InputError(source, f"cannot read the file ({exc.strerror})") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            source, _decode_failure(exc, opened, decoded_samples, rate, declared)
        ) from None
    return _check_audio(source, decoded_samples, rate, channels, declared, codec, container_name)


def _decode_failure(
    exc: Exception, opened: bool, decoded_samples: int, rate: int, declared: float | None
) -> str:
    kind = type(exc).__name__
    if not opened:
        return f"not an audio file or corrupt ({kind})"
    if decoded_samples and rate:
        done = decoded_samples / rate
        of = f" of {declared:.1f} s announced" if declared else ""
        return f"truncated or corrupt: decoding stopped after {done:.1f} s{of} ({kind})"
    return f"corrupt audio ({kind})"


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _check_audio(
    source: str,
    decoded_samples: int,
    rate: int,
    channels: int,
    declared: float | None,
    codec: str,
    container_name: str,
) -> AudioInfo:
    if decoded_samples == 0 or not rate:
        raise InputError(source, "not an audio file or corrupt (no audio could be decoded)")
    if not (MIN_RATE <= rate <= MAX_RATE):
        raise InputError(source, f"sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if channels not in (1, 2):
        raise InputError(source, f"{channels} channels: only mono and stereo are supported")
    duration = decoded_samples / rate
    if declared and declared > 0.5 and duration < declared * _TRUNCATION_TOLERANCE:
        raise InputError(
            source, f"truncated: {duration:.1f} s decoded of {declared:.1f} s announced"
        )
    return AudioInfo(
        duration_s=round(duration, 3),
        channels=channels,
        sample_rate=rate,
        codec=codec,
        container=container_name,
    )


def _container_truncation(path: Path, size: int) -> str | None:
    """Truncation that decoding alone does not reveal, from the container's own framing."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return _riff_truncation(head, size)
        if head[:4] == b"OggS":
            handle.seek(max(0, size - _OGG_TAIL))
            return _ogg_truncation(handle.read())
    return None


# A RIFF size may miss the pad byte or its own 8-byte header; anything more is missing.
_RIFF_SLACK = 8


def _riff_truncation(head: bytes, size: int) -> str | None:
    """A WAV whose RIFF header announces more bytes than the file has was cut short."""
    field = int.from_bytes(head[4:8], "little")
    if field in (0, 0xFFFFFFFF):
        return None  # written by a streaming recorder that never knew the length
    announced = field + 8
    if size + _RIFF_SLACK < announced:
        return f"truncated: {size} bytes of the {announced} its header announces"
    return None


_OGG_TAIL = 1 << 16  # an Ogg page is at most 65,307 bytes
_OGG_EOS = 0x04


def _ogg_truncation(tail: bytes) -> str | None:
    """An Ogg stream ends with a whole page flagged end-of-stream; a cut one does not.

    (Ogg announces no length: a truncated file decodes cleanly, only shorter.)
    """
    start = tail.rfind(b"OggS")
    while start >= 0:
        header = tail[start : start + 27]
        if len(header) == 27 and header[4] == 0:  # version 0: a real page header
            lacing = tail[start + 27 : start + 27 + header[26]]
            end = start + 27 + header[26] + sum(lacing)
            if len(lacing) < header[26] or end > len(tail):
                return "truncated: the last Ogg page is cut short"
            if not header[5] & _OGG_EOS:
                return "truncated: the Ogg stream has no end-of-stream page"
            return None
        start = tail.rfind(b"OggS", 0, start)
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
