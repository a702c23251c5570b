"""Pending calls through the stages: transcribe → redact → quality + abuse → store.

Raw text exists only inside :func:`analyse_call`: the stage after transcription is
redaction, and only its output leaves the function. Each call's results are
committed in one transaction; a run killed mid-way leaves its calls in
``processing``, and the next run puts them back to ``pending`` first — no
duplicate, nothing lost, nothing half-written.

Calls are claimed one at a time, just before their audio is decoded, and the claim
re-checks the gates (still pending, not objected, not past retention), so a call
objected while ``process`` runs is never transcribed. A call interrupted
MAX_ATTEMPTS times (a run killed while on it, e.g. out of memory) is marked failed
so the calls behind it go on; calls interrupted once run alone, after the others.
The model is resolved and loaded before any call is claimed. A full disk stops the
run with a clear error and puts its calls back to pending.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tqdm import tqdm

from analytics import audio, audit, diarize
from analytics.config import Settings
from analytics.errors import CallqaError, ClusterError, DiskFullError, UsageError
from analytics.evaluations.automatic import record_for_call
from analytics.insights.service import categorize_call
from analytics.models import (
    AbuseReport,
    Call,
    CallAnalysis,
    PiiSpan,
    QualityReport,
    RedactedTranscript,
    SpeechActivity,
    VoiceStats,
)
from analytics.store import Store, queue, utcnow
from analytics.store.blobs import LocalBlobStore
from analytics.store.core import disk_full
from analytics.store.queue import MAX_ATTEMPTS, interrupted_reason
from analytics.store.writes import save_analysis, set_state

if TYPE_CHECKING:
    from analytics.abuse import AbuseConfig, AbuseModel
    from analytics.diarize import Diarizer
    from analytics.quality import QualityConfig
    from analytics.redact import Redactor
    from analytics.transcribe import Transcriber
    from analytics.voiceprint import VoiceprintConfig

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
EngineFactory = Callable[[Settings, int], "Engines"]


@dataclass
class Engines:
    """The heavy parts, built once per process and shared by the workers."""

    transcriber: Transcriber
    redactor: Redactor
    quality_config: QualityConfig
    abuse_config: AbuseConfig
    abuse_model: AbuseModel | None = None  # None: the lexicon rules alone
    diarizer: Diarizer | None = None  # mono calls; None: one with the default settings
    voiceprint_config: VoiceprintConfig | None = None  # None: voiceprints off


def build_engines(settings: Settings, workers: int = 1) -> Engines:
    from analytics.abuse import AbuseConfig, AbuseModel
    from analytics.diarize import DiarizeConfig, Diarizer
    from analytics.quality import QualityConfig
    from analytics.redact import RedactConfig, Redactor
    from analytics.transcribe import Transcriber
    from analytics.voiceprint import VoiceprintConfig

    abuse_config = AbuseConfig.from_settings(settings)
    return Engines(
        transcriber=Transcriber(
            settings.model,
            cache_dir=settings.model_cache_dir,
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            num_workers=max(1, workers),
            beam_size=settings.beam_size,
            batch_size=settings.batch_size,
            encoder_pad_s=settings.encoder_pad_s,
        ),
        redactor=Redactor(RedactConfig.from_settings(settings)),
        quality_config=QualityConfig.from_settings(settings),
        abuse_config=abuse_config,
        abuse_model=AbuseModel.load() if abuse_config.model else None,
        diarizer=Diarizer(DiarizeConfig.from_settings(settings)),
        voiceprint_config=VoiceprintConfig.from_settings(settings),
    )


@dataclass
class ProcessReport:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # objected or expired while queued
    requeued: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)
    nodes: dict[str, int] = field(default_factory=dict)  # Ray: calls done per node id
    startup_s: float = 0.0  # Ray: joining the cluster and loading the actors' models

    def summary(self) -> str:
        rtf = self.wall_s / self.audio_s if self.audio_s else 0.0
        text = (
            f"{len(self.done)} processed, {len(self.failed)} failed, {len(self.skipped)} skipped; "
            f"{self.audio_s:.1f} s of audio in {self.wall_s:.1f} s (real-time factor {rtf:.2f})"
        )
        total = sum(self.stage_s.values())
        if total:
            shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in self.stage_s.items())
            text += f"; time by stage: {shares}"
        if self.nodes:
            text += f"; on {len(self.nodes)} Ray node(s)"
        return text


def _untimed_spans(
    transcript: RedactedTranscript, spans: Sequence[PiiSpan]
) -> list[tuple[float, float]]:
    """Audio spans to bleep: the entity's words, or its whole segment when untimed."""
    out = []
    for span in spans:
        if span.start_s is not None and span.end_s is not None:
            out.append((span.start_s, span.end_s))
        else:
            seg = transcript.segments[span.segment_index]
            out.append((seg.start, seg.end))
    return out


