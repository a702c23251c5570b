"""Entry point served by ``streamlit run``: login gate, navigation, guarded pages."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repo root.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

# charts: pandas and Altair are imported while the login form shows, not after it.
from dashboard import auth_ui, charts, runtime  # noqa: E402, F401

VIEWS_DIR = Path(__file__).resolve().parent / "views"
# (key, file, title, icon): every page is registered for everyone signed in, so a
# URL to a forbidden page reaches its guard (which refuses and audits) instead of
# silently falling back; the sidebar lists only the pages the role may open.
PAGES = (
    ("overview", "overview.py", "Overview", ":material/dashboard:"),
    ("agents", "agents.py", "Agents & teams", ":material/groups:"),
    ("alerts", "alerts.py", "Abuse alerts", ":material/report:"),
    ("call_review", "call_review.py", "Call review", ":material/graphic_eq:"),
    ("governance", "governance.py", "Governance", ":material/shield_person:"),
    ("search", "search.py", "Search", ":material/search:"),
    ("categories", "categories.py", "Categories", ":material/label:"),
    # evaluations
    ("find_calls", "find_calls.py", "Find calls", ":material/manage_search:"),
    ("my_evaluations", "my_evaluations.py", "My evaluations", ":material/grading:"),
    ("disputes", "disputes.py", "Disputes", ":material/gavel:"),
    ("calibration", "calibration.py", "Calibration", ":material/balance:"),
    ("coaching", "coaching.py", "Coaching", ":material/school:"),
)

st.set_page_config(page_title="callqa", page_icon=":material/support_agent:", layout="wide")
runtime.store()  # open the workspace (and apply retention) before anything is shown

user = auth_ui.current_user()
if user is None:
    # Every page URL shows the login form, so a link to any page asks to sign in
    # first and then opens that page (where its guard decides).
    page = st.navigation(
        [st.Page(auth_ui.login_page, title="Sign in", url_path="login", default=True)]
        + [st.Page(auth_ui.login_page, title="Sign in", url_path=key) for key, *_ in PAGES],
        position="hidden",
    )
else:
    from analytics.auth import allowed_pages

    home = (allowed_pages(user.role) or ["overview"])[0]
    pages = {
        key: st.Page(VIEWS_DIR / file, title=title, icon=icon, url_path=key, default=key == home)
        for key, file, title, icon in PAGES
    }
    page = st.navigation(list(pages.values()), position="hidden")
    auth_ui.sidebar(user, pages)
page.run()
