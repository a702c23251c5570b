"""Altair charts drawn from aggregated rows (never from per-call data)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

SPEAKER_COLOURS = alt.Scale(
    domain=["agent", "customer", "unknown"], range=["#1f6feb", "#d97706", "#8b949e"]
)
SEVERITY_COLOURS = alt.Scale(
    domain=["low", "medium", "high"], range=["#f2cc60", "#fb8500", "#d1242f"]
)


def weekly_bar(weeks: list[dict[str, Any]], field: str, title: str) -> alt.Chart:
    frame = pd.DataFrame(weeks, columns=["week", field])
    return (
        alt.Chart(frame, title=title, height=220)
        .mark_bar(color="#1f6feb", opacity=0.85)
        .encode(
            x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y(f"{field}:Q", title=None),
            tooltip=[alt.Tooltip("week:T", title="Week of"), alt.Tooltip(f"{field}:Q", format=",")],
        )
    )


def weekly_line(
    weeks: list[dict[str, Any]], field: str, title: str, *, percent: bool = False
) -> alt.Chart:
    frame = pd.DataFrame(weeks, columns=["week", field])
    fmt = ".1%" if percent else ".1f"
    return (
        alt.Chart(frame, title=title, height=220)
        .mark_line(point=True, color="#1f6feb")
        .encode(
            x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y(
                f"{field}:Q", title=None, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)
            ),
            tooltip=[alt.Tooltip("week:T", title="Week of"), alt.Tooltip(f"{field}:Q", format=fmt)],
        )
    )


def histogram(rows: list[dict[str, Any]], title: str, bin_width: float) -> alt.Chart:
    frame = pd.DataFrame(rows, columns=["bin", "calls"])
    frame["bin_end"] = frame["bin"] + bin_width
    return (
        alt.Chart(frame, title=title, height=260)
        .mark_bar(color="#1f6feb", opacity=0.85)
        .encode(
            x=alt.X("bin:Q", bin="binned", title=None),
            x2="bin_end:Q",
            y=alt.Y("calls:Q", title="Calls"),
            tooltip=["bin:Q", "bin_end:Q", alt.Tooltip("calls:Q", format=",")],
        )
    )


def agent_scores_by_team(agents: list[dict[str, Any]]) -> alt.Chart:
    """Spread of the agents' average scores within each team (one dot per agent)."""
    frame = pd.DataFrame(agents, columns=["agent", "team", "avg_score", "calls"])
    return (
        alt.Chart(frame, title="Agents' average score, by team", height=320)
        .mark_boxplot(extent="min-max", color="#1f6feb", opacity=0.6)
        .encode(
            x=alt.X("team:N", title=None, sort="ascending"),
            y=alt.Y("avg_score:Q", title="Average score", scale=alt.Scale(zero=False)),
        )
    )


def alerts_by_severity(counts: list[dict[str, Any]]) -> alt.Chart:
    frame = pd.DataFrame(counts, columns=["severity", "speaker", "calls", "events"])
    return (
        alt.Chart(frame, title="Flagged calls by severity and speaker", height=200)
        .mark_bar()
        .encode(
            y=alt.Y("severity:N", sort=["high", "medium", "low"], title=None),
            x=alt.X("calls:Q", title="Calls", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("speaker:N", scale=SPEAKER_COLOURS, title="Speaker"),
            tooltip=["severity", "speaker", alt.Tooltip("calls:Q", format=","), "events"],
        )
    )


def timeline(
    segments: list[dict[str, Any]], events: list[dict[str, Any]]
) -> alt.LayerChart | alt.FacetChart:
    """Who spoke when, with the abuse events marked over it."""
    frame = pd.DataFrame(
        [
            {"#": i, "speaker": s["speaker"], "start": s["start"], "end": s["end"]}
            for i, s in enumerate(segments)
        ],
        columns=["#", "speaker", "start", "end"],
    )
    bars = (
        alt.Chart(frame)
        .mark_bar(cornerRadius=3, height=18)
        .encode(
            x=alt.X("start:Q", title="Seconds"),
            x2="end:Q",
            y=alt.Y("speaker:N", title=None, sort=["agent", "customer", "unknown"]),
            color=alt.Color("speaker:N", scale=SPEAKER_COLOURS, legend=None),
            tooltip=[
                "#",
                "speaker",
                alt.Tooltip("start:Q", format=".1f"),
                alt.Tooltip("end:Q", format=".1f"),
            ],
        )
    )
    marks = pd.DataFrame(
        [
            {
                "start": e["start"],
                "end": e["end"],
                "severity": e["severity"],
                "category": e["category"],
            }
            for e in events
        ],
        columns=["start", "end", "severity", "category"],
    )
    flags = (
        alt.Chart(marks)
        .mark_rect(opacity=0.25)
        .encode(
            x="start:Q",
            x2="end:Q",
            color=alt.Color("severity:N", scale=SEVERITY_COLOURS, title="Abuse"),
            tooltip=["category", "severity"],
        )
    )
    if marks.empty:
        return alt.layer(bars).properties(height=130)
    return alt.layer(flags, bars).properties(height=130).resolve_scale(color="independent")


def category_trend(rows: list[dict[str, Any]]) -> alt.Chart:
    """Calls per week in each category (rows: week, name, calls)."""
    frame = pd.DataFrame(rows, columns=["week", "name", "calls"])
    return (
        alt.Chart(frame, title="Tagged calls each week, by category", height=240)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title=None, axis=alt.Axis(format="%d %b")),
            y=alt.Y("calls:Q", title=None),
            color=alt.Color("name:N", title="Category"),
            tooltip=[
                alt.Tooltip("week:T", title="Week of"),
                alt.Tooltip("name:N", title="Category"),
                alt.Tooltip("calls:Q", format=","),
            ],
        )
    )