def analyse_call(
    call: Call,
    engines: Engines,
    settings: Settings,
    *,
    recording: bytes | None = None,
) -> CallAnalysis:
    """Run one call through every stage; only redacted results come out.

    The call is decoded once and Silero VAD runs once per channel (:func:`audio.listen`);
    transcription, quality, loudness and the redacted copy all read that one pass.

    Args:
        recording: the recording's bytes, for a worker that cannot read the workspace
            (a Ray actor on another machine); the redacted audio then comes back as
            bytes in ``CallAnalysis.redacted_audio`` instead of being written here.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # What comes out is levels, speech masks and the speech itself, never the whole
    # call's samples (a long call costs what a short one does); the decoded audio waits
    # in an unnamed temporary file for the bleeping.
    source: Path | BinaryIO = call.audio_path if recording is None else io.BytesIO(recording)
    heard = audio.listen(
        source,
        call.channel_layout,
        max_duration_s=settings.max_duration_s,
        keep_audio=settings.redacted_audio,
        name=call.call_id if recording is not None else None,
    )
    try:
        timings["audio"] = time.perf_counter() - started
        redacted, quality, abuse, activity, voice = _understand(call, heard, engines, timings)
        redacted_audio_path: Path | None = None
        redacted_audio: bytes | None = None
        if settings.redacted_audio and heard.audio is not None:
            mark = time.perf_counter()
            spans = _untimed_spans(redacted, redacted.pii_spans)
            if recording is None:
                blobs = LocalBlobStore(settings)
                with blobs.writing("redacted-audio", f"{call.audio_sha256}.ogg") as target:
                    redacted_audio_path = audio.bleep(heard.audio, spans, target)
            else:
                redacted_audio = _bleep_to_bytes(heard.audio, spans)
            timings["redacted_audio"] = time.perf_counter() - mark
    finally:
        heard.close()
    return CallAnalysis(
        transcript=redacted,
        quality=quality,
        abuse=abuse,
        redacted_audio_path=redacted_audio_path,
        timings_s=timings,
        activity=activity,
        redacted_audio=redacted_audio,
        agent_voice=voice.stats,
        agent_voice_source=voice.source,
        voiceprint_used=voice.used,
    )


@dataclass(frozen=True)
class _AgentVoice:
    """The agent's voice found in a call (voiceprints on), and whether a print was used."""

    stats: VoiceStats | None = None
    source: str = ""
    used: bool = False


def _voiceprints_on(call: Call, engines: Engines) -> bool:
    config = engines.voiceprint_config
    return bool(config is not None and config.enabled and call.agent_id)


def _understand(
    call: Call, heard: audio.HeardCall, engines: Engines, timings: dict[str, float]
) -> tuple[RedactedTranscript, QualityReport, AbuseReport, SpeechActivity, _AgentVoice]:
    """Transcribe, redact, then quality and abuse: the raw transcript ends in here."""
    from analytics import voiceprint
    from analytics.abuse import detect_abuse
    from analytics.quality import compute_quality

    activity = heard.activity
    diarization = None
    voices: dict[int, VoiceStats] = {}
    agent_voice = _AgentVoice()
    if set(heard.levels) == {"unknown"}:
        # A mono call: its voices are separated from the speech clips listen() already
        # holds (no second decode, no whole-call samples).
        mark = time.perf_counter()
        diarization = _diarizer(engines).diarize_clips(
            heard.speech, activity.of("unknown"), heard.duration_s
        )
        if _voiceprints_on(call, engines) and diarization.speakers == 2:
            assert engines.voiceprint_config is not None
            voices = voiceprint.stats_by_voice(heard.speech, diarization, engines.voiceprint_config)
        timings["diarize"] = time.perf_counter() - mark
    elif _voiceprints_on(call, engines):
        assert engines.voiceprint_config is not None
        stats = voiceprint.channel_stats(heard.speech, "agent", engines.voiceprint_config)
        agent_voice = _AgentVoice(stats, "stereo" if stats is not None else "")

    mark = time.perf_counter()
    raw = engines.transcriber.transcribe_speech(
        call.call_id, heard.speech, heard.duration_s, call.language
    )
    timings["transcribe"] = time.perf_counter() - mark

    mark = time.perf_counter()
    tags = None
    if diarization is not None:
        raw, tags = diarize.split_by_voice(raw, diarization)
    redacted = engines.redactor.redact(raw)
    del raw  # the raw transcript ends here, in memory
    timings["redact"] = time.perf_counter() - mark

    mark = time.perf_counter()
    loudness = heard.loudness([(s.speaker, s.start, s.end) for s in redacted.segments])
    segments = tuple(
        replace(seg, loudness_db=db) for seg, db in zip(redacted.segments, loudness, strict=True)
    )
    redacted = replace(redacted, segments=segments, duration_s=heard.duration_s)
    if diarization is not None and tags is not None:
        config = engines.voiceprint_config or voiceprint.VoiceprintConfig()
        logits = voiceprint.voice_logits(voices, call.voiceprint, config) if voices else {}
        diarize_config = _diarizer(engines).config
        redacted, activity, side = diarize.name_voices(
            redacted, tags, diarization, diarize_config, engines.quality_config, logits
        )
        agent_voice = _AgentVoice(used=side.voiceprint_used)
        named = voices.get(side.label) if side.label is not None else None
        enrol = (
            named is not None
            and side.text_scores.get(side.label or 0, 0.0) >= config.enrol_confidence
            and diarization.separation >= diarize_config.min_named_separation
        )
        if enrol:  # the words alone were sure: this voice is the agent's
            agent_voice = _AgentVoice(named, "mono", side.voiceprint_used)
    quality = compute_quality(redacted, activity, engines.quality_config)
    abuse = detect_abuse(redacted, engines.abuse_config, engines.abuse_model)
    timings["analyse"] = time.perf_counter() - mark
    return redacted, quality, abuse, activity, agent_voice


