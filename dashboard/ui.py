"""Shared widgets and formatting: the filter bar, KPI tiles, text made safe to show."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import streamlit as st

from dashboard import runtime

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$])")
_FILTER_STATE = "_callqa_filters"


def md_escape(text: str) -> str:
    """Text shown literally by st.markdown (placeholders like <PERSON> included)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def when(value: str | None) -> str:
    if not value:
        return "–"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


def _day(value: str | None) -> date | None:
    return datetime.fromisoformat(value).date() if value else None


def _seed(key: str, value: Any) -> None:
    """Give a keyed widget its remembered value when it is first drawn on a page."""
    if key not in st.session_state:
        st.session_state[key] = value


def filter_bar() -> runtime.Filters:
    """Dates, teams, agents, languages; the choice follows the user across pages."""
    options = runtime.filter_options()
    saved: runtime.Filters = st.session_state.get(_FILTER_STATE, runtime.Filters())
    first, last = _day(options["first"]), _day(options["last"])
    cols = st.columns([1.3, 1.2, 1.4, 0.8])
    span: Any = ()
    if first and last:
        _seed("f_dates", (max(saved.since or first, first), min(saved.until or last, last)))
        with cols[0]:
            span = st.date_input(
                "Dates", key="f_dates", min_value=first, max_value=last, format="YYYY-MM-DD"
            )
    _seed("f_teams", [t for t in saved.teams if t in options["teams"]])
    with cols[1]:
        teams = st.multiselect("Team", options["teams"], key="f_teams", placeholder="All teams")
    pool = (
        sorted({a for t in teams for a in options["agents_by_team"].get(t, [])})
        if teams
        else options["agents"]
    )
    _seed("f_agents", list(saved.agents))
    # Agents of a team just removed from the filter leave the selection.
    st.session_state["f_agents"] = [a for a in st.session_state["f_agents"] if a in pool]
    with cols[2]:
        agents = st.multiselect("Agent", pool, key="f_agents", placeholder="All agents")
    _seed("f_languages", [x for x in saved.languages if x in options["languages"]])
    with cols[-1]:
        languages = st.multiselect(
            "Language", options["languages"], key="f_languages", placeholder="All"
        )
    since, until = _span(span, first, last)
    chosen = runtime.Filters(
        since=since,
        until=until,
        teams=tuple(teams),
        agents=tuple(agents),
        languages=tuple(languages),
    )
    st.session_state[_FILTER_STATE] = chosen
    return chosen


def _span(span: Any, first: date | None, last: date | None) -> tuple[date | None, date | None]:
    """The picked range; a half-picked range (one click so far) runs to the last day."""
    picked = tuple(span) if isinstance(span, list | tuple) else (span,) if span else ()
    since = picked[0] if picked else None
    until = picked[1] if len(picked) > 1 else None
    # The full range of the data is no filter at all: keep the cache key stable.
    return (None if since == first else since), (None if until in (last, None) else until)


def week_deltas(weeks: list[dict[str, Any]]) -> dict[str, float]:
    """Change of each rate from the week before to the last complete week."""
    if len(weeks) < 3:
        return {}
    before, last_full = weeks[-3], weeks[-2]  # weeks[-1] is still filling up
    return {
        name: last_full[name] - before[name]
        for name in ("avg_score", "abuse_rate", "non_talk_ratio")
        if last_full[name] is not None and before[name] is not None
    }


def kpi_row(totals: dict[str, Any], deltas: dict[str, float] | None = None) -> None:
    """The four headline figures, with the last week's change when known."""
    deltas = deltas or {}

    def delta(name: str, scale: float = 1.0, suffix: str = "") -> str | None:
        return f"{deltas[name] * scale:+.1f}{suffix} last week" if name in deltas else None

    cols = st.columns(4)
    cols[0].metric("Calls", f"{totals['calls']:,}", border=True)
    cols[1].metric(
        "Average score", num(totals["avg_score"]), delta("avg_score", suffix=" pts"), border=True
    )
    cols[2].metric(
        "Abuse rate",
        pct(totals["abuse_rate"], 2),
        delta("abuse_rate", 100, " pts"),
        delta_color="inverse",
        border=True,
    )
    cols[3].metric(
        "Non-talk ratio",
        pct(totals["non_talk_ratio"]),
        delta("non_talk_ratio", 100, " pts"),
        delta_color="inverse",
        border=True,
    )
