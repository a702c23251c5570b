"""Disputes: the queue of evaluations agents contest, oldest first; a quality manager
upholds the evaluation or revises answers, with a comment the agent reads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.errors import CallqaError
from analytics.evaluations import workflow
from analytics.store import get_call
from dashboard import auth_ui, evaluation_ui, runtime, ui

user = auth_ui.require("disputes")
store = runtime.store()
moment = runtime.now()

st.title("Disputes")
queue = workflow.dispute_queue(store, now=moment)
st.caption(f"{len(queue)} open dispute(s), oldest first.")
if queue:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": d["id"],
                    "filed": d["filed_at"],
                    "call": d["call_id"],
                    "agent": d["agent_id"],
                    "team": d["team"],
                    "by": d["agent_user"],
                    "comment": d["comment"],
                }
                for d in queue
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No open dispute.")

if queue:
    by_id = {d["id"]: d for d in queue}
    dispute_id = st.selectbox(
        "Dispute",
        list(by_id),
        key="dq_pick",
        format_func=lambda i: f"#{i} · call {by_id[i]['call_id']} · agent {by_id[i]['agent_id']}",
    )
    chosen = by_id[dispute_id]
    evaluation = workflow.call_evaluation(store, chosen["call_id"], now=moment)
    segments = get_call(store, chosen["call_id"], moment)["segments"]
    st.markdown(f"Agent's comment: {ui.md_escape(chosen['comment'])}")
    evaluation_ui.show(user, evaluation, segments, editable=False)
    if evaluation is not None and auth.can(user.role, "resolve_dispute"):
        questions = {q.id: q for q in evaluation.form.questions}
        with st.form("dq_resolve", clear_on_submit=True):
            decision = st.radio("Decision", workflow.DISPUTE_DECISIONS, horizontal=True)
            question_id = st.selectbox(
                "Question to revise", list(questions), format_func=lambda q: questions[q].text
            )
            value = st.selectbox(
                "Revised answer",
                sorted({c for q in questions.values() for c in q.choices()}),
            )
            comment = st.text_area("Resolution comment", max_chars=workflow.MAX_TEXT_CHARS)
            if st.form_submit_button("Resolve", type="primary"):
                try:
                    workflow.resolve(
                        store,
                        dispute_id,
                        decision,
                        comment,
                        manager=user.name,
                        revisions={question_id: value} if decision == "revise" else None,
                        now=runtime.now(),
                    )
                except CallqaError as exc:
                    st.error(ui.md_escape(exc))
                else:
                    runtime.after_write()
                    st.rerun()

done = workflow.dispute_queue(store, now=moment, status=None)
closed = [d for d in done if d["status"] != "open"]
if closed:
    st.subheader("Resolved")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": d["id"],
                    "call": d["call_id"],
                    "agent": d["agent_id"],
                    "status": d["status"],
                    "resolved by": d["resolved_by"],
                    "resolution": d["resolution"],
                    "at": d["resolved_at"],
                }
                for d in closed
            ]
        ),
        hide_index=True,
        width="stretch",
    )
