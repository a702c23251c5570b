"""Forms in the workspace and the automatic evaluation of calls.

Each processed call is evaluated under the active form in the transaction that stores
its analysis (:func:`record_for_call`, called by the pipeline). :func:`rescore`
evaluates every call still within retention under another form version from its
stored figures: a new current evaluation per call, the earlier ones kept as history.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics import audit
from analytics.errors import FormError, NotFoundError, UsageError
from analytics.evaluations import forms as formdefs
from analytics.evaluations.forms import Form
from analytics.evaluations.scoring import AutoEvaluation, CallFigures, evaluate, phrase_evidence
from analytics.models import CallAnalysis
from analytics.quality import QualityConfig
from analytics.store import Connection, Store, iso, utcnow
from analytics.store import evaluations as rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FormInfo:
    name: str
    version: int
    title: str
    questions: int
    active: bool
    imported_at: str
    imported_by: str


# --- forms in the workspace ------------------------------------------------------------


def _insert(conn: Connection, form: Form, digest: str, *, actor: str, now: datetime) -> None:
    rows.insert_form(
        conn,
        {
            "name": form.name,
            "version": form.version,
            "title": form.title,
            "definition_json": form.to_json(),
            "source_sha256": digest,
            "imported_at": iso(now),
            "imported_by": actor,
            "active": False,
        },
    )


def _ensure_default(conn: Connection, now: datetime) -> None:
    """The packaged default form, version 1, is in every workspace and active until
    another form is."""
    if rows.active_form_row(conn) is not None:
        return
    if rows.form_row(conn, "default", 1) is None:
        text = formdefs.DEFAULT_FORM_PATH.read_text(encoding="utf-8")
        _insert(
            conn, formdefs.default_form(), formdefs.source_digest(text), actor="callqa", now=now
        )
    rows.activate_form(conn, "default", 1)


def active_form(conn: Connection, now: datetime | None = None) -> Form:
    """The form new calls are evaluated under (inside a write transaction)."""
    _ensure_default(conn, now or utcnow())
    row = rows.active_form_row(conn)
    assert row is not None
    return Form.from_json(row["definition_json"])


def import_form(
    store: Store,
    path: Path,
    *,
    activate: bool = True,
    actor: str = "cli",
    now: datetime | None = None,
) -> Form:
    """Import a form file; by default it becomes the active form.

    Re-importing the same file is a no-op; another file under a name and version
    already imported is refused (a version never changes: raise it).

    Raises:
        FormError: the file is invalid or its version is taken by other content.
    """
    now = now or utcnow()
    form = formdefs.load_form(path)
    digest = formdefs.source_digest(path.read_text(encoding="utf-8"))
    with store.write() as conn:
        _ensure_default(conn, now)
        existing = rows.form_row(conn, form.name, form.version)
        if existing is not None and existing["source_sha256"] != digest:
            raise FormError(
                str(path),
                "version",
                f"form {form.ref} is already imported with other content: raise the version",
            )
        if existing is None:
            _insert(conn, form, digest, actor=actor, now=now)
        if activate:
            rows.activate_form(conn, form.name, form.version)
        audit.record(
            conn,
            actor,
            "form_import",
            detail={"form": form.ref, "questions": len(form.questions), "active": activate},
            now=now,
        )
    log.info("form %s imported (%d questions)", form.ref, len(form.questions))
    return form


def list_forms(store: Store, now: datetime | None = None) -> list[FormInfo]:
    with store.write() as conn:
        _ensure_default(conn, now or utcnow())
        found = rows.form_rows(conn)
    return [
        FormInfo(
            name=r["name"],
            version=int(r["version"]),
            title=r["title"],
            questions=len(Form.from_json(r["definition_json"]).questions),
            active=bool(r["active"]),
            imported_at=r["imported_at"],
            imported_by=r["imported_by"],
        )
        for r in found
    ]


def get_form(store: Store, ref: str, now: datetime | None = None) -> Form:
    """A form by ``NAME`` (its latest version) or ``NAME@VERSION``.

    Raises:
        UsageError: a malformed reference. NotFoundError: no such form.
    """
    try:
        name, version = formdefs.parse_ref(ref)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with store.write() as conn:
        _ensure_default(conn, now or utcnow())
        row = rows.form_row(conn, name, version)
    if row is None:
        raise NotFoundError(f"form {ref}: no such form (see `callqa form list`)")
    return Form.from_json(row["definition_json"])


def form_by_version(conn: Connection, name: str, version: int) -> Form:
    row = rows.form_row(conn, name, version)
    if row is None:
        raise NotFoundError(f"form {name}@{version}: no such form")
    return Form.from_json(row["definition_json"])


# --- automatic evaluation --------------------------------------------------------------


def _rows_of(
    evaluation: AutoEvaluation, *, by: str, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    evaluation_id = uuid.uuid4().hex
    row = {
        "evaluation_id": evaluation_id,
        "call_id": evaluation.call_id,
        "form_name": evaluation.form_name,
        "form_version": evaluation.form_version,
        "current": True,
        "created_at": iso(now),
        "created_by": by,
        "automatic_score": evaluation.score,
        "final_score": evaluation.score,
        "status": "automatic",
    }
    answers = [
        {
            "evaluation_id": evaluation_id,
            "question_id": a.question_id,
            "automatic_value": a.value,
            "evidence_json": json.dumps(a.evidence) if a.evidence else None,
            "final_value": a.value,
            "answered_by": None,
            "answered_at": None,
        }
        for a in evaluation.answers
    ]
    return row, answers


def _quality_config(store: Store) -> QualityConfig:
    """The workspace's quality settings, read once per store (the phrase lists)."""
    config = store.__dict__.get("_quality_config")
    if config is None:
        config = store.__dict__["_quality_config"] = QualityConfig.from_settings(store.settings)
    return config


