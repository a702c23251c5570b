"""Helpers for the governance tests: calls with planted markers, real small recordings,
and every read path a call could leak through.

A marker is a unique string planted in a call's (redacted) transcript, abuse events,
recording bytes and redacted-audio bytes, so a test can look for any remains of the
call in the raw bytes of every file of the workspace.
"""

from __future__ import annotations

import csv
import hashlib
import json
import wave
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from factories import make_analysis
from pipeline_fakes import _voice
from sqlalchemy import update

from analytics import clock, governance
from analytics.errors import NotFoundError
from analytics.export import export_calls
from analytics.ingest import IngestReport, ingest
from analytics.models import CallMetadata
from analytics.store import (
    CallFilter,
    Store,
    call_rows,
    get_call,
    iter_call_records,
    pii_rows,
    segment_rows,
)
from analytics.store.schema import calls
from analytics.store.writes import insert_call, save_analysis
from analytics.workspace import hash_caller

try:  # the notebook API, when present, is one more read path
    from analytics import dataset
except ImportError:  # pragma: no cover - the module is optional for these tests
    dataset = None  # type: ignore[assignment]


def marker_texts(marker: str) -> tuple[tuple[str, str], ...]:
    return (
        ("agent", f"bonjour {marker} agent"),
        ("customer", f"espèce de {marker} idiot"),
        ("agent", f"au revoir {marker}"),
    )


def write_wav(path: Path, seed: int, rate: int = 16000) -> Path:
    """A real mono 16-bit WAV: a spoken word (so the voice detector always finds
    speech and every processed call has segments) over a faint noise unique per seed."""
    rng = np.random.default_rng(seed)
    voice = _voice(seed % 2)
    noise = 0.002 * rng.standard_normal(len(voice) + rate // 5)
    noise[rate // 10 : rate // 10 + len(voice)] += voice
    samples = (np.clip(noise, -1, 1) * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def add_recorded_call(
    store: Store,
    call_id: str,
    *,
    marker: str,
    started_at: datetime,
    now: datetime,
    caller_id: str | None = None,
    legal_hold: bool = False,
    state: str = "done",
) -> None:
    """A call with a recording file and (when done) a redacted audio file and analysis.

    The marker is in the transcript, the abuse event, and the bytes of both files.
    """
    settings = store.settings
    content = f"RIFF-fake-recording {marker}".encode()
    sha = hashlib.sha256(content).hexdigest()
    recording = Path("recordings") / sha[:2] / f"{sha}.wav"
    (settings.home / recording).parent.mkdir(parents=True, exist_ok=True)
    (settings.home / recording).write_bytes(content)
    meta = CallMetadata(
        call_id=call_id,
        started_at=started_at,
        agent_id="A7",
        team="Niort-2",
        caller_hash=hash_caller(store.key, caller_id) if caller_id else None,
        channel_layout="agent_left",
        language="fr",
        legal_hold=legal_hold,
    )
    with store.write() as conn:
        insert_call(
            conn,
            meta,
            info=None,
            sha256=sha,
            audio_path=str(recording),
            source_name=f"{call_id}.wav",
            state="pending",
            now=now,
        )
        if state == "done":
            redacted = Path("redacted-audio") / f"{sha}.ogg"
            (settings.home / redacted).write_bytes(f"OggS-fake {marker}".encode())
            analysis = make_analysis(
                call_id, texts=marker_texts(marker), abuse_severity="high", pii={"PERSON": 2}
            )
            save_analysis(conn, call_id, analysis, now=now, redacted_audio_path=str(redacted))
        elif state != "pending":
            conn.execute(update(calls).where(calls.c.call_id == call_id).values(state=state))


def ingest_rows(
    store: Store, folder: Path, rows: Sequence[dict[str, str]], now: datetime, seed: int = 0
) -> IngestReport:
    """Write one real WAV per row (``recording`` names it) and ingest them via a CSV."""
    for offset, row in enumerate(rows):
        target = folder / row["recording"]
        if not target.exists():
            write_wav(target, seed=seed * 1000 + offset)
    names = sorted({key for row in rows for key in row})
    csv_path = folder / f"metadata-{seed}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return ingest(store, [], csv_path, now=now)


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose raw bytes contain ``needle``."""
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


@dataclass(frozen=True)
class Readable:
    """What each read path shows: call ids, and all the text it returned."""

    ids: dict[str, set[str]]
    text: str  # every record, row and calls.json returned (not the recordings)
    archives: dict[str, tuple[list[dict[str, Any]], dict[str, bytes]]]  # caller -> access


def read_everything(
    store: Store,
    now: datetime,
    out_dir: Path,
    call_ids: Iterable[str],
    callers: Iterable[str],
    *,
    with_dataset: bool = True,
) -> Readable:
    """Ask every read path for everything; ``call_ids`` are also fetched one by one.

    ``with_dataset=False`` skips the notebook loaders (pandas makes them the slowest
    path, and they read through the same governed functions checked here).
    """
    ids: dict[str, set[str]] = {}
    chunks: list[str] = []
    records = list(iter_call_records(store, now))
    ids["iter_call_records"] = {r["call_id"] for r in records}
    chunks.append(json.dumps(records, ensure_ascii=False))
    rows = call_rows(store, now)
    ids["call_rows"] = {r["call_id"] for r in rows}
    segs = segment_rows(store, now)
    ids["segment_rows"] = {r["call_id"] for r in segs}
    chunks.append(json.dumps(segs, ensure_ascii=False, default=str))
    ids["pii_rows"] = {r["call_id"] for r in pii_rows(store, now)}
    found = set()
    for call_id in call_ids:
        try:
            record = get_call(store, call_id, now)
        except NotFoundError:
            continue
        found.add(record["call_id"])
        chunks.append(json.dumps(record, ensure_ascii=False))
    ids["get_call"] = found
    ids["filtered"] = {
        r["call_id"] for r in iter_call_records(store, now, CallFilter(call_ids=list(call_ids)))
    }
    export = out_dir / "export.jsonl"
    export_calls(store, "jsonl", export, now=now, actor="test")
    lines = export.read_text(encoding="utf-8").splitlines()
    ids["export_jsonl"] = {json.loads(line)["call_id"] for line in lines}
    chunks.extend(lines)
    if with_dataset and dataset is not None:
        with clock.frozen(now):
            frame = dataset.load_calls(store.settings)
            segments = dataset.load_segments(store.settings)
        ids["dataset.load_calls"] = set(frame["call_id"])
        ids["dataset.load_segments"] = set(segments["call_id"])
        chunks.append(" ".join(str(t) for t in segments["text"]))
    access_ids: set[str] = set()
    archives = {}
    for caller in callers:
        archive_path = out_dir / "access.zip"
        governance.subject_access(store, caller, archive_path, now=now, actor="test")
        entries, blobs = read_archive(archive_path)
        archives[caller] = (entries, blobs)
        # a call past retention that purge has not reached is in the archive too (the
        # right of access covers all that is still held), flagged past_retention: it is
        # not a governed read
        access_ids |= {
            e["call_id"] for e in entries if e["analysis"] is not None and not e["past_retention"]
        }
        chunks.append(json.dumps(entries, ensure_ascii=False))
    ids["subject_access(analysed)"] = access_ids
    return Readable(ids, "\n".join(chunks), archives)


def read_archive(path: Path) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """calls.json entries and the other members (name -> bytes) of an access archive."""
    with zipfile.ZipFile(path) as archive:
        entries = json.loads(archive.read("calls.json"))
        blobs = {n: archive.read(n) for n in archive.namelist() if n != "calls.json"}
    return entries, blobs
