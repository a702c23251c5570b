"""Abuse alerts: flagged calls newest first; quality managers close them with a comment."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import auth, reviews
from analytics.errors import CallqaError
from dashboard import auth_ui, charts, runtime, ui

user = auth_ui.require("alerts")

st.title("Abuse alerts")
if reviewed_call := st.session_state.pop("al_reviewed", None):
    st.success(f"Alert on call {ui.md_escape(reviewed_call)} marked reviewed.")
flt = runtime.Filters()
cols = st.columns([1.4, 1.2, 1])
severities = cols[0].multiselect(
    "Severity", ["high", "medium", "low"], placeholder="All severities", key="al_severity"
)
speakers = cols[1].multiselect(
    "Abusive speaker", ["customer", "agent", "unknown"], placeholder="Anyone", key="al_speaker"
)
status = cols[2].segmented_control(
    "Status", ["To review", "Reviewed", "All"], default="To review", key="al_status"
)
reviewed = {"To review": False, "Reviewed": True}.get(status or "All")

counts = runtime.alert_counts(flt)
rows = runtime.alerts(flt, tuple(severities), tuple(speakers), reviewed)

left, right = st.columns([2, 1])
with left:
    if counts:
        st.altair_chart(charts.alerts_by_severity(counts), width="stretch")
with right:
    open_total = runtime.alert_totals(flt)["unreviewed"]
    st.metric("Alerts awaiting review", f"{open_total:,}", border=True)
    st.metric("Listed below", f"{len(rows):,}", border=True)

if not rows:
    st.info("No abuse alert matches these choices.")
    st.stop()

frame = pd.DataFrame(rows)
frame["started_at"] = pd.to_datetime(frame["started_at"])
frame["speakers"] = frame["speakers"].map(", ".join)
frame["categories"] = frame["categories"].map(", ".join)
frame["fired"] = frame["fired"].map(", ".join)
st.dataframe(
    frame[
        [
            "severity",
            "started_at",
            "call_id",
            "team",
            "agent_id",
            "speakers",
            "categories",
            "fired",
            "model_score",
            "events",
            "reviewed",
            "reviewed_by",
            "review_comment",
        ]
    ],
    hide_index=True,
    width="stretch",
    height=min(420, 38 + 35 * len(rows)),
    column_config={
        "severity": "Severity",
        "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
        "call_id": "Call",
        "team": "Team",
        "agent_id": "Agent",
        "speakers": "Abusive speaker",
        "categories": "Categories",
        "fired": st.column_config.TextColumn(
            "What fired", help="Lexicon entries or patterns that matched, or 'model'"
        ),
        "model_score": st.column_config.NumberColumn(
            "Model score",
            format="%.2f",
            help="Highest abuse score the learned model gave the call's events (0-1; "
            "empty when the model did not run)",
        ),
        "events": "Events",
        "reviewed": st.column_config.CheckboxColumn("Reviewed"),
        "reviewed_by": "By",
        "review_comment": "Comment",
    },
)
st.caption("Newest first; up to 200 alerts are listed. Narrow with the choices above.")

call_ids = [row["call_id"] for row in rows]
st.subheader("Act on an alert")
pick, go = st.columns([3, 1], vertical_alignment="bottom")
call_id = pick.selectbox(
    "Alert",
    call_ids,
    key="al_call",
    format_func=lambda cid: next(
        f"{cid} · {r['severity']} · {r['team']} / {r['agent_id']}"
        for r in rows
        if r["call_id"] == cid
    ),
)
if auth.can(user.role, "call_review") and go.button(
    "Open in call review", icon=":material/open_in_new:"
):
    st.switch_page("views/call_review.py", query_params={"call": call_id})

if auth.can_review(user.role):
    with st.form("review", clear_on_submit=True):
        comment = st.text_area(
            "Review comment",
            placeholder="What was checked and what was decided (e.g. caller warned, agent debriefed).",
            max_chars=reviews.MAX_COMMENT_CHARS,
        )
        if st.form_submit_button("Mark reviewed", type="primary"):
            try:
                reviews.mark_reviewed(
                    runtime.store(),
                    call_id,
                    actor=user.name,
                    comment=comment,
                    now=runtime.now(),
                )
            except CallqaError as exc:
                st.error(ui.md_escape(exc))
            else:
                runtime.after_write()
                st.session_state["al_reviewed"] = call_id
                st.rerun()
else:
    st.caption("Your role reads alerts; a quality manager closes them.")