def _bleep_to_bytes(decoded: audio.PcmSpool, spans: Sequence[tuple[float, float]]) -> bytes:
    """The redacted copy as Ogg Opus bytes (written to a private temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="callqa-bleep-") as folder:
        return audio.bleep(decoded, spans, Path(folder) / "redacted.ogg").read_bytes()


def _diarizer(engines: Engines) -> Diarizer:
    if engines.diarizer is None:
        engines.diarizer = diarize.Diarizer()
    return engines.diarizer


def pending_calls(store: Store, now: datetime) -> list[Call]:
    """Pending calls that may be processed: never objected, never past retention.

    Calls never interrupted come first, in time order; then those interrupted
    fewest times (see :func:`process`).
    """
    todo = [_call(store, row) for row in queue.pending_rows(store, now)]
    return _with_voiceprints(store, todo, now)


def _with_voiceprints(store: Store, todo: list[Call], now: datetime) -> list[Call]:
    """Mono calls get their agent's voiceprint (voiceprints on): the pool of the agent's
    voice in their visible calls (never an objected, erased, private or expired one)."""
    from analytics.store.voiceprints import agent_voice_rows
    from analytics.voiceprint import VoiceprintConfig, pool

    if not VoiceprintConfig.from_settings(store.settings).enabled:
        return todo
    agents = {c.agent_id for c in todo if c.channel_layout == "mono" and c.agent_id}
    rows = agent_voice_rows(store, now, (a for a in agents if a))
    prints = {agent: pool(parts) for agent, parts in rows.items()}
    return [
        replace(c, voiceprint=prints[c.agent_id])
        if c.channel_layout == "mono" and c.agent_id in prints
        else c
        for c in todo
    ]


def _call(store: Store, row: Any) -> Call:
    return Call(
        call_id=row["call_id"],
        started_at=datetime.fromisoformat(row["started_at"]),
        audio_path=store.settings.home / row["audio_path"],
        audio_sha256=row["audio_sha256"],
        duration_s=row["duration_s"] or 0.0,
        channels=row["channels"] or 1,
        sample_rate=row["sample_rate"] or 16000,
        channel_layout=row["channel_layout"] or "mono",
        language=row["language"],
        agent_id=row["agent_id"],
        team=row["team"],
    )


def _suspects(store: Store) -> set[str]:
    """Pending calls an earlier run was interrupted on (one of them may have caused it)."""
    return queue.interrupted_ids(store)


@contextmanager
def single_run(settings: Settings) -> Iterator[None]:
    """One ``process`` per workspace at a time (requeueing would steal a live run's calls)."""
    lock_path = settings.home / "process.lock"
    with lock_path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{settings.home}: another 'callqa process' is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _running(store: Store, now: datetime) -> Iterator[str]:
    """Register this run on the queue and keep its lease alive; yields its id.

    On SQLite one run per workspace holds the file lock (:func:`single_run`), so any
    other claim is a dead run's. On PostgreSQL several runs (machines) share the
    queue: a run's claims stand while it beats (``queue.HEARTBEAT_S``), and a run
    silent for ``queue.LEASE_S`` is dead, its calls back in the queue.
    """
    run_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    queue.start_run(store, run_id, host=socket.gethostname(), pid=os.getpid(), now=now)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(queue.HEARTBEAT_S):
            try:
                queue.beat(store, run_id)
            except Exception:  # a missed beat is retried; the lease allows several
                log.warning("run %s: heartbeat failed", run_id)

    beating = threading.Thread(target=beat, name="callqa-heartbeat", daemon=True)
    beating.start()
    store.claimant = run_id
    try:
        yield run_id
    finally:
        store.claimant = ""
        stop.set()
        beating.join()
        queue.end_run(store, run_id)


def _claim(store: Store, call: Call, now: datetime) -> bool:
    """Claim one call just before its audio is decoded, re-checking every gate."""
    with store.write() as conn:
        return queue.claim(conn, store, call.call_id, now, store.claimant)


def _store_result(store: Store, call: Call, analysis: CallAnalysis, now: datetime) -> bool:
    """Commit one call's results; False if it was objected or expired meanwhile."""
    relative = (
        store.blobs.key_of(analysis.redacted_audio_path) if analysis.redacted_audio_path else None
    )
    with store.write() as conn:
        # Only while the call is still ours: a result is committed once, whatever the
        # retries (a lost worker's call run again elsewhere, a run whose lease ran out).
        if queue.is_mine(conn, call.call_id, store.claimant):
            save_analysis(conn, call.call_id, analysis, now=now, redacted_audio_path=relative)
            if analysis.agent_voice is not None or analysis.voiceprint_used:
                # Biometric data built or used: audited per call (no figures, no vectors).
                detail = {
                    "enrolled": analysis.agent_voice is not None,
                    "used": analysis.voiceprint_used,
                }
                audit.record(conn, "process", "voiceprint", call.call_id, detail, now=now)
            categorize_call(conn, call.call_id, now)  # new calls are categorised as they arrive
            record_for_call(conn, call.call_id, analysis, now)  # under the active form
            return True
    # Objected (or erased) while we worked: drop everything we made.
    store.blobs.delete(relative)
    return False


def _fail(store: Store, call: Call, exc: BaseException, now: datetime) -> str | None:
    """Mark a call failed with its reason; None if it was objected or erased meanwhile."""
    # Library exceptions could quote their input; only our own errors are known clean.
    reason = str(exc) if isinstance(exc, CallqaError) else f"{type(exc).__name__} during processing"
    with store.write() as conn:
        if queue.state_of(conn, call.call_id) != "processing":
            return None
        set_state(conn, call.call_id, "failed", now, error=reason)
    log.error("call %s failed: %s", call.call_id, reason)
    # The frames, without the message (a library's message might quote its input).
    log.debug(
        "call %s traceback:\n%s", call.call_id, "".join(traceback.format_tb(exc.__traceback__))
    )
    return reason


# --- a full disk ---------------------------------------------------------------------------


def _stop_for_full_disk(store: Store, now: datetime) -> DiskFullError:
    """Put this run's claimed calls back to pending (it was not their fault)."""
    where = store.settings.home
    try:
        with store.write() as conn:
            count = queue.release_claims(conn, now, store.claimant)
        back = f"{count} call(s) in progress are pending again"
    except Exception as exc:  # the database may be unable to write at all
        if not disk_full(exc):
            raise
        back = "calls in progress go back to pending at the next run"
    log.debug("process stopped: no space left on the device of %s", where)
    return DiskFullError(
        f"no space left on the device of {where}: processing stopped; {back}. "
        "Free some space and run 'callqa process' again."
    )


# --- the run -------------------------------------------------------------------------------


def check_model(settings: Settings) -> None:
    """Resolve the configured Whisper model (no call is touched when it is wrong).

    Raises:
        UsageError: an unknown model name, or one that needs a download that fails.
        ModelError: a packaged model is missing or damaged.
    """
    from analytics.transcribe import resolve_model

    resolve_model(settings.model, settings.model_cache_dir)


def process(
    store: Store,
    *,
    engines: Engines | None = None,
    engine_factory: EngineFactory | None = None,
    workers: int | None = None,
    executor: str = "local",
    now: datetime | None = None,
    progress: bool = False,
    retry_failed: bool = False,
    address: str | None = None,
) -> ProcessReport:
    """Process every pending call (after applying retention).

    With ``executor="ray"``, ``address`` (or ``RAY_ADDRESS``) names a Ray cluster to
    join (``auto``: the one this machine belongs to); without, a local one is started.

    Raises:
        UsageError: bad executor or model name (before any call is touched), or
            another ``process`` runs on this workspace.
        DiskFullError: the disk filled up; the calls in progress are pending again.
    """
    from analytics.governance import purge

    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}: use one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        _import_ray()
    elif address:
        raise UsageError("--ray-address needs --executor ray")
    settings = store.settings
    if engines is None and engine_factory is None:
        check_model(settings)
    workers = max(1, workers or settings.workers)
    now = now or utcnow()
    report = ProcessReport()
    shared = store.backend != "sqlite"
    lock = contextlib.nullcontext() if shared else single_run(settings)
    with lock, _running(store, now) as run_id:
        purge(store, now=now, actor="process")
        lease = queue.LEASE_S if shared else None
        with store.write() as conn:
            report.requeued, gave_up = queue.requeue_interrupted(conn, now, run_id, lease)
            if retry_failed:
                queue.retry_failed(conn)
        for call_id in gave_up:
            report.failed[call_id] = interrupted_reason(MAX_ATTEMPTS)
            log.error("call %s: interrupted %d times, marked failed", call_id, MAX_ATTEMPTS)
        if report.requeued:
            log.warning("%d calls interrupted by an earlier run are pending again", report.requeued)
        todo = pending_calls(store, now)
        if not todo:
            return report
        started = time.perf_counter()
        try:
            if executor == "ray":
                factory = engine_factory or build_engines
                _run_ray(store, todo, factory, workers, now, progress, report, ray_address(address))
            else:
                engines = engines or (engine_factory or build_engines)(settings, workers)
                load = getattr(engines.transcriber, "load", None)
                if load is not None:
                    load()  # a model that cannot load fails here, before any claim
                _run_local(store, todo, engines, workers, now, progress, report)
        except Exception as exc:
            if disk_full(exc):
                raise _stop_for_full_disk(store, now) from None
            raise
        report.wall_s = time.perf_counter() - started
    log.info("process: %s", report.summary())
    return report