def record_for_call(
    conn: Connection, call_id: str, analysis: CallAnalysis, now: datetime
) -> AutoEvaluation:
    """Evaluate a call just analysed under the active form, in the caller's write
    transaction (:meth:`Store.write`). The phrase evidence (segment indexes) is kept
    for later rescoring.
    """
    store: Store = conn.info["callqa.store"]
    phrases = phrase_evidence(analysis.transcript, _quality_config(store))
    rows.save_call_evidence(conn, call_id, phrases)
    figures = {name: getattr(analysis.quality, name) for name in rows.FIGURE_COLUMNS}
    figures["abuse_flagged"] = analysis.abuse.flagged
    call = CallFigures(
        call_id=call_id,
        breakdown=tuple(asdict(item) for item in analysis.quality.breakdown),
        figures=figures,
        phrases=phrases,
    )
    evaluation = evaluate(active_form(conn, now), call)
    row, answers = _rows_of(evaluation, by="process", now=now)
    rows.insert_evaluations(conn, [row], answers)
    return evaluation


def _figures_of(row: Mapping[str, Any]) -> CallFigures:
    figures = {name: row[name] for name in rows.FIGURE_COLUMNS}
    figures["abuse_flagged"] = (
        bool(row["abuse_flagged"]) if row["abuse_flagged"] is not None else None
    )
    return CallFigures(
        call_id=row["call_id"],
        breakdown=tuple(json.loads(row["breakdown_json"] or "[]")),
        figures=figures,
        phrases=json.loads(row["evidence_json"] or "{}"),
    )


@dataclass(frozen=True)
class RescoreReport:
    form: str
    calls: int


def rescore(
    store: Store,
    ref: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> RescoreReport:
    """Evaluate every visible call under form ``ref`` (``NAME`` or ``NAME@VERSION``).

    Each call gets a new current evaluation; earlier ones, with their human answers
    and disputes, stay as its history. ``progress`` is called with each batch's size.
    """
    now = now or utcnow()
    form = get_form(store, ref, now)
    done = 0
    for batch in rows.figure_batches(store, now, batch_size):
        new_rows, new_answers = [], []
        for figures_row in batch:
            row, answers = _rows_of(evaluate(form, _figures_of(figures_row)), by="rescore", now=now)
            new_rows.append(row)
            new_answers += answers
        with store.write() as conn:
            # a call objected or made private since the batch was read is left out
            kept = rows.still_visible(conn, store, [r["call_id"] for r in new_rows], now)
            ids = {r["evaluation_id"] for r in new_rows if r["call_id"] in kept}
            rows.insert_evaluations(
                conn,
                [r for r in new_rows if r["evaluation_id"] in ids],
                [a for a in new_answers if a["evaluation_id"] in ids],
            )
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    with store.write() as conn:
        audit.record(conn, actor, "rescore", detail={"form": form.ref, "calls": done}, now=now)
    log.info("rescored %d calls under %s", done, form.ref)
    return RescoreReport(form=form.ref, calls=done)


def count_rescorable(store: Store, now: datetime | None = None) -> int:
    return rows.count_visible(store, now or utcnow())
