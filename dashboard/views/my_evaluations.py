"""My evaluations: an agent's own evaluated calls — the redacted transcript, the scores
and who changed what — to acknowledge or dispute; and marking a personal call private."""

from __future__ import annotations

import streamlit as st

from analytics.errors import CallqaError, NotFoundError
from analytics.evaluations import workflow
from analytics.store import get_call
from analytics.store.evaluations import CallQuery, find_calls
from dashboard import auth_ui, evaluation_ui, runtime, ui

user = auth_ui.require("my_evaluations")
store = runtime.store()
moment = runtime.now()

st.title("My evaluations")
if not user.agent_id:
    st.warning("Your account is not linked to an agent id: ask an administrator.")
    st.stop()
rows, total = find_calls(store, moment, CallQuery(agent=user.agent_id, limit=200))
own = [row["call_id"] for row in rows]
st.caption(f"Your calls (agent {ui.md_escape(user.agent_id)}): {total:,}; the latest 200 here.")
asked = st.query_params.get("call")
if asked and asked in own and st.session_state.get("me_url_seen") != asked:
    st.session_state["me_call"] = asked
    st.session_state["me_url_seen"] = asked
call_id = st.selectbox("Call", own, index=None, key="me_call", placeholder="Choose a call")
if not call_id:
    st.info("Choose one of your calls.")
    st.stop()

try:
    evaluation = workflow.call_evaluation(store, call_id, now=moment, agent_id=user.agent_id)
    record = get_call(store, call_id, moment)
except NotFoundError:
    st.warning(f"Call {ui.md_escape(call_id)} is not available.")
    st.stop()
auth_ui.audit_once(user, "view_call", call_id, {"page": "my_evaluations"}, view=f"me:{call_id}")
segments = record["segments"]
st.caption(
    f"Started {ui.when(record['started_at'])} · team {ui.md_escape(record['team'] or '–')} · "
    f"length {ui.clock(record['duration_s'])}"
)
evaluation_tab, transcript_tab, private_tab = st.tabs(["Evaluation", "Transcript", "Private call"])
with evaluation_tab:
    evaluation_ui.show(user, evaluation, segments, editable=False)
    if evaluation is not None:
        if not evaluation.acknowledged_by and st.button("Acknowledge", key="me_ack"):
            try:
                workflow.acknowledge(
                    store,
                    evaluation.evaluation_id,
                    user=user.name,
                    agent_id=user.agent_id,
                    now=runtime.now(),
                )
            except CallqaError as exc:
                st.error(ui.md_escape(exc))
            else:
                st.rerun()
        with st.form("me_dispute", clear_on_submit=True):
            comment = st.text_area(
                "Dispute this evaluation", max_chars=workflow.MAX_TEXT_CHARS, key="me_comment"
            )
            if st.form_submit_button("Dispute"):
                try:
                    workflow.dispute(
                        store,
                        evaluation.evaluation_id,
                        comment,
                        user=user.name,
                        agent_id=user.agent_id,
                        now=runtime.now(),
                    )
                except CallqaError as exc:
                    st.error(ui.md_escape(exc))
                else:
                    st.rerun()
with transcript_tab:
    for i, seg in enumerate(segments):
        st.markdown(
            f":gray[#{i:d} · {ui.clock(seg['start'])} · {ui.md_escape(seg['speaker'])}]  \n"
            + ui.md_escape(seg["text"])
        )
with private_tab:
    st.caption(
        "A personal call can be excluded: it is then treated as an objection — its "
        "transcript, figures, evaluation and audio are deleted at once. This is recorded."
    )
    sure = st.checkbox("This was a personal call", key=f"me_private_{call_id}")
    if st.button("Mark this call private", disabled=not sure, key="me_private"):
        try:
            workflow.mark_private(
                store, call_id, user=user.name, agent_id=user.agent_id, now=runtime.now()
            )
        except CallqaError as exc:
            st.error(ui.md_escape(exc))
        else:
            runtime.after_write()
            st.session_state.pop("me_call", None)
            st.rerun()