class AnalysisFailed(CallqaError):
    """A call failed in a worker process; the message is the worker's reason."""


def _bar(todo: list[Call], progress: bool) -> Any:
    total = round(sum(call.duration_s for call in todo))
    return tqdm(
        total=total, unit="s audio", desc="process", disable=not progress, dynamic_ncols=True
    )


def _record_success(
    store: Store,
    call: Call,
    analysis: CallAnalysis,
    seconds: float,
    now: datetime,
    report: ProcessReport,
    bar: Any,
) -> None:
    if not _store_result(store, call, analysis, now):
        report.skipped.append(call.call_id)
        return
    report.done.append(call.call_id)
    report.audio_s += call.duration_s
    for stage, spent in analysis.timings_s.items():
        report.stage_s[stage] = report.stage_s.get(stage, 0.0) + spent
    bar.set_postfix_str(f"{call.call_id} {seconds:.1f}s")


def _record_failure(
    store: Store, call: Call, exc: BaseException, now: datetime, report: ProcessReport
) -> None:
    if disk_full(exc):
        raise exc  # the run stops (see process): not this call's fault
    reason = _fail(store, call, exc, now)
    if reason is None:
        report.skipped.append(call.call_id)
    else:
        report.failed[call.call_id] = reason


_NOT_CLAIMED = None


