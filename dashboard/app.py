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
from analytics import auth  # noqa: E402
from dashboard import auth_ui, charts, runtime  # noqa: E402, F401

VIEWS_DIR = Path(__file__).resolve().parent / "views"
# How each page of auth.PAGES (which pages exist and their order, declared once there)
# looks in the sidebar; its view is views/<key>.py.
PAGE_LOOK = {
    "overview": ("Overview", ":material/dashboard:"),
    "agents": ("Agents & teams", ":material/groups:"),
    "alerts": ("Abuse alerts", ":material/report:"),
    "call_review": ("Call review", ":material/graphic_eq:"),
    "governance": ("Governance", ":material/shield_person:"),
    "search": ("Search", ":material/search:"),
    "categories": ("Categories", ":material/label:"),
    "drivers": ("Call drivers", ":material/insights:"),
    "find_calls": ("Find calls", ":material/manage_search:"),
    "my_evaluations": ("My evaluations", ":material/grading:"),
    "disputes": ("Disputes", ":material/gavel:"),
    "calibration": ("Calibration", ":material/balance:"),
    "coaching": ("Coaching", ":material/school:"),
}
# (key, file, title, icon): every page is registered for everyone signed in, so a
# URL to a forbidden page reaches its guard (which refuses and audits) instead of
# silently falling back; the sidebar lists only the pages the role may open.
PAGES = tuple((key, f"{key}.py", *PAGE_LOOK[key]) for key in auth.PAGES)

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
    home = (auth.allowed_pages(user.role) or ["overview"])[0]
    pages = {
        key: st.Page(VIEWS_DIR / file, title=title, icon=icon, url_path=key, default=key == home)
        for key, file, title, icon in PAGES
    }
    page = st.navigation(list(pages.values()), position="hidden")
    auth_ui.sidebar(user, pages)
page.run()
