"""The store of the served workspace and the cached reads the pages draw from.

Every cached function is keyed on the workspace, the filter and
:func:`aggregates.data_version` — a fingerprint that moves with every processed
call, objection, hold, purge and review (also when the CLI writes) and whenever
a call crosses the retention cut-off — so a cache never shows a call that has
since become invisible, and stays warm while nothing changed. The TTL bounds
memory and the staleness of anything else (a call re-processed in place).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from analytics.config import load_settings
from analytics.store import Store, iso, utcnow
from analytics.store import aggregates as agg
from analytics.store import categories as cat_store
from analytics.store.reads import CallFilter

log = logging.getLogger(__name__)

TTL_S = 300
OPTIONS_TTL_S = 600

try:  # The governance module ships with callqa; the guard only names a broken install.
    from analytics import governance
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    governance = None  # type: ignore[assignment]
    GOVERNANCE_MISSING = f"analytics.governance cannot be imported ({exc})"
else:
    GOVERNANCE_MISSING = ""


@st.cache_resource(show_spinner=False)
def _open_store(home: str) -> Store:
    """One store per server process; retention is applied once when it opens.

    The default overview (no filter) is then computed in the background, so the
    first person to sign in finds it ready.
    """
    settings = load_settings(home=home)
    store = Store.open(settings)
    if governance is not None:
        report = governance.purge(store, now=now(), actor="dashboard")
        log.info("dashboard start: %s", report.summary())
    else:
        log.warning("dashboard start without purge: %s", GOVERNANCE_MISSING)
    # config.toml [dashboard] prewarm = false (or CALLQA_DASHBOARD__PREWARM=false) turns it off.
    if settings.section("dashboard").get("prewarm", True):
        threading.Thread(target=_prewarm, args=(store,), name="callqa-prewarm", daemon=True).start()
    return store


def _prewarm(store: Store) -> None:
    try:
        moment = now()
        key = (str(store.settings.home), iso(moment), agg.data_version(store, moment))
        _filter_options(store, *key)
        _weekly(store, *key, Filters())
    except Exception:  # a failed warm-up only means a slower first page
        log.exception("dashboard cache warm-up failed")


def store() -> Store:
    return _open_store(str(load_settings().home.resolve()))


def now() -> datetime:
    """The time reads are made at, to the second: the product's clock, never a setting."""
    return utcnow().replace(microsecond=0)


@dataclass(frozen=True)
class Filters:
    """The filter bar's choice, hashable for the cache; None / () means any."""

    since: date | None = None
    until: date | None = None  # inclusive
    teams: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def call_filter(self, **extra: Any) -> CallFilter:
        until = (
            datetime.combine(self.until + timedelta(days=1), time(), tzinfo=now().tzinfo)
            if self.until
            else None
        )
        since = datetime.combine(self.since, time(), tzinfo=now().tzinfo) if self.since else None
        return CallFilter(
            since=since,
            until=until,
            team=list(self.teams) or None,
            agent=list(self.agents) or None,
            language=list(self.languages) or None,
            category=list(self.categories) or None,
            **extra,
        )


def _key() -> tuple[str, str, tuple[Any, ...]]:
    """(workspace, time of the read, data version); ``at`` is left out of the hash."""
    the_store, moment = store(), now()
    return str(the_store.settings.home), iso(moment), agg.data_version(the_store, moment)


# The leading underscore keeps the store out of the cache key (it is not hashable);
# ``home`` stands for it.


