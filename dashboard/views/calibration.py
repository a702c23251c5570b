"""Calibration: a quality manager sets up a session (calls and evaluators); each
evaluator scores the calls blind (seeing only their own answers); the report gives the
agreement per question and automatic vs human scores."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.errors import CallqaError
from analytics.evaluations import calibration
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("calibration")
store = runtime.store()
moment = runtime.now()

st.title("Calibration")
if auth.can(user.role, "calibrate"):
    with st.expander("New session"):
        recent = [r["call_id"] for r in runtime.call_list(runtime.Filters(), limit=200)]
        people = [u.name for u in auth.list_users(store) if auth.can(u.role, "evaluate")]
        with st.form("cal_new", clear_on_submit=True):
            name = st.text_input("Session name")
            chosen_calls = st.multiselect("Calls", recent)
            chosen_people = st.multiselect("Evaluators", people)
            if st.form_submit_button("Create session", type="primary"):
                try:
                    calibration.create_session(
                        store,
                        name,
                        chosen_calls,
                        chosen_people,
                        actor=user.name,
                        now=runtime.now(),
                    )
                except CallqaError as exc:
                    st.error(ui.md_escape(exc))
                else:
                    st.rerun()

sessions = calibration.sessions(store)
mine = [s for s in sessions if user.name in s["evaluators"] or auth.can(user.role, "calibrate")]
if not mine:
    st.info("No calibration session for you yet.")
    st.stop()
labels = {s["id"]: f"#{s['id']} · {s['name']} · {s['created_at']}" for s in mine}
session_id = st.selectbox("Session", list(labels), format_func=lambda i: labels[i], key="cal_s")
session = calibration.session(store, session_id, now=moment)
st.caption(
    f"Form {ui.md_escape(session.form.ref)} · {len(session.call_ids)} calls · evaluators "
    f"{ui.md_escape(', '.join(session.evaluators))}"
)

if user.name in session.evaluators:
    st.subheader("Your answers (blind: you see only yours)")
    answered = calibration.my_answers(store, session_id, user.name, now=moment)
    st.caption(f"{len(answered)} of {len(session.call_ids)} calls answered.")
    with st.form("cal_answer"):
        call_id = st.selectbox("Call", session.call_ids)
        values = {
            q.id: st.selectbox(ui.md_escape(q.text), q.choices(), key=f"cal_{q.id}")
            for q in session.form.questions
        }
        if st.form_submit_button("Submit answers", type="primary"):
            try:
                calibration.submit(store, session_id, call_id, user.name, values, now=runtime.now())
            except CallqaError as exc:
                st.error(ui.md_escape(exc))
            else:
                st.rerun()

if auth.can(user.role, "calibrate"):
    report = calibration.report(store, session_id, now=moment)
    st.subheader("Report")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "question": q.question_id,
                    "calls": q.calls,
                    "agreement": q.percent_agreement,
                    "fleiss_kappa": q.fleiss_kappa,
                    "cohen_kappa": q.cohen_kappa,
                }
                for q in report.questions
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "agreement": st.column_config.NumberColumn("Agreement", format="percent"),
            "fleiss_kappa": st.column_config.NumberColumn("Fleiss' kappa", format="%.2f"),
            "cohen_kappa": st.column_config.NumberColumn("Cohen's kappa", format="%.2f"),
        },
    )
    mad = report.mean_abs_difference
    st.metric(
        "Automatic vs human (mean absolute difference)",
        "–" if mad is None else f"{mad:.1f} pts",
        border=True,
    )
    st.caption(f"Over {report.compared_calls:d} calls scored by both.")
