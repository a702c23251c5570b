"""What people do with evaluations: review, override, answer, acknowledge, dispute,
resolve, coach, and an agent marking a call of theirs private.

Every action is audited (:mod:`analytics.audit`) with counts and ids only: reasons,
comments and notes may quote the call, so the log keeps their length, never their
text. Reads go through the store's governed queries: a call that is not visible
(objected, erased, expired, private) has no evaluation to show or act on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics import audit, governance
from analytics.errors import NotFoundError, UsageError
from analytics.evaluations.automatic import form_by_version
from analytics.evaluations.forms import Form, Question
from analytics.evaluations.scoring import score
from analytics.store import Connection, Store, iso, utcnow
from analytics.store import evaluations as rows

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
DISPUTE_DECISIONS = ("uphold", "revise")
NOTE_STATUSES = ("open", "done")


@dataclass(frozen=True)
class AnswerView:
    question: Question
    automatic: str | None  # None: a manual question
    final: str | None  # None: not answered yet
    answered_by: str | None  # None: the automatic answer stands
    evidence: Mapping[str, Any]
    carried_from: str | None = None  # "NAME@N": a human answer rescore carried here

    @property
    def overridden(self) -> bool:
        return self.answered_by is not None and self.final != self.automatic

    def label(self) -> str:
        """'yes', or 'no — overridden by X (automatic: yes)', or 'not answered'; a
        human answer rescore carried from an earlier version adds 'carried from NAME@N'."""
        if self.final is None:
            return "not answered"
        carried = f", carried from {self.carried_from}" if self.carried_from else ""
        if self.overridden and self.automatic is not None:
            return (
                f"{self.final} — overridden by {self.answered_by} "
                f"(automatic: {self.automatic}){carried}"
            )
        if self.answered_by:
            return f"{self.final} — by {self.answered_by}{carried}"
        return self.final


@dataclass(frozen=True)
class EvaluationView:
    evaluation_id: str
    call_id: str
    agent_id: str | None
    form: Form
    status: str
    automatic_score: float | None
    final_score: float | None
    created_at: str
    reviewed_by: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    answers: tuple[AnswerView, ...]
    history: tuple[Mapping[str, Any], ...]
    disputes: tuple[Mapping[str, Any], ...]

    def score_label(self) -> str:
        if self.final_score is None:
            return "no score"
        if self.final_score != self.automatic_score:
            auto = "none" if self.automatic_score is None else f"{self.automatic_score:g}"
            return f"{self.final_score:g} (automatic: {auto})"
        return f"{self.final_score:g}"


def _view(conn: Connection, row: Mapping[str, Any], store: Store, now: datetime) -> EvaluationView:
    form = form_by_version(conn, row["form_name"], int(row["form_version"]))
    stored = {a["question_id"]: a for a in rows.answer_rows(conn, row["evaluation_id"])}
    answers = []
    for q in form.questions:
        a = stored.get(q.id, {})
        answers.append(
            AnswerView(
                question=q,
                automatic=a.get("automatic_value"),
                final=a.get("final_value"),
                answered_by=a.get("answered_by"),
                evidence=json.loads(a.get("evidence_json") or "{}"),
                carried_from=a.get("carried_from"),
            )
        )
    return EvaluationView(
        evaluation_id=row["evaluation_id"],
        call_id=row["call_id"],
        agent_id=row["agent_id"],
        form=form,
        status=row["status"],
        automatic_score=row["automatic_score"],
        final_score=row["final_score"],
        created_at=row["created_at"],
        reviewed_by=row["reviewed_by"],
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=row["acknowledged_at"],
        answers=tuple(answers),
        history=_history(conn, row, stored),
        disputes=tuple(rows.dispute_rows(conn, store, now, evaluation_id=row["evaluation_id"])),
    )


def _history(
    conn: Connection, row: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]]
) -> tuple[Mapping[str, Any], ...]:
    """The answers' history; a ``carry`` row (rescore carried a human answer) names
    the version it came from in ``carried_from``: the answer's mark while it stands,
    else (answered again since) the evaluation this one replaced."""
    found = [dict(h) for h in rows.history_rows(conn, row["evaluation_id"])]
    if not any(h["kind"] == "carry" for h in found):
        return tuple(found)
    earlier = rows.previous_evaluation_ref(conn, row["call_id"], row["evaluation_id"])
    for h in found:
        if h["kind"] == "carry":
            h["carried_from"] = stored.get(h["question_id"], {}).get("carried_from") or earlier
    return tuple(found)


def _checked_owner(row: Mapping[str, Any] | None, agent_id: str | None, what: str) -> None:
    """An agent reaches only their own calls; anyone else passes ``agent_id=None``."""
    if row is None or (agent_id is not None and row["agent_id"] != agent_id):
        raise NotFoundError(f"{what}: no such evaluation visible")


def call_evaluation(
    store: Store, call_id: str, *, now: datetime | None = None, agent_id: str | None = None
) -> EvaluationView | None:
    """The current evaluation of a visible call (None: not evaluated).

    Raises:
        NotFoundError: ``agent_id`` is given and the call is not that agent's.
    """
    now = now or utcnow()
    with store.read() as conn:
        row = rows.current_evaluation_row(conn, store, call_id, now)
        if row is None:
            return None
        _checked_owner(row, agent_id, f"call {call_id}")
        return _view(conn, row, store, now)


def evaluation_history(
    store: Store, call_id: str, *, now: datetime | None = None, agent_id: str | None = None
) -> list[EvaluationView]:
    """Every evaluation of a visible call, newest first (rescoring keeps the old ones)."""
    now = now or utcnow()
    with store.read() as conn:
        found = rows.call_evaluation_rows(conn, store, call_id, now)
        for row in found:
            _checked_owner(row, agent_id, f"call {call_id}")
        return [_view(conn, row, store, now) for row in found]


def _text(value: str, what: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise UsageError(f"{what} is required")
    if len(value) > MAX_TEXT_CHARS:
        raise UsageError(f"{what} has at most {MAX_TEXT_CHARS} characters")
    return value


def _locked(conn: Connection, store: Store, evaluation_id: str, now: datetime) -> dict[str, Any]:
    row = rows.evaluation_row(conn, store, evaluation_id, now)
    if row is None:
        raise NotFoundError(f"evaluation {evaluation_id}: no such evaluation visible")
    return row


def _rescore(conn: Connection, row: Mapping[str, Any], form: Form) -> float | None:
    finals = {
        a["question_id"]: a["final_value"] for a in rows.answer_rows(conn, row["evaluation_id"])
    }
    return score(form, finals)


def answer(
    store: Store,
    evaluation_id: str,
    question_id: str,
    value: str,
    *,
    evaluator: str,
    reason: str = "",
    now: datetime | None = None,
    revision: bool = False,
) -> EvaluationView:
    """An evaluator confirms an automatic answer, overrides it (a reason is required),
    or answers a manual question; the final score follows. ``revision``: a quality
    manager revising it to resolve a dispute (the comment is the reason).

    Raises:
        NotFoundError: the evaluation or question does not exist or is not visible.
        UsageError: an answer the question does not take, or an override without reason.
    """
    now = now or utcnow()
    with store.write() as conn:
        row = _locked(conn, store, evaluation_id, now)
        form = form_by_version(conn, row["form_name"], int(row["form_version"]))
        try:
            question = form.question(question_id)
            value = question.check_value(value)
        except KeyError:
            raise NotFoundError(f"form {form.ref}: no question {question_id!r}") from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        current = {a["question_id"]: a for a in rows.answer_rows(conn, evaluation_id)}[question_id]
        automatic = current["automatic_value"]
        kind = "answer" if automatic is None else "confirm" if value == automatic else "override"
        kind = "revise" if revision else kind
        why = _text(reason, "the reason for an override", required=kind in ("override", "revise"))
        rows.set_answer(conn, evaluation_id, question_id, value, by=evaluator, at=now)
        rows.add_history(
            conn,
            {
                "evaluation_id": evaluation_id,
                "question_id": question_id,
                "kind": kind,
                "previous_value": current["final_value"],
                "value": value,
                "evaluator": evaluator,
                "reason": why or None,
                "at": iso(now),
            },
        )
        status = row["status"] if row["status"] in ("disputed",) else "reviewed"
        rows.update_evaluation(
            conn,
            evaluation_id,
            final_score=_rescore(conn, row, form),
            status=status,
            reviewed_by=evaluator,
            reviewed_at=iso(now),
        )
        audit.record(
            conn,
            evaluator,
            "evaluation_answer",
            row["call_id"],
            {"question": question_id, "kind": kind, "reason_chars": len(why)},
            now=now,
        )
        view = _view(conn, _locked(conn, store, evaluation_id, now), store, now)
    log.info("evaluation of call %s: %s of %s by %s", row["call_id"], kind, question_id, evaluator)
    return view


def acknowledge(
    store: Store, evaluation_id: str, *, user: str, agent_id: str, now: datetime | None = None
) -> None:
    """The agent has read their evaluation."""
    now = now or utcnow()
    with store.write() as conn:
        row = _locked(conn, store, evaluation_id, now)
        _checked_owner(row, agent_id, f"evaluation {evaluation_id}")
        rows.update_evaluation(conn, evaluation_id, acknowledged_by=user, acknowledged_at=iso(now))
        audit.record(conn, user, "evaluation_acknowledge", row["call_id"], {}, now=now)


def dispute(
    store: Store,
    evaluation_id: str,
    comment: str,
    *,
    user: str,
    agent_id: str,
    now: datetime | None = None,
) -> int:
    """The agent disputes their evaluation with a comment; it joins the managers' queue."""
    now = now or utcnow()
    comment = _text(comment, "a dispute's comment", required=True)
    with store.write() as conn:
        row = _locked(conn, store, evaluation_id, now)
        _checked_owner(row, agent_id, f"evaluation {evaluation_id}")
        if rows.dispute_rows(conn, store, now, status="open", evaluation_id=evaluation_id):
            raise UsageError(f"evaluation {evaluation_id}: a dispute is already open")
        dispute_id = rows.insert_dispute(
            conn,
            {
                "evaluation_id": evaluation_id,
                "call_id": row["call_id"],
                "agent_user": user,
                "comment": comment,
                "status": "open",
                "filed_at": iso(now),
            },
        )
        rows.update_evaluation(conn, evaluation_id, status="disputed")
        audit.record(
            conn,
            user,
            "evaluation_dispute",
            row["call_id"],
            {"dispute": dispute_id, "comment_chars": len(comment)},
            now=now,
        )
    return dispute_id


