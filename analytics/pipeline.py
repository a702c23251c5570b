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
import logging
import os
import socket
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
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from analytics import audio, diarize
from analytics.config import Settings
from analytics.errors import CallqaError, DiskFullError, UsageError
from analytics.evaluations.automatic import record_for_call
from analytics.models import Call, CallAnalysis, PiiSpan, RedactedTranscript
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


def build_engines(settings: Settings, workers: int = 1) -> Engines:
    from analytics.abuse import AbuseConfig, AbuseModel
    from analytics.diarize import DiarizeConfig, Diarizer
    from analytics.quality import QualityConfig
    from analytics.redact import RedactConfig, Redactor
    from analytics.transcribe import Transcriber

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
        ),
        redactor=Redactor(RedactConfig.from_settings(settings)),
        quality_config=QualityConfig.from_settings(settings),
        abuse_config=abuse_config,
        abuse_model=AbuseModel.load() if abuse_config.model else None,
        diarizer=Diarizer(DiarizeConfig.from_settings(settings)),
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


def analyse_call(call: Call, engines: Engines, settings: Settings) -> CallAnalysis:
    """Run one call through every stage; only redacted results come out."""
    from analytics.abuse import detect_abuse
    from analytics.quality import compute_quality

    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Block by block: what comes out is levels, speech masks and the speech itself,
    # never the whole call's samples (a long call costs what a short one does).
    heard = audio.listen(
        call.audio_path, call.channel_layout, max_duration_s=settings.max_duration_s
    )
    activity = heard.activity
    timings["audio"] = time.perf_counter() - started

    diarization = None
    if set(heard.levels) == {"unknown"}:
        # A mono call: its voices are separated from the speech clips listen() already
        # holds (no second decode, no whole-call samples).
        mark = time.perf_counter()
        diarization = _diarizer(engines).diarize_clips(
            heard.speech, activity.of("unknown"), heard.duration_s
        )
        timings["diarize"] = time.perf_counter() - mark

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
        redacted, activity = diarize.label_speakers(
            redacted, tags, diarization, _diarizer(engines).config, engines.quality_config
        )
    quality = compute_quality(redacted, activity, engines.quality_config)
    abuse = detect_abuse(redacted, engines.abuse_config, engines.abuse_model)
    timings["analyse"] = time.perf_counter() - mark

    redacted_audio: Path | None = None
    if settings.redacted_audio:
        mark = time.perf_counter()
        blobs = LocalBlobStore(settings)
        with blobs.writing("redacted-audio", f"{call.audio_sha256}.ogg") as target:
            redacted_audio = audio.bleep(
                call.audio_path, _untimed_spans(redacted, redacted.pii_spans), target
            )
        timings["redacted_audio"] = time.perf_counter() - mark
    return CallAnalysis(
        transcript=redacted,
        quality=quality,
        abuse=abuse,
        redacted_audio_path=redacted_audio,
        timings_s=timings,
        activity=activity,
    )


def _diarizer(engines: Engines) -> Diarizer:
    if engines.diarizer is None:
        engines.diarizer = diarize.Diarizer()
    return engines.diarizer


def pending_calls(store: Store, now: datetime) -> list[Call]:
    """Pending calls that may be processed: never objected, never past retention.

    Calls never interrupted come first, in time order; then those interrupted
    fewest times (see :func:`process`).
    """
    return [_call(store, row) for row in queue.pending_rows(store, now)]


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
        if queue.state_of(conn, call.call_id) == "processing":
            save_analysis(conn, call.call_id, analysis, now=now, redacted_audio_path=relative)
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
) -> ProcessReport:
    """Process every pending call (after applying retention).

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
                _run_ray(store, todo, factory, workers, now, progress, report)
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
    """One Ray actor: its own engines, analysing calls; only redacted results leave it."""

    def __init__(self, settings: Settings, engine_factory: EngineFactory) -> None:
        self.settings = settings
        self.engines = engine_factory(settings, 1)

    def analyse(self, call: Call) -> tuple[CallAnalysis | None, str | None, float, bool]:
        """The analysis, or the reason it failed; last: whether the disk was full."""
        mark = time.perf_counter()
        try:
            analysis = analyse_call(call, self.engines, self.settings)
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


def _run_ray(
    store: Store,
    todo: list[Call],
    engine_factory: EngineFactory,
    workers: int,
    now: datetime,
    progress: bool,
    report: ProcessReport,
) -> None:
    """Each call on a Ray actor (own process, own engines); results stored here.

    A call is claimed when an actor is free for it, not before.
    """
    ray = _import_ray()
    from ray.util import ActorPool

    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        actor_class = ray.remote(num_cpus=1)(_RayWorker)
        pool = ActorPool(
            [actor_class.remote(store.settings, engine_factory) for _ in range(workers)]
        )
        queue = iter(todo)
        in_flight: list[Call] = []

        def submit_next() -> None:
            for call in queue:
                if _claim(store, call, now):
                    pool.submit(lambda actor, c: actor.analyse.remote(c), call)
                    in_flight.append(call)
                    return
                report.skipped.append(call.call_id)

        bar = _bar(todo, progress)
        for _ in range(workers):
            submit_next()
        while in_flight:
            analysis, reason, seconds, full = pool.get_next()
            call = in_flight.pop(0)
            if analysis is None:
                errno_ = errno.ENOSPC if full else None
                failure = AnalysisFailed(reason or "failed", errno=errno_)
                _record_failure(store, call, failure, now, report)
            else:
                _record_success(store, call, analysis, seconds, now, report, bar)
            bar.update(round(call.duration_s))
            submit_next()
        bar.close()
    finally:
        if started_ray:
            ray.shutdown()