def _run_local(
    store: Store,
    todo: list[Call],
    engines: Engines,
    workers: int,
    now: datetime,
    progress: bool,
    report: ProcessReport,
) -> None:
    """Calls on a thread pool sharing one set of engines (CTranslate2 releases the GIL).

    Each worker claims its call just before decoding it. Calls an earlier run was
    interrupted on run after the others, one at a time: if one of them kills the run
    again, it takes no innocent neighbour with it.
    """
    suspects = _suspects(store)
    fresh = [call for call in todo if call.call_id not in suspects]
    alone = [call for call in todo if call.call_id in suspects]
    bar = _bar(todo, progress)
    stop = threading.Event()

    def work(call: Call) -> tuple[CallAnalysis, float] | None:
        if stop.is_set() or not _claim(store, call, now):
            return _NOT_CLAIMED
        try:
            return _timed(analyse_call, call, engines, store.settings)
        except Exception:
            raise
        except BaseException:
            stop.set()  # interrupted (Ctrl-C...): claim nothing more
            raise

    try:
        for batch, width in ((fresh, workers), (alone, 1)):
            with ThreadPoolExecutor(max_workers=width, thread_name_prefix="callqa") as pool:
                futures = [(pool.submit(work, call), call) for call in batch]
                try:
                    for future, call in futures:
                        _collect(store, future, call, now, report, bar)
                except BaseException:
                    stop.set()  # the queued calls are not claimed; running ones finish
                    raise
    finally:
        bar.close()


def _collect(
    store: Store,
    future: Future[tuple[CallAnalysis, float] | None],
    call: Call,
    now: datetime,
    report: ProcessReport,
    bar: Any,
) -> None:
    try:
        result = future.result()
    except Exception as exc:
        _record_failure(store, call, exc, now, report)
    else:
        if result is _NOT_CLAIMED:
            report.skipped.append(call.call_id)
        else:
            analysis, seconds = result
            _record_success(store, call, analysis, seconds, now, report, bar)
    bar.update(round(call.duration_s))


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    mark = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - mark


class _RayWorker:
    """One Ray actor: its own engines, one Whisper model with ``cpu_threads`` = the CPUs
    the actor reserved. It gets a recording's bytes and gives back only the redacted
    results (raw text never leaves it) and the redacted audio as bytes; it writes
    nothing on its node but the model cache and unnamed temporary files.
    """

    def __init__(self, settings: Settings, engine_factory: EngineFactory, cpus: int) -> None:
        self.settings = replace(settings, cpu_threads=cpus)
        self.engines = engine_factory(self.settings, 1)
        transcriber = self.engines.transcriber
        if not settings.home.is_dir() and hasattr(transcriber, "cache_dir"):
            # Another machine: the packaged model is assembled in a cache of its own.
            transcriber.cache_dir = Path.home() / ".cache" / "callqa" / "models"
        load = getattr(transcriber, "load", None)
        if load is not None:
            load()  # a model that cannot load fails the actor, before any call

    def ready(self) -> str:
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def analyse(
        self, call: Call, recording: bytes
    ) -> tuple[CallAnalysis | None, str | None, float, bool]:
        """The analysis, or the reason it failed; last: whether the disk was full."""
        mark = time.perf_counter()
        try:
            analysis = analyse_call(call, self.engines, self.settings, recording=recording)
        except CallqaError as exc:
            return None, str(exc), time.perf_counter() - mark, disk_full(exc)
        except Exception as exc:
            reason = f"{type(exc).__name__} during processing"
            return None, reason, time.perf_counter() - mark, disk_full(exc)
        return analysis, None, time.perf_counter() - mark, False


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("the ray executor needs Ray: pip install 'callqa[ray]'") from None
    return ray


