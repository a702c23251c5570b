"""Calibration: several evaluators score the same calls blind, and the report says how
far they agree, per question, and how far the automatic answers are from theirs.

- **percent agreement** of a question: over the calls every evaluator answered, the
  mean share of evaluator pairs giving the same answer (Fleiss' P̄);
- **Fleiss' kappa** (``statsmodels``): that agreement corrected for chance, any number
  of evaluators; **Cohen's kappa** (``scikit-learn``) as well when there are two;
- **mean absolute difference** between each call's automatic score and its evaluators'
  mean score under the same form version.

An evaluator sees only their own answers while the session runs (blind scoring).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from analytics import audit
from analytics.errors import NotFoundError, UsageError
from analytics.evaluations.automatic import active_form, form_by_version, get_form
from analytics.evaluations.forms import Form
from analytics.evaluations.scoring import score
from analytics.store import Store, iso, utcnow
from analytics.store import evaluations as rows


@dataclass(frozen=True)
class QuestionAgreement:
    question_id: str
    calls: int  # calls every evaluator answered
    percent_agreement: float | None
    fleiss_kappa: float | None
    cohen_kappa: float | None  # two evaluators only


@dataclass(frozen=True)
class CalibrationReport:
    session_id: int
    name: str
    form: str
    evaluators: tuple[str, ...]
    calls: int
    questions: tuple[QuestionAgreement, ...]
    mean_abs_difference: float | None  # automatic vs the evaluators' mean score
    compared_calls: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        def fmt(value: float | None, pct: bool = False) -> str:
            if value is None:
                return "-"
            return f"{100 * value:.0f}%" if pct else f"{value:.2f}"

        lines = [
            f"session {self.session_id} {self.name!r} ({self.form}): {self.calls} calls, "
            f"evaluators {', '.join(self.evaluators)}",
            "question\tcalls\tagreement\tfleiss_kappa\tcohen_kappa",
        ]
        lines += [
            f"{q.question_id}\t{q.calls}\t{fmt(q.percent_agreement, True)}\t"
            f"{fmt(q.fleiss_kappa)}\t{fmt(q.cohen_kappa)}"
            for q in self.questions
        ]
        lines.append(
            f"automatic vs human score: mean absolute difference "
            f"{fmt(self.mean_abs_difference)} over {self.compared_calls} calls"
        )
        return "\n".join(lines)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def agreement(question_id: str, ratings: Sequence[Sequence[str]]) -> QuestionAgreement:
    """Agreement over ``ratings``: one row per call, one answer per evaluator (same order).

    Kappa is undefined (None) when every answer is the same category.
    """
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    complete = [list(r) for r in ratings if r and all(v is not None for v in r)]
    if not complete or len(complete[0]) < 2:
        return QuestionAgreement(question_id, len(complete), None, None, None)
    pairs = [
        sum(a == b for a, b in itertools.combinations(r, 2)) / math.comb(len(r), 2)
        for r in complete
    ]
    percent = round(sum(pairs) / len(pairs), 4)
    table, _categories = aggregate_raters(complete)
    fleiss = _finite(fleiss_kappa(table, method="fleiss")) if len(_categories) > 1 else None
    cohen = None
    if len(complete[0]) == 2 and len({v for r in complete for v in r}) > 1:
        cohen = _finite(cohen_kappa_score([r[0] for r in complete], [r[1] for r in complete]))
    return QuestionAgreement(question_id, len(complete), percent, fleiss, cohen)


# --- sessions --------------------------------------------------------------------------


def create_session(
    store: Store,
    name: str,
    call_ids: Sequence[str],
    evaluators: Sequence[str],
    *,
    form_ref: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> int:
    """A calibration session over visible calls, for two or more evaluators."""
    now = now or utcnow()
    if not name.strip():
        raise UsageError("a calibration session needs a name")
    people = sorted({e.strip() for e in evaluators if e.strip()})
    if len(people) < 2:
        raise UsageError("a calibration session needs at least two evaluators")
    wanted = sorted(set(call_ids))
    if not wanted:
        raise UsageError("a calibration session needs calls")
    form = get_form(store, form_ref, now) if form_ref else None
    with store.write() as conn:
        form = form or active_form(conn, now)
        missing = set(wanted) - rows.still_visible(conn, store, wanted, now)
        if missing:
            raise NotFoundError(f"calls not visible: {', '.join(sorted(missing))}")
        session_id = rows.insert_session(
            conn,
            {
                "name": name.strip(),
                "form_name": form.name,
                "form_version": form.version,
                "created_by": actor,
                "created_at": iso(now),
                "evaluators_json": json.dumps(people),
            },
            wanted,
        )
        audit.record(
            conn,
            actor,
            "calibration_create",
            detail={"session": session_id, "calls": len(wanted), "evaluators": len(people)},
            now=now,
        )
    return session_id


def sample_calls(
    store: Store, n: int, *, seed: int | None = None, now: datetime | None = None
) -> list[str]:
    """``n`` visible calls drawn uniformly (reservoir sampling over the ids in order:
    the same seed and calls give the same sample on either backend).

    Raises:
        UsageError: ``n`` below 1, or fewer visible calls than ``n``.
    """
    if n < 1:
        raise UsageError("a calibration sample needs at least one call")
    rng = random.Random(seed)
    chosen: list[str] = []
    seen = 0
    for batch in rows.visible_id_batches(store, now or utcnow()):
        for call_id in batch:
            seen += 1
            if len(chosen) < n:
                chosen.append(call_id)
            else:
                slot = rng.randrange(seen)
                if slot < n:
                    chosen[slot] = call_id
    if seen < n:
        raise UsageError(f"a sample of {n} calls: only {seen} calls are visible")
    return sorted(chosen)


@dataclass(frozen=True)
class Session:
    session_id: int
    name: str
    form: Form
    evaluators: tuple[str, ...]
    call_ids: tuple[str, ...]
    created_by: str
    created_at: str


def sessions(store: Store) -> list[dict[str, Any]]:
    """Every session, newest first, with its ``evaluators`` as a list."""
    with store.read() as conn:
        found = rows.session_rows(conn)
    return [{**row, "evaluators": json.loads(row["evaluators_json"])} for row in found]


def session(store: Store, session_id: int | None = None, *, now: datetime | None = None) -> Session:
    """A session (the latest when None), with its calls still visible."""
    now = now or utcnow()
    with store.read() as conn:
        if session_id is None:
            found = rows.session_rows(conn)
            row = found[0] if found else None
        else:
            row = rows.session_row(conn, session_id)
        if row is None:
            raise NotFoundError("no such calibration session")
        return Session(
            session_id=int(row["id"]),
            name=row["name"],
            form=form_by_version(conn, row["form_name"], int(row["form_version"])),
            evaluators=tuple(json.loads(row["evaluators_json"])),
            call_ids=tuple(rows.session_call_ids(conn, store, int(row["id"]), now)),
            created_by=row["created_by"],
            created_at=row["created_at"],
        )


def submit(
    store: Store,
    session_id: int,
    call_id: str,
    evaluator: str,
    answers: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> None:
    """One evaluator's blind answers to one call of the session (audited)."""
    now = now or utcnow()
    current = session(store, session_id, now=now)
    if evaluator not in current.evaluators:
        raise NotFoundError(f"calibration session {session_id}: {evaluator} is not an evaluator")
    if call_id not in current.call_ids:
        raise NotFoundError(f"calibration session {session_id}: no visible call {call_id}")
    checked = []
    for question_id, value in answers.items():
        try:
            value = current.form.question(question_id).check_value(value)
        except KeyError:
            raise NotFoundError(f"form {current.form.ref}: no question {question_id!r}") from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        checked.append(
            {
                "session_id": session_id,
                "call_id": call_id,
                "evaluator": evaluator,
                "question_id": question_id,
                "value": value,
                "at": iso(now),
            }
        )
    with store.write() as conn:
        rows.save_calibration_answers(conn, checked)
        audit.record(
            conn,
            evaluator,
            "calibration_answer",
            call_id,
            {"session": session_id, "answers": len(checked)},
            now=now,
        )


