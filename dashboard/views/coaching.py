"""Coaching: notes a trainer writes for an agent, linked to calls and segments, open or
done; an agent reads their own."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.errors import CallqaError
from analytics.evaluations import workflow
from analytics.store.evaluations import CallQuery, find_calls
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("coaching")
store = runtime.store()
moment = runtime.now()
own = auth.can(user.role, "own_calls_only")

st.title("Coaching")
if own:
    agent = user.agent_id or ""
    st.caption(f"Your coaching notes (agent {ui.md_escape(agent)}).")
else:
    agents = sorted(runtime.filter_options()["agents"])
    agent = st.selectbox("Agent", agents, key="co_agent")
if not agent:
    st.info("Choose an agent.")
    st.stop()

found = workflow.notes(store, agent_id=agent, now=moment)
if found:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "id": n["id"],
                    "written": n["created_at"],
                    "by": n["author"],
                    "note": n["note"],
                    "status": n["status"],
                    "calls": ", ".join(f"{c}" + ("" if s < 0 else f" #{s}") for c, s in n["links"]),
                }
                for n in found
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("No coaching note yet.")

if auth.can(user.role, "coach"):
    calls, _ = find_calls(store, moment, CallQuery(agent=agent, limit=100))
    with st.form("co_add", clear_on_submit=True):
        note = st.text_area("New coaching note", max_chars=workflow.MAX_TEXT_CHARS)
        linked = st.multiselect("Calls", [c["call_id"] for c in calls])
        segment = st.number_input("Segment (optional, of the first call)", min_value=-1, value=-1)
        if st.form_submit_button("Add note", type="primary"):
            links = [(c, None) for c in linked]
            if links and segment >= 0:
                links[0] = (links[0][0], int(segment))
            try:
                workflow.add_note(
                    store, agent, note, author=user.name, links=links, now=runtime.now()
                )
            except CallqaError as exc:
                st.error(ui.md_escape(exc))
            else:
                st.rerun()
    open_notes = [n["id"] for n in found if n["status"] == "open"]
    if open_notes:
        pick, go = st.columns([3, 1], vertical_alignment="bottom")
        note_id = pick.selectbox("Open note", open_notes, key="co_done")
        if go.button("Mark done"):
            workflow.set_note_status(store, note_id, "done", actor=user.name, now=runtime.now())
            st.rerun()