# Calls in flight per Ray actor: one running, one waiting (its recording already sent),
# so an actor never idles between calls and the driver never holds more than this.
RAY_IN_FLIGHT_PER_ACTOR = 2
RAY_LOCAL_IP = "127.0.0.2"
RAY_ACTOR_START_S = 600.0  # no actor started by then (no free CPU anywhere): give up
RAY_ACTOR_GRACE_S = 120.0  # the others, after the first one is ready
RAY_TOP_UP_S = 5.0  # how often the driver looks for nodes with room for more actors
RAY_MAX_REPLACEMENTS = 16  # actors started after the first ones, per run (a bound on churn)
RAY_UNAVAILABLE_RETRIES = 3  # transient ActorUnavailableError on one call, same actor


def ray_address(address: str | None) -> str | None:
    """The cluster to join: ``--ray-address``, else ``RAY_ADDRESS``; None starts a local one."""
    return address or os.environ.get("RAY_ADDRESS") or None


def _connect_ray(ray: Any, address: str | None, workers: int) -> bool:
    """Join ``address`` (or start a private local cluster); True if we must shut it down."""
    if ray.is_initialized():
        return False
    if address is None:
        # A private cluster on loopback (Ray would use the machine's external address).
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address=RAY_LOCAL_IP,
        )
        return True
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address}: {exc}") from None
    return True


@dataclass(frozen=True)
class ActorShape:
    """What one Ray actor reserves: ``cpus`` CPUs and, on a GPU node, ``gpus`` GPUs."""

    cpus: int
    gpus: float  # per actor on a node with GPUs; 0: the actor runs on CPU


def actor_shape(settings: Settings) -> ActorShape:
    """CPUs per actor from ``cpu_threads`` (0 = 1); GPUs from ``num_gpus`` (0 = 1) unless
    the device is ``cpu``: an actor on a node with GPUs reserves its share of one."""
    gpus = 0.0 if settings.device == "cpu" else (settings.num_gpus or 1.0)
    return ActorShape(cpus=max(1, settings.cpu_threads), gpus=gpus)


