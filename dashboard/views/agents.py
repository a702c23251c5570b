"""Agents & teams: league tables, distributions, and one agent's calls."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analytics import auth
from dashboard import auth_ui, charts, runtime, ui

user = auth_ui.require("agents")

st.title("Agents & teams")
flt = ui.filter_bar()

RATE = st.column_config.ProgressColumn
LEAGUE_COLUMNS: dict[str, Any] = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "team": "Team",
    "agent": "Agent",
    "agents": st.column_config.NumberColumn("Agents"),
    "calls": st.column_config.NumberColumn("Calls", format="localized"),
    "avg_score": RATE("Avg score", min_value=0, max_value=100, format="%.1f"),
    "abuse_rate": st.column_config.NumberColumn("Abuse rate", format="percent"),
    "non_talk_ratio": st.column_config.NumberColumn("Non-talk", format="percent"),
    "avg_interruptions": st.column_config.NumberColumn("Interruptions", format="%.2f"),
    "avg_agent_wpm": st.column_config.NumberColumn("Agent wpm", format="%.0f"),
    "greeting_rate": st.column_config.NumberColumn("Greeting", format="percent"),
    "closing_rate": st.column_config.NumberColumn("Closing", format="percent"),
    "empathy_rate": st.column_config.NumberColumn("Empathy", format="percent"),
}


def league_frame(rows: list[dict[str, object]], keys: list[str]) -> pd.DataFrame:
    columns = [
        "rank",
        *keys,
        "calls",
        *[c for c in LEAGUE_COLUMNS if c not in ("rank", "team", "agent", "agents", "calls")],
    ]
    return pd.DataFrame(rows, columns=columns)


# Single-call rows (an agent's call list) only for roles that review single calls; the
# others see an agent only once their figures pool enough calls.
single_calls = auth.can(user.role, "single_calls")
min_group = 1 if single_calls else auth.MIN_GROUP_CALLS
tabs = st.tabs(["Teams", "Agents", "Distributions", *(["Agent's calls"] if single_calls else [])])
teams_tab, agents_tab, spread_tab = tabs[:3]

with teams_tab:
    teams = runtime.league(flt, "team")
    st.caption(f"{len(teams)} teams, best average score first.")
    st.dataframe(
        league_frame(teams, ["team", "agents"]),
        hide_index=True,
        column_config=LEAGUE_COLUMNS,
        width="stretch",
    )

with agents_tab:
    agents = runtime.league(flt, "agent")
    min_calls = st.slider("Minimum calls per agent", min_group, 100, 10, key="min_calls")
    shown = [row for row in agents if row["calls"] >= min_calls]
    for rank, row in enumerate(shown, start=1):
        row["rank"] = rank
    st.caption(f"{len(shown)} of {len(agents)} agents with at least {min_calls:d} calls.")
    st.dataframe(
        league_frame(shown, ["agent", "team"]),
        hide_index=True,
        column_config=LEAGUE_COLUMNS,
        width="stretch",
        height=420,
    )

with spread_tab:
    figures = {
        "score": ("Quality score", 5.0),
        "non_talk_time_s": ("Non-talk time (s)", 10.0),
        "longest_silence_s": ("Longest silence (s)", 2.0),
        "overtalk_s": ("Overtalk (s)", 1.0),
        "interruptions": ("Interruptions", 1.0),
        "agent_wpm": ("Agent words per minute", 10.0),
        "duration_s": ("Call length (s)", 60.0),
    }
    figure = st.selectbox("Figure", list(figures), format_func=lambda f: figures[f][0])
    label, width = figures[figure]
    left, right = st.columns(2)
    left.altair_chart(
        charts.histogram(runtime.distribution(flt, figure, width), f"{label}: calls", width),
        width="stretch",
    )
    pooled = [row for row in runtime.league(flt, "agent") if row["calls"] >= min_group]
    right.altair_chart(charts.agent_scores_by_team(pooled), width="stretch")

if not single_calls:
    st.caption(
        f"Your role sees aggregates only: agents with at least {min_group:d} calls, no single call."
    )
    st.stop()
with tabs[3]:
    names = [row["agent"] for row in runtime.league(flt, "agent") if row["agent"]]
    agent = st.selectbox(
        "Agent", names, index=None, placeholder="Choose an agent", key="drill_agent"
    )
    if agent:
        mine = runtime.Filters(flt.since, flt.until, (), (agent,), flt.languages)
        rows = runtime.call_list(mine, limit=500)
        totals = next((r for r in runtime.league(flt, "agent") if r["agent"] == agent), None)
        if totals:
            cols = st.columns(4)
            cols[0].metric("Calls", f"{totals['calls']:,}", border=True)
            cols[1].metric("Average score", ui.num(totals["avg_score"]), border=True)
            cols[2].metric("Abuse rate", ui.pct(totals["abuse_rate"], 2), border=True)
            cols[3].metric("Non-talk ratio", ui.pct(totals["non_talk_ratio"]), border=True)
        st.caption(f"The {len(rows)} most recent calls of {ui.md_escape(agent)}.")
        frame = pd.DataFrame(
            rows,
            columns=[
                "call_id",
                "started_at",
                "team",
                "language",
                "duration_s",
                "score",
                "interruptions",
                "abuse_severity",
            ],
        )
        frame["started_at"] = pd.to_datetime(frame["started_at"])
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            column_config={
                "call_id": "Call",
                "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
                "team": "Team",
                "language": "Lang.",
                "duration_s": st.column_config.NumberColumn("Length (s)", format="%.0f"),
                "score": RATE("Score", min_value=0, max_value=100, format="%d"),
                "interruptions": "Interruptions",
                "abuse_severity": "Abuse",
            },
        )
        if auth.can(user.role, "call_review") and rows:
            pick, go = st.columns([3, 1], vertical_alignment="bottom")
            call_id = pick.selectbox("Open a call", [r["call_id"] for r in rows], key="drill_call")
            if go.button("Open in call review", icon=":material/open_in_new:"):
                st.switch_page("views/call_review.py", query_params={"call": call_id})
