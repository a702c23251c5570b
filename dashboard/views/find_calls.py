"""Find calls: the call list for managers, trainers and agents (an agent sees their own
calls only), filtered, sorted and paged in the store, from which a call opens."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.store.evaluations import MAX_COUNT, SORTS, CallQuery, find_calls
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("find_calls")
store = runtime.store()
PAGE_SIZE = 50
STATUSES = {
    "any": None,
    "not evaluated": "none",
    "automatic": "automatic",
    "reviewed": "reviewed",
    "to review (rescored)": "to_review",
    "disputed": "disputed",
    "resolved": "resolved",
}
YES_NO = {"any": None, "yes": True, "no": False}

st.title("Find calls")
own = auth.can(user.role, "own_calls_only")
if own:
    st.caption(f"Only your calls (agent {ui.md_escape(user.agent_id or '–')}).")

top = st.columns(4)
agent = user.agent_id if own else top[0].text_input("Agent", key="fc_agent").strip() or None
if own:
    top[0].text_input("Agent", value=user.agent_id or "", disabled=True, key="fc_agent_own")
team = top[1].text_input("Team", key="fc_team").strip() or None
since = top[2].date_input("From", value=None, key="fc_since", format="YYYY-MM-DD")
until = top[3].date_input("To (inclusive)", value=None, key="fc_until", format="YYYY-MM-DD")
middle = st.columns(4)
low, high = middle[0].slider("Score", 0, 100, (0, 100), key="fc_score")
flagged = YES_NO[middle[1].selectbox("Abuse flagged", list(YES_NO), key="fc_flagged")]
status = STATUSES[middle[2].selectbox("Evaluation", list(STATUSES), key="fc_status")]
disputed = YES_NO[middle[3].selectbox("Open dispute", list(YES_NO), key="fc_disputed")]
bottom = st.columns([1, 1, 1, 2])
sort = bottom[0].selectbox("Sort by", SORTS, key="fc_sort")
descending = bottom[1].toggle("Descending", value=True, key="fc_desc")
page = int(bottom[2].number_input("Page", min_value=1, value=1, step=1, key="fc_page"))


def _moment(day: object, extra_days: int = 0) -> datetime | None:
    if not day:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=extra_days)  # type: ignore[call-overload]


query = CallQuery(
    agent=agent,
    team=team,
    since=_moment(since),
    until=_moment(until, 1),
    min_score=None if low == 0 else float(low),
    max_score=None if high == 100 else float(high),
    flagged=flagged,
    status=status,
    disputed=disputed,
    sort=sort,
    descending=descending,
    limit=PAGE_SIZE,
    offset=(page - 1) * PAGE_SIZE,
)
rows, total = find_calls(store, runtime.now(), query)
pages = max(1, -(-total // PAGE_SIZE))
if total > MAX_COUNT:
    st.caption(f"More than {MAX_COUNT:,} calls · page {page:d} · {PAGE_SIZE:d} per page")
else:
    st.caption(f"{total:,} calls · page {page:d} of {pages:d} · {PAGE_SIZE:d} per page")
if not rows:
    st.info("No call matches these filters.")
    st.stop()

target = "my_evaluations" if own else "call_review"
frame = pd.DataFrame(rows)
st.dataframe(
    frame[
        [
            "started_at",
            "call_id",
            "agent_id",
            "team",
            "score",
            "final_score",
            "automatic_score",
            "status",
            "flagged",
        ]
    ],
    hide_index=True,
    width="stretch",
    column_config={
        "started_at": "Started",
        "call_id": "Call",
        "agent_id": "Agent",
        "team": "Team",
        "score": st.column_config.NumberColumn("Rubric score", format="%d"),
        "final_score": st.column_config.NumberColumn("Final score", format="%.1f"),
        "automatic_score": st.column_config.NumberColumn("Automatic", format="%.1f"),
        "status": "Evaluation",
        "flagged": st.column_config.CheckboxColumn("Abuse"),
    },
)
pick, go = st.columns([3, 1], vertical_alignment="bottom")
chosen = pick.selectbox("Call", [r["call_id"] for r in rows], key="fc_call")
if (auth.can(user.role, target)) and go.button("Open", icon=":material/open_in_new:"):
    st.switch_page(f"views/{target}.py", query_params={"call": chosen})
