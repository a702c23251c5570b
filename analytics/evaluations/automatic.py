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
from analytics.evaluations.forms import Form, Question
from analytics.evaluations.scoring import (
    AutoEvaluation,
    CallFigures,
    evaluate,
    phrase_evidence,
    score,
)
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
            "carried_from": None,
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
    carried: int = 0  # human answers carried to the new evaluations
    to_review: int = 0  # human answers to questions that changed: flagged for review


def _same_question(old: Question, new: Question) -> bool:
    """A human answer to ``old`` still answers ``new``: the same answer type (and scale)."""
    return (old.type, old.min, old.max) == (new.type, new.min, new.max)


def _carry(
    conn: Connection,
    form: Form,
    new_rows: list[dict[str, Any]],
    new_answers: list[dict[str, Any]],
    *,
    now: datetime,
) -> tuple[int, int, list[dict[str, Any]]]:
    """Carry the human answers of the calls' current evaluations (same form name)
    into the new ones where the question is unchanged (same id, answer type):
    value, evaluator and time, marked ``carried_from`` NAME@N, with a history row
    keeping the reason. A human answer to a question that changed is left to the
    automatic answer and the evaluation is flagged ``to_review``. Returns (carried,
    flagged) counts and the history rows; the final score follows the carried answers."""
    by_call = {row["call_id"]: row for row in new_rows}
    answers = {(a["evaluation_id"], a["question_id"]): a for a in new_answers}
    forms: dict[tuple[str, int], Form] = {}
    carried = flagged = 0
    history: list[dict[str, Any]] = []
    touched: set[str] = set()
    for human in rows.human_answer_rows(conn, list(by_call)):
        if human["form_name"] != form.name:
            continue
        key = (human["form_name"], int(human["form_version"]))
        old_form = forms.get(key) or forms.setdefault(key, form_by_version(conn, *key))
        new_row = by_call[human["call_id"]]
        evaluation_id = new_row["evaluation_id"]
        question_id = human["question_id"]
        target = answers.get((evaluation_id, question_id))
        source = f"{old_form.name}@{old_form.version}"
        try:
            old_question = old_form.question(question_id)
        except KeyError:
            continue
        if target is None:  # the question is gone from the new version
            continue
        touched.add(evaluation_id)
        if not _same_question(old_question, form.question(question_id)):
            new_row["status"] = "to_review"
            flagged += 1
            history.append(
                {
                    "evaluation_id": evaluation_id,
                    "question_id": question_id,
                    "kind": "to_review",
                    "previous_value": human["final_value"],
                    "value": target["automatic_value"],
                    "evaluator": "rescore",
                    "reason": f"question changed since {source}: answered again automatically",
                    "at": iso(now),
                }
            )
            continue
        target.update(
            final_value=human["final_value"],
            answered_by=human["answered_by"],
            answered_at=human["answered_at"],
            carried_from=source,
        )
        history.append(
            {
                "evaluation_id": evaluation_id,
                "question_id": question_id,
                "kind": "carry",
                "previous_value": target["automatic_value"],
                "value": human["final_value"],
                "evaluator": human["answered_by"],
                "reason": human["reason"],
                "at": human["answered_at"] or iso(now),
            }
        )
        carried += 1
        if new_row["status"] == "automatic":
            new_row["status"] = "reviewed"
    for new_row in new_rows:
        if new_row["evaluation_id"] in touched:
            finals = {
                a["question_id"]: a["final_value"]
                for a in new_answers
                if a["evaluation_id"] == new_row["evaluation_id"]
            }
            new_row["final_score"] = score(form, finals)
    return carried, flagged, history


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
    done = carried = flagged = 0
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
            new_rows = [r for r in new_rows if r["evaluation_id"] in ids]
            new_answers = [a for a in new_answers if a["evaluation_id"] in ids]
            n_carried, n_flagged, history = _carry(conn, form, new_rows, new_answers, now=now)
            rows.insert_evaluations(conn, new_rows, new_answers)
            rows.add_history_rows(conn, history)
            carried, flagged = carried + n_carried, flagged + n_flagged
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    with store.write() as conn:
        detail = {"form": form.ref, "calls": done, "carried": carried, "to_review": flagged}
        audit.record(conn, actor, "rescore", detail=detail, now=now)
    log.info(
        "rescored %d calls under %s (%d human answers carried, %d to review)",
        done,
        form.ref,
        carried,
        flagged,
    )
    return RescoreReport(form=form.ref, calls=done, carried=carried, to_review=flagged)


def count_rescorable(store: Store, now: datetime | None = None) -> int:
    return rows.count_visible(store, now or utcnow())
