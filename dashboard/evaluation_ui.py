"""The evaluation of one call, as every page that shows it draws it: the final and the
automatic score, each answer with its evidence and who changed it, the history of the
answers and the disputes. Reviewers get the form that confirms, overrides or answers.

Every user-controlled value (answers' reasons, comments, names, redacted text) goes
through :func:`dashboard.ui.md_escape` or into a dataframe cell (never markdown).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.errors import CallqaError
from analytics.evaluations import workflow
from analytics.evaluations.workflow import EvaluationView
from dashboard import runtime, ui


def score_metrics(view: EvaluationView | None) -> None:
    """Final score with the automatic one beside it ("overridden" when they differ)."""
    cols = st.columns(3)
    if view is None:
        cols[0].metric("Evaluation score", "–", border=True)
        cols[1].caption("Not evaluated yet.")
        return
    final = "–" if view.final_score is None else f"{view.final_score:g}"
    auto = "–" if view.automatic_score is None else f"{view.automatic_score:g}"
    cols[0].metric("Evaluation score", final, border=True)
    cols[1].metric("Automatic score", auto, border=True)
    cols[2].metric("Evaluation status", view.status.capitalize(), border=True)
    st.caption(
        f"Form {ui.md_escape(view.form.ref)} · {ui.md_escape(view.form.title)} · "
        f"score {ui.md_escape(view.score_label())}"
    )


def _segment_line(segments: Sequence[dict[str, Any]], idx: int) -> str:
    """A segment an answer rests on, as plain text (escaped where it is shown)."""
    if not 0 <= idx < len(segments):
        return f"#{idx:d}"
    seg = segments[idx]
    return f"#{idx:d} · {ui.clock(seg['start'])} · {seg['speaker']}: {seg['text']}"


Seek = Callable[[int], None]


def answers(
    view: EvaluationView, segments: Sequence[dict[str, Any]], on_seek: Seek | None = None
) -> None:
    """Each question, its final answer ("overridden by X (automatic: Y)") and evidence;
    with ``on_seek``, each evidence segment has a button that seeks to it."""
    for section in view.form.sections:
        st.markdown(f"**{ui.md_escape(section.title)}**")
        for answer in (a for a in view.answers if a.question.section == section.id):
            q = answer.question
            binding = f"{q.auto} · weight {q.weight:g}"
            st.markdown(
                f"{ui.md_escape(q.text)} · :gray[{ui.md_escape(binding)}]  \n"
                f"Answer: **{ui.md_escape(answer.label())}**"
            )
            evidence = answer.evidence
            if evidence.get("reason"):
                st.caption(f"Evidence: {ui.md_escape(evidence['reason'])}")
            figures = {k: v for k, v in (evidence.get("figures") or {}).items() if v is not None}
            if figures:
                shown = ", ".join(
                    f"{k} = {v:g}" if isinstance(v, int | float) else f"{k} = {v}"
                    for k, v in figures.items()
                )
                st.caption(f"Figures: {ui.md_escape(shown)}")
            for idx in evidence.get("segments") or []:
                line, go = st.columns([6, 1], vertical_alignment="center")
                line.caption(ui.md_escape(_segment_line(segments, int(idx))))
                if on_seek is not None and 0 <= int(idx) < len(segments):
                    go.button(
                        f"Seek to #{int(idx):d}",
                        key=f"ev_seek_{q.id}_{int(idx):d}",
                        on_click=on_seek,
                        args=(int(idx),),
                    )


def _what(entry: Any) -> str:
    """A history row's kind; a carried answer says where from ("carried from NAME@N")."""
    if entry["kind"] == "carry" and entry.get("carried_from"):
        return f"carried from {entry['carried_from']}"
    return str(entry["kind"])


def history(view: EvaluationView) -> None:
    """Who answered what, when and why; the disputes and their resolution."""
    if view.history:
        st.markdown("**History of the answers**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "at": h["at"],
                        "question": h["question_id"],
                        "what": _what(h),
                        "before": h["previous_value"],
                        "after": h["value"],
                        "by": h["evaluator"],
                        "reason": h["reason"],
                    }
                    for h in view.history
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    if view.acknowledged_by:
        st.caption(
            f"Acknowledged by {ui.md_escape(view.acknowledged_by)} "
            f"on {ui.when(view.acknowledged_at)}"
        )
    if view.disputes:
        st.markdown("**Disputes**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "filed": d["filed_at"],
                        "by": d["agent_user"],
                        "comment": d["comment"],
                        "status": d["status"],
                        "resolved by": d["resolved_by"],
                        "resolution": d["resolution"],
                    }
                    for d in view.disputes
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def review_form(user: auth.User, view: EvaluationView) -> None:
    """Confirm or override an automatic answer (with a reason), or answer a manual one."""
    questions = {q.id: q for q in view.form.questions}
    with st.form("ev_review", clear_on_submit=True):
        st.markdown("**Review an answer**")
        question_id = st.selectbox(
            "Question",
            list(questions),
            format_func=lambda qid: questions[qid].text,
            key=f"ev_q_{view.evaluation_id}",
        )
        choices = sorted({c for q in questions.values() for c in q.choices()}, key=_order)
        value = st.selectbox("Answer", choices, key=f"ev_v_{view.evaluation_id}")
        reason = st.text_input(
            "Reason (required to override)",
            max_chars=workflow.MAX_TEXT_CHARS,
            key=f"ev_r_{view.evaluation_id}",
        )
        if st.form_submit_button("Save answer", type="primary"):
            try:
                workflow.answer(
                    runtime.store(),
                    view.evaluation_id,
                    question_id,
                    value,
                    evaluator=user.name,
                    reason=reason,
                    now=runtime.now(),
                )
            except CallqaError as exc:
                st.error(ui.md_escape(exc))
            else:
                runtime.after_write()
                st.rerun()


def _order(choice: str) -> tuple[int, float, str]:
    if choice in ("yes", "no", "na"):
        return (0, float(("yes", "no", "na").index(choice)), choice)
    return (1, float(choice), choice)


def show(
    user: auth.User,
    view: EvaluationView | None,
    segments: Sequence[dict[str, Any]],
    *,
    editable: bool,
    metrics: bool = True,
    on_seek: Seek | None = None,
) -> None:
    """The whole evaluation block of a call (``metrics``: with the score tiles)."""
    if metrics:
        score_metrics(view)
    if view is None:
        if not metrics:
            st.caption("Not evaluated yet.")
        return
    answers(view, segments, on_seek)
    history(view)
    if editable:
        review_form(user, view)