@st.cache_data(ttl=OPTIONS_TTL_S, show_spinner=False)
def _filter_options(_store: Store, home: str, _at: str, ver: tuple[Any, ...]) -> dict[str, Any]:
    return agg.filter_options(_store, datetime.fromisoformat(_at))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _weekly(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters
) -> list[dict[str, Any]]:
    return agg.weekly_trends(_store, datetime.fromisoformat(_at), flt.call_filter())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _league(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters, by: str
) -> list[dict[str, Any]]:
    return agg.league_table(_store, datetime.fromisoformat(_at), flt.call_filter(), by=by)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _distribution(
    _store: Store,
    home: str,
    _at: str,
    ver: tuple[Any, ...],
    flt: Filters,
    figure: str,
    width: float,
) -> list[dict[str, Any]]:
    return agg.distribution(
        _store, datetime.fromisoformat(_at), flt.call_filter(), figure=figure, bin_width=width
    )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _alert_counts(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters
) -> list[dict[str, Any]]:
    return agg.alert_counts(_store, datetime.fromisoformat(_at), flt.call_filter())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _alert_totals(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters
) -> dict[str, int]:
    return agg.alert_totals(_store, datetime.fromisoformat(_at), flt.call_filter())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _alerts(
    _store: Store,
    home: str,
    _at: str,
    ver: tuple[Any, ...],
    flt: Filters,
    severities: tuple[str, ...],
    speakers: tuple[str, ...],
    reviewed: bool | None,
) -> list[dict[str, Any]]:
    return agg.alerts(
        _store,
        datetime.fromisoformat(_at),
        flt.call_filter(),
        severities=list(severities) or None,
        speakers=list(speakers) or None,
        reviewed=reviewed,
    )


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _call_list(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters, limit: int
) -> list[dict[str, Any]]:
    return agg.call_list(_store, datetime.fromisoformat(_at), flt.call_filter(), limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _category_names(_store: Store, home: str, _at: str, ver: tuple[Any, ...]) -> list[str]:
    return [d.name for d in cat_store.definitions(_store)]


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _category_weekly(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters
) -> list[dict[str, Any]]:
    return cat_store.weekly(_store, datetime.fromisoformat(_at), flt.call_filter())


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _drivers(
    _store: Store, home: str, _at: str, ver: tuple[Any, ...], flt: Filters, topics: int
) -> Any:
    # TF-IDF + NMF over every visible call's customer turns: once per data version, filter
    # and topic count, not at every rerun of the page (a slider move, a sign-in check).
    from analytics.insights import service  # scikit-learn: only the drivers page needs it

    return service.run_drivers(
        _store, topics=topics, flt=flt.call_filter(), now=datetime.fromisoformat(_at), save=False
    )


def drivers(flt: Filters, topics: int) -> Any:
    """The call drivers of the calls the filter keeps (an ``insights.drivers.DriverRun``)."""
    return _drivers(store(), *_key(), flt, topics)


def category_names() -> list[str]:
    return _category_names(store(), *_key())


def category_weekly(flt: Filters) -> list[dict[str, Any]]:
    return _category_weekly(store(), *_key(), flt)


def filter_options() -> dict[str, Any]:
    return _filter_options(store(), *_key())


def weekly(flt: Filters) -> list[dict[str, Any]]:
    return _weekly(store(), *_key(), flt)


def league(flt: Filters, by: str) -> list[dict[str, Any]]:
    return _league(store(), *_key(), flt, by)


def distribution(flt: Filters, figure: str, width: float) -> list[dict[str, Any]]:
    return _distribution(store(), *_key(), flt, figure, width)


def alert_counts(flt: Filters) -> list[dict[str, Any]]:
    return _alert_counts(store(), *_key(), flt)


def alert_totals(flt: Filters) -> dict[str, int]:
    return _alert_totals(store(), *_key(), flt)


def alerts(
    flt: Filters, severities: tuple[str, ...], speakers: tuple[str, ...], reviewed: bool | None
) -> list[dict[str, Any]]:
    return _alerts(store(), *_key(), flt, severities, speakers, reviewed)


def call_list(flt: Filters, limit: int = 200) -> list[dict[str, Any]]:
    return _call_list(store(), *_key(), flt, limit)


def after_write() -> None:
    """Drop the cached reads after this session wrote (a review)."""
    for cached in (
        _weekly,
        _league,
        _distribution,
        _alert_counts,
        _alert_totals,
        _alerts,
        _call_list,
        _category_names,
        _category_weekly,
    ):
        cached.clear()
