"""Overview: headline figures and their weekly trends, for the chosen filters."""

from __future__ import annotations

import streamlit as st

from analytics.store.aggregates import totals_of
from dashboard import auth_ui, charts, runtime, ui

auth_ui.require("overview")

st.title("Overview")
flt = ui.filter_bar()
weeks = runtime.weekly(flt)
totals = totals_of(weeks)
if not totals["calls"]:
    st.info("No processed call matches these filters.")
    st.stop()

st.caption(
    f"{totals['flagged']:,} flagged calls, {totals['unreviewed']:,} awaiting review · "
    f"mean call length {ui.clock(totals['avg_duration_s'])} · "
    "changes compare the last complete week with the week before"
)
ui.kpi_row(totals, ui.week_deltas(weeks))

st.subheader("Trends by week")
left, right = st.columns(2)
left.altair_chart(charts.weekly_bar(weeks, "calls", "Calls per week"), width="stretch")
right.altair_chart(charts.weekly_line(weeks, "avg_score", "Average score"), width="stretch")
left.altair_chart(
    charts.weekly_line(weeks, "abuse_rate", "Abuse rate (flagged calls)", percent=True),
    width="stretch",
)
right.altair_chart(
    charts.weekly_line(weeks, "non_talk_ratio", "Non-talk ratio (of call time)", percent=True),
    width="stretch",
)

category_weeks = runtime.category_weekly(flt)
if category_weeks:
    st.subheader("Categories by week")
    st.altair_chart(charts.category_trend(category_weeks), width="stretch")