def dispute_queue(
    store: Store, *, now: datetime | None = None, status: str | None = "open"
) -> list[dict[str, Any]]:
    """Disputes of visible calls, oldest first (the open ones by default)."""
    with store.read() as conn:
        return rows.dispute_rows(conn, store, now or utcnow(), status=status)


def agent_disputes(
    store: Store, agent_id: str, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    with store.read() as conn:
        return rows.dispute_rows(conn, store, now or utcnow(), status=None, agent_id=agent_id)


def resolve(
    store: Store,
    dispute_id: int,
    decision: str,
    comment: str,
    *,
    manager: str,
    revisions: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> EvaluationView:
    """A quality manager upholds the evaluation or revises answers (``revisions``:
    question id → new answer); the comment goes to the agent."""
    if decision not in DISPUTE_DECISIONS:
        raise UsageError(f"a dispute is resolved by {' or '.join(DISPUTE_DECISIONS)}")
    if decision == "revise" and not revisions:
        raise UsageError("a revision names the answers it changes")
    now = now or utcnow()
    comment = _text(comment, "the resolution's comment", required=True)
    with store.read() as conn:
        found = [
            d for d in rows.dispute_rows(conn, store, now, status="open") if d["id"] == dispute_id
        ]
    if not found:
        raise NotFoundError(f"dispute {dispute_id}: no open dispute visible")
    evaluation_id = found[0]["evaluation_id"]
    for question_id, value in (revisions or {}).items():
        answer(
            store,
            evaluation_id,
            question_id,
            value,
            evaluator=manager,
            reason=comment,
            now=now,
            revision=True,
        )
    with store.write() as conn:
        row = _locked(conn, store, evaluation_id, now)
        rows.resolve_dispute(
            conn,
            dispute_id,
            status="upheld" if decision == "uphold" else "revised",
            resolved_by=manager,
            resolved_at=iso(now),
            resolution=comment,
        )
        rows.update_evaluation(conn, evaluation_id, status="resolved")
        audit.record(
            conn,
            manager,
            "dispute_resolve",
            row["call_id"],
            {"dispute": dispute_id, "decision": decision, "revised": len(revisions or {})},
            now=now,
        )
        return _view(conn, _locked(conn, store, evaluation_id, now), store, now)


# --- private calls ---------------------------------------------------------------------


def mark_private(
    store: Store, call_id: str, *, user: str, agent_id: str, now: datetime | None = None
) -> governance.ObjectionReport:
    """An agent excludes a personal call of theirs: it is treated as an objection —
    never analysed, everything derived deleted at once — and audited."""
    now = now or utcnow()
    with store.read() as conn:
        owner = rows.call_owner(conn, call_id)
    if owner is None or owner["agent_id"] != agent_id:
        raise NotFoundError(f"call {call_id}: no such call of yours")
    report = governance.object_calls(store, call_id=call_id, now=now, actor=user)
    with store.write() as conn:
        audit.record(conn, user, "mark_private", call_id, {"calls": len(report.calls)}, now=now)
    log.info("call %s marked private by its agent", call_id)
    return report


# --- coaching --------------------------------------------------------------------------


def add_note(
    store: Store,
    agent_id: str,
    note: str,
    *,
    author: str,
    links: Sequence[tuple[str, int | None]] = (),
    now: datetime | None = None,
) -> int:
    """A coaching note for an agent, linked to calls of theirs (and segments: an index,
    or None for the whole call)."""
    now = now or utcnow()
    note = _text(note, "a coaching note", required=True)
    if not agent_id.strip():
        raise UsageError("a coaching note names an agent")
    with store.write() as conn:
        for call_id, _segment in links:
            owner = rows.call_owner(conn, call_id)
            if (
                owner is None
                or owner["agent_id"] != agent_id
                or not rows.still_visible(conn, store, [call_id], now)
            ):
                raise NotFoundError(f"call {call_id}: no visible call of agent {agent_id}")
        note_id = rows.insert_note(
            conn,
            {
                "agent_id": agent_id,
                "author": author,
                "note": note,
                "status": "open",
                "created_at": iso(now),
                "updated_at": iso(now),
            },
            [(c, -1 if s is None else int(s)) for c, s in links],
        )
        audit.record(
            conn,
            author,
            "coaching_note",
            links[0][0] if links else None,
            {"note": note_id, "links": len(links), "status": "open"},
            now=now,
        )
    return note_id


def set_note_status(
    store: Store, note_id: int, status: str, *, actor: str, now: datetime | None = None
) -> None:
    if status not in NOTE_STATUSES:
        raise UsageError(f"a coaching note is {' or '.join(NOTE_STATUSES)}")
    now = now or utcnow()
    with store.write() as conn:
        if rows.note_row(conn, note_id) is None:
            raise NotFoundError(f"coaching note {note_id}: no such note")
        rows.update_note(conn, note_id, status=status, updated_at=iso(now))
        audit.record(
            conn, actor, "coaching_note", None, {"note": note_id, "status": status}, now=now
        )


def notes(
    store: Store, *, agent_id: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Coaching notes (an agent's only, when given), newest first, with visible links."""
    with store.read() as conn:
        return rows.note_rows(conn, store, now or utcnow(), agent_id)
