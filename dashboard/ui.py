"""Shared widgets and formatting: the filter bar, KPI tiles, text made safe to show."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from analytics.store import Store
from dashboard import runtime

# Every ASCII punctuation character: CommonMark lets each be backslash-escaped, and
# together they cover Markdown, HTML tags and entities, Streamlit's :color[...] and
# :material/icon: directives and LaTeX ($).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# Line and paragraph breaks would start a heading, a list or a fake line of their own.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# GFM turns bare URLs and e-mail addresses in text into links (after escapes are
# resolved): an invisible word joiner where their patterns need ":", "." or "@"
# keeps a crafted value plain text.
_AUTOLINK = re.compile(
    r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=mailto)(?=:)|(?<=xmpp)(?=:)|(?<=www)(?=\.)|(?=@)"
)
WORD_JOINER = "\u2060"
_FILTER_STATE = "_callqa_filters"


def md_escape(value: object) -> str:
    """``value`` as text that every Markdown-rendering element shows literally.

    The one escaping helper of the dashboard: every user-controlled value (call
    ids, agent and team names, user names, reasons, error messages, redacted text
    with its <PERSON> placeholders) goes through it before it is interpolated
    into st.markdown, st.caption, st.error and the like. Control characters and
    line breaks become a space; a bare URL or e-mail address gets an invisible
    word joiner so that it is not made a link.
    """
    text = _AUTOLINK.sub(WORD_JOINER, _BREAKS.sub(" ", str(value)))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def highlight(fragments: tuple[tuple[str, bool], ...] | list[tuple[str, bool]]) -> str:
    """Search-result text as Markdown: every piece escaped, the matched ones marked."""
    return "".join(
        f":orange-background[{md_escape(piece)}]" if marked else md_escape(piece)
        for piece, marked in fragments
    )


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


_FILTER_VALUES = "_callqa_filter_values"


def _remember(key: str) -> None:
    st.session_state[_FILTER_VALUES][key] = st.session_state[key]


def _restore(key: str, default: Any) -> dict[str, Any]:
    """Give a filter widget its remembered value; on_change keeps the memory current.

    Streamlit forgets a widget's state on a page that does not draw it, so the
    filters' values live under a key of their own and are written back before
    each widget is drawn on whichever page.
    """
    remembered = st.session_state.setdefault(_FILTER_VALUES, {})
    st.session_state[key] = remembered.get(key, default)
    return {"key": key, "on_change": _remember, "args": (key,)}


def filter_bar() -> runtime.Filters:
    """Dates, teams, agents, languages; the choice follows the user across pages."""
    options = runtime.filter_options()
    first, last = _day(options["first"]), _day(options["last"])
    cols = st.columns([1.3, 1.2, 1.4, 0.8, 1.2])
    span: Any = ()
    if first and last:
        with cols[0]:
            widget = _restore("f_dates", (first, last))
            st.session_state["f_dates"] = tuple(
                min(max(day, first), last) for day in st.session_state["f_dates"]
            )
            span = st.date_input(
                "Dates", min_value=first, max_value=last, format="YYYY-MM-DD", **widget
            )
    with cols[1]:
        widget = _restore("f_teams", [])
        st.session_state["f_teams"] = [
            t for t in st.session_state["f_teams"] if t in options["teams"]
        ]
        teams = st.multiselect("Team", options["teams"], placeholder="All teams", **widget)
    pool = (
        sorted({a for t in teams for a in options["agents_by_team"].get(t, [])})
        if teams
        else options["agents"]
    )
    with cols[2]:
        widget = _restore("f_agents", [])
        # Agents of a team just removed from the filter leave the selection.
        st.session_state["f_agents"] = [a for a in st.session_state["f_agents"] if a in pool]
        agents = st.multiselect("Agent", pool, placeholder="All agents", **widget)
    with cols[3]:
        widget = _restore("f_languages", [])
        st.session_state["f_languages"] = [
            x for x in st.session_state["f_languages"] if x in options["languages"]
        ]
        languages = st.multiselect("Language", options["languages"], placeholder="All", **widget)
    with cols[4]:
        names = runtime.category_names()
        widget = _restore("f_categories", [])
        st.session_state["f_categories"] = [
            x for x in st.session_state["f_categories"] if x in names
        ]
        categories = st.multiselect("Category", names, placeholder="All", **widget)
    since, until = _span(span, first, last)
    chosen = runtime.Filters(
        since=since,
        until=until,
        teams=tuple(teams),
        agents=tuple(agents),
        languages=tuple(languages),
        categories=tuple(categories),
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
        for name in ("calls", "avg_score", "abuse_rate", "non_talk_ratio")
        if last_full[name] is not None and before[name] is not None
    }


def kpi_row(totals: dict[str, Any], deltas: dict[str, float] | None = None) -> None:
    """The four headline figures, with the last week's change when known."""
    deltas = deltas or {}

    def delta(name: str, scale: float = 1.0, suffix: str = "") -> str | None:
        return f"{deltas[name] * scale:+.1f}{suffix} last week" if name in deltas else None

    cols = st.columns(4)
    calls_delta = f"{deltas['calls']:+,.0f} last week" if "calls" in deltas else None
    cols[0].metric("Calls", f"{totals['calls']:,}", calls_delta, delta_color="off", border=True)
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


def redacted_audio_file(store: Store, relative: str | None) -> Path | None:
    """The redacted audio of a call, only if it is a blob of the redacted-audio kind.

    The original recording is never served, whatever the row says.
    """
    return store.blobs.local_path(relative, "redacted-audio")