def my_answers(
    store: Store, session_id: int, evaluator: str, *, now: datetime | None = None
) -> dict[str, dict[str, str]]:
    """An evaluator's own answers (call → question → answer): blind to the others'."""
    with store.read() as conn:
        found = rows.calibration_answer_rows(conn, store, session_id, now or utcnow(), evaluator)
    out: dict[str, dict[str, str]] = {}
    for row in found:
        out.setdefault(row["call_id"], {})[row["question_id"]] = row["value"]
    return out


def report(
    store: Store, session_id: int | None = None, *, now: datetime | None = None
) -> CalibrationReport:
    """Agreement per question and automatic vs human scores of a session (latest: None)."""
    now = now or utcnow()
    current = session(store, session_id, now=now)
    with store.read() as conn:
        answers = rows.calibration_answer_rows(conn, store, current.session_id, now)
        automatic = rows.automatic_answer_rows(
            conn, store, current.call_ids, current.form.name, current.form.version, now
        )
    given: dict[tuple[str, str], dict[str, str]] = {}
    for row in answers:
        given.setdefault((row["call_id"], row["evaluator"]), {})[row["question_id"]] = row["value"]
    questions = tuple(
        agreement(
            q.id,
            [
                [given.get((call, e), {}).get(q.id) for e in current.evaluators]  # type: ignore[misc]
                for call in current.call_ids
            ],
        )
        for q in current.form.questions
    )
    auto_scores = {row["call_id"]: row["automatic_score"] for row in automatic}  # latest wins
    diffs = []
    for call in current.call_ids:
        human = [
            score(current.form, given[(call, e)]) for e in current.evaluators if (call, e) in given
        ]
        human_scores = [h for h in human if h is not None]
        auto = auto_scores.get(call)
        if human_scores and auto is not None:
            diffs.append(abs(auto - sum(human_scores) / len(human_scores)))
    return CalibrationReport(
        session_id=current.session_id,
        name=current.name,
        form=current.form.ref,
        evaluators=current.evaluators,
        calls=len(current.call_ids),
        questions=questions,
        mean_abs_difference=round(sum(diffs) / len(diffs), 2) if diffs else None,
        compared_calls=len(diffs),
    )