def actors_to_start(
    nodes: Sequence[dict[str, Any]],
    shape: ActorShape,
    live: dict[str, int],
    device: str = "auto",
) -> dict[str, int]:
    """Actors to start on each alive node so that it holds as many as it can.

    A node with GPUs (and a device that may be cuda) holds one actor per ``shape.gpus``
    of its GPUs, each also reserving ``shape.cpus`` CPUs; a node without, one per
    ``shape.cpus`` CPUs (with ``device = cuda``, none). ``nodes``: as ``ray.nodes()``
    lists them; ``live``: our actors (running or starting) per node id.
    """
    out = {}
    for node in nodes:
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        room = int(resources.get("CPU", 0) // shape.cpus)
        node_gpus = float(resources.get("GPU", 0))
        if shape.gpus and node_gpus:
            room = min(room, int(node_gpus / shape.gpus + 1e-9))
        elif device == "cuda":
            room = 0
        wanted = room - live.get(node["NodeID"], 0)
        if wanted > 0:
            out[node["NodeID"]] = wanted
    return out


def _launch(
    ray: Any, settings: Settings, engine_factory: EngineFactory, plan: dict[str, int]
) -> dict[Any, tuple[Any, str]]:
    """Start the planned actors; their ``ready`` refs, each with (actor, node id)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    shape = actor_shape(settings)
    actor_class = ray.remote(_RayWorker)
    nodes = {node["NodeID"]: node for node in ray.nodes()}
    starting = {}
    for node_id, count in plan.items():
        on_gpu = bool(shape.gpus and nodes.get(node_id, {}).get("Resources", {}).get("GPU"))
        options: dict[str, Any] = {"num_cpus": shape.cpus}
        if on_gpu:
            options["num_gpus"] = shape.gpus
        for _ in range(count):
            strategy = NodeAffinitySchedulingStrategy(node_id, soft=True)
            actor = actor_class.options(scheduling_strategy=strategy, **options).remote(
                settings if on_gpu else replace(settings, device="cpu"),
                engine_factory,
                shape.cpus,
            )
            starting[actor.ready.remote()] = (actor, node_id)
    return starting


def _start_actors(
    ray: Any, settings: Settings, engine_factory: EngineFactory
) -> list[tuple[Any, str]]:
    """Actors on every alive node, as many as its resources allow (:func:`actors_to_start`);
    those that cannot start are dropped."""
    shape = actor_shape(settings)
    ready = _launch(
        ray, settings, engine_factory, actors_to_start(ray.nodes(), shape, {}, settings.device)
    )
    if not ready:
        raise ClusterError(f"the Ray cluster has no node with {shape.cpus} free CPU(s)")
    # The first actor may wait for a free CPU as long as it takes to start; the others
    # load their models at the same time, and one still waiting a while after it is
    # dropped (its node's CPUs are taken by another job): the run goes on without it.
    first, rest = ray.wait(list(ready), num_returns=1, timeout=RAY_ACTOR_START_S)
    more, late = (
        ray.wait(rest, num_returns=len(rest), timeout=RAY_ACTOR_GRACE_S) if rest else ([], [])
    )
    started = first + more
    live = []
    for ref in started:
        try:
            node_id = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            cause = exc.__cause__ or exc
            raise ClusterError(f"a Ray worker could not start: {type(cause).__name__}") from None
        live.append((ready[ref][0], node_id))
    for ref in late:
        ray.kill(ready[ref][0])
    if not live:
        raise ClusterError("no Ray worker could start (no free CPU on the cluster?)")
    log.info("ray: %d actors of %d CPU(s) on %d nodes", len(live), shape.cpus, len(ray.nodes()))
    return live


def _run_ray(
    store: Store,
    todo: list[Call],
    engine_factory: EngineFactory,
    workers: int,
    now: datetime,
    progress: bool,
    report: ProcessReport,
    address: str | None = None,
) -> None:
    """Each call on a Ray actor; recordings go out and results come back as bytes
    through the object store; every commit is made here, by the driver.
    Lost actors are replaced on nodes with room, a node that joins gets actors too.

    A call is claimed when an actor has room for it (at most RAY_IN_FLIGHT_PER_ACTOR
    each); the driver reads its recording through the blob store and puts it in the object store.
    An actor that dies (its node lost) takes no call with it: its calls go back to the
    queue and on to the live actors; a call whose worker died MAX_ATTEMPTS times fails.
    A result is committed once, only while its call is still this run's, in processing.
    """
    ray = _import_ray()
    mark = time.perf_counter()
    owned = _connect_ray(ray, address, workers)
    try:
        actors = _start_actors(ray, store.settings, engine_factory)
        report.startup_s = time.perf_counter() - mark
        topper = _TopUp(ray, store.settings, engine_factory)
        _drive(ray, store, actors, todo, now, _bar(todo, progress), report, topper)
    finally:
        if owned:
            ray.shutdown()


class _TopUp:
    """Starts actors where nodes have room (lost actors replaced, new nodes used),
    at most every RAY_TOP_UP_S, without blocking the run while their models load."""

    def __init__(self, ray: Any, settings: Settings, engine_factory: EngineFactory) -> None:
        self.ray, self.settings, self.factory = ray, settings, engine_factory
        self.starting: dict[Any, tuple[Any, str]] = {}
        self.last = time.monotonic()
        self.started = 0

    def plan(self, live: dict[str, int], *, now: bool = False) -> None:
        """Start actors where there is room (``now``: whenever it last looked)."""
        recently = time.monotonic() - self.last < RAY_TOP_UP_S
        if (recently and not now) or self.started >= RAY_MAX_REPLACEMENTS:
            return
        self.last = time.monotonic()
        pending = dict(live)
        for _, node_id in self.starting.values():
            pending[node_id] = pending.get(node_id, 0) + 1
        shape = actor_shape(self.settings)
        plan = actors_to_start(self.ray.nodes(), shape, pending, self.settings.device)
        budget = RAY_MAX_REPLACEMENTS - self.started
        plan = {node: min(n, budget) for node, n in plan.items()}
        if plan:
            log.info("ray: starting %d more actor(s)", sum(plan.values()))
            started = _launch(self.ray, self.settings, self.factory, plan)
            self.started += len(started)
            self.starting.update(started)

    def ready(self, ref: Any) -> tuple[Any, str] | None:
        """The started actor of this ``ready`` ref (None if it failed to start)."""
        actor, _ = self.starting.pop(ref)
        try:
            node_id = str(self.ray.get(ref))
        except self.ray.exceptions.RayError as exc:
            log.warning("ray: a new actor could not start (%s)", type(exc).__name__)
            return None
        return actor, node_id


def _is_unavailable(ray: Any, exc: BaseException) -> bool:
    """A transient loss of contact with an actor that may still be alive."""
    kind = getattr(ray.exceptions, "ActorUnavailableError", None)
    return kind is not None and isinstance(exc, kind)


def _drive(
    ray: Any,
    store: Store,
    actors: list[tuple[Any, str]],
    todo: list[Call],
    now: datetime,
    bar: Any,
    report: ProcessReport,
    topper: _TopUp | None = None,
) -> None:
    from collections import deque

    actors = list(actors)
    waiting = deque(todo)
    load = dict.fromkeys(range(len(actors)), 0)  # live actors and their calls in flight
    in_flight: dict[Any, tuple[Call, int]] = {}
    unavailable: dict[str, int] = {}  # call id -> transient errors on its actor
    try:
        while waiting or in_flight:
            while waiting and load and len(in_flight) < RAY_IN_FLIGHT_PER_ACTOR * len(load):
                call = waiting.popleft()
                index = min(load, key=load.__getitem__)
                ref = _send(ray, store, actors[index][0], call, now, report)
                if ref is not None:
                    in_flight[ref] = (call, index)
                    load[index] += 1
            if topper is not None:
                live: dict[str, int] = {}
                for index in load:
                    live[actors[index][1]] = live.get(actors[index][1], 0) + 1
                topper.plan(live, now=not load)  # no actor left: look at once
            starting = list(topper.starting) if topper is not None else []
            if not in_flight and not (waiting and starting):
                break
            done, _ = ray.wait(
                [*in_flight, *starting], num_returns=1, timeout=RAY_TOP_UP_S if starting else None
            )
            if not done:
                continue
            [ref] = done
            if ref not in in_flight:
                assert topper is not None
                started = topper.ready(ref)
                if started is not None:
                    actors.append(started)
                    load[len(actors) - 1] = 0
                continue
            call, index = in_flight.pop(ref)
            try:
                analysis, reason, seconds, full = ray.get(ref)
            except ray.exceptions.RayError as exc:
                tries = unavailable.get(call.call_id, 0)
                if index in load and _is_unavailable(ray, exc) and tries < RAY_UNAVAILABLE_RETRIES:
                    unavailable[call.call_id] = tries + 1
                    log.warning(
                        "ray: worker %d unavailable; call %s sent again", index, call.call_id
                    )
                    again = actors[index][0].analyse.remote(call, _recording_ref(ray, store, call))
                    in_flight[again] = (call, index)
                    continue
                if index in load:
                    log.error("ray: worker %d lost (%s)", index, type(exc).__name__)
                    del load[index]
                _lost(store, call, now, waiting, report)
                continue
            load[index] -= 1
            if _ray_result(store, call, analysis, reason, seconds, full, now, report, bar):
                node = actors[index][1]
                report.nodes[node] = report.nodes.get(node, 0) + 1
            bar.update(round(call.duration_s))
    finally:
        bar.close()
        if topper is not None:
            for actor, _ in topper.starting.values():
                ray.kill(actor)
    if waiting:
        raise ClusterError(
            f"every Ray worker was lost; {len(waiting)} call(s) stay pending for the next run"
        )


def _recording_ref(ray: Any, store: Store, call: Call) -> Any:
    recording = store.blobs.read(store.blobs.key_of(call.audio_path), "recordings")
    return ray.put(recording)


def _send(
    ray: Any, store: Store, actor: Any, call: Call, now: datetime, report: ProcessReport
) -> Any:
    """Claim a call and send it with its recording's bytes; None if not claimed."""
    if not _claim(store, call, now):
        report.skipped.append(call.call_id)
        return None
    recording = store.blobs.read(store.blobs.key_of(call.audio_path), "recordings")
    if recording is None:
        _record_failure(store, call, AnalysisFailed("the recording is missing"), now, report)
        return None
    return actor.analyse.remote(call, ray.put(recording))


def _lost(store: Store, call: Call, now: datetime, waiting: Any, report: ProcessReport) -> None:
    """A call whose worker died: back in the queue (and to the front of ours), or failed."""
    with store.write() as conn:
        state = queue.give_back(conn, call.call_id, now, store.claimant)
    if state == "pending":
        waiting.appendleft(call)
        log.warning("call %s: its Ray worker was lost; queued again", call.call_id)
    elif state == "failed":
        report.failed[call.call_id] = interrupted_reason(MAX_ATTEMPTS)


def _ray_result(
    store: Store,
    call: Call,
    analysis: CallAnalysis | None,
    reason: str | None,
    seconds: float,
    full: bool,
    now: datetime,
    report: ProcessReport,
    bar: Any,
) -> bool:
    """Commit (or fail) a call from a worker's outcome; True if it was analysed."""
    if analysis is None:
        failure = AnalysisFailed(reason or "failed", errno=errno.ENOSPC if full else None)
        _record_failure(store, call, failure, now, report)
        return False
    if analysis.redacted_audio is not None:
        # The worker's bytes become the blob here, through the blob store.
        with store.blobs.writing("redacted-audio", f"{call.audio_sha256}.ogg") as target:
            partial = target.with_name(f".{target.name}.{os.getpid()}.part")
            partial.write_bytes(analysis.redacted_audio)
            os.replace(partial, target)  # whole or absent, as audio.bleep writes it
        analysis = replace(analysis, redacted_audio=None, redacted_audio_path=target)
    _record_success(store, call, analysis, seconds, now, report, bar)
    return True
