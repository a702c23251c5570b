"""Login, the signed-in sidebar, page guards and once-per-view auditing.

Every page run re-reads the signed-in account (a removed user, or one whose
password changed, is signed out; a new role applies at once) and ends a session
left idle longer than ``[dashboard] idle_timeout_min`` (30 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from analytics import audit, auth
from analytics.errors import AuthError
from dashboard import runtime, ui

USER_KEY = "callqa_user"
_AUDITED_KEY = "_callqa_audited"
_ACTIVE_KEY = "_callqa_last_active"
_NOTICE_KEY = "_callqa_signed_out"
IDLE_TIMEOUT_MIN = 30

ROLE_LABELS = {
    "quality_manager": "Quality manager",
    "trainer": "Trainer",
    "agent": "Agent",
    "data_scientist": "Data scientist",
    "dpo": "DPO",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def idle_timeout_min() -> float:
    value = runtime.store().settings.section("dashboard").get("idle_timeout_min")
    return float(value) if value else IDLE_TIMEOUT_MIN


def current_user() -> auth.User | None:
    """The signed-in user as the store knows them now, or None (then signed out).

    Called at the top of every run: the session ends when it was idle too long,
    when the account was removed or its password changed; a changed role is used
    from this run on.
    """
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, auth.User):
        return None
    moment = runtime.now()
    last = st.session_state.get(_ACTIVE_KEY)
    if last is not None and (moment - last).total_seconds() > idle_timeout_min() * 60:
        _end_session(f"Signed out after {idle_timeout_min():g} minutes without activity.")
        return None
    fresh = auth.session_user(runtime.store(), user)
    if fresh is None:
        _end_session("Your session has ended: your account or password changed.")
        return None
    st.session_state[USER_KEY] = fresh
    st.session_state[_ACTIVE_KEY] = moment
    return fresh


def _end_session(notice: str) -> None:
    logout()
    st.session_state[_NOTICE_KEY] = notice


def client_address() -> str | None:
    """The browser's address, for the per-client sign-in throttle (None: unknown).

    Streamlit gives the address of the connection, or None for a loopback one. A
    loopback connection is the TLS reverse proxy of the README (the server listens
    on loopback only, so no one else can connect from there): its
    ``X-Forwarded-For`` names the browser.
    """
    try:
        direct = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For")
    except Exception:  # no browser connection (AppTest): no per-client key
        return None
    if direct:
        return str(direct)
    return forwarded.split(",")[-1].strip() or None if forwarded else None


def login_page() -> None:
    """The only page a visitor who has not signed in can open."""
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("callqa")
        st.caption("Call quality and analytics — authorised staff only.")
        if notice := st.session_state.pop(_NOTICE_KEY, None):
            st.info(ui.md_escape(notice))
        with st.form("login", border=True):
            name = st.text_input("User name", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            try:
                user = auth.login(
                    runtime.store(),
                    name.strip(),
                    password,
                    client=client_address(),
                    now=runtime.now(),
                )
            except auth.SignInThrottled as exc:
                st.error(f"Sign-in refused: {ui.md_escape(exc)}.")
            except AuthError:
                st.error("Sign-in failed: unknown user or wrong password.")
            else:
                st.session_state[USER_KEY] = user
                st.session_state[_ACTIVE_KEY] = runtime.now()
                st.rerun()
        st.caption(
            "Accounts are created by an administrator with `callqa user add NAME --role ROLE`."
        )


def logout() -> None:
    """Forget the user and everything they chose (Streamlit's own keys stay)."""
    for key in list(st.session_state.keys()):
        if not str(key).startswith("$$"):
            del st.session_state[key]


def sidebar(user: auth.User, pages: Mapping[str, Any]) -> None:
    """Brand, the pages this role may open, and who is signed in."""
    with st.sidebar:
        st.markdown("## callqa")
        st.caption("Privacy-first call quality")
        for key in auth.allowed_pages(user.role):
            st.page_link(pages[key])
        st.divider()
        st.markdown(f"**{ui.md_escape(user.name)}**  \n{ui.md_escape(role_label(user.role))}")
        st.button("Sign out", on_click=logout, width="stretch")
        st.caption("Transcripts and audio are redacted. Every call view is audited.")


def _audited() -> dict[str, Any]:
    state = st.session_state.get(_AUDITED_KEY)
    if state is None:
        state = st.session_state[_AUDITED_KEY] = {"page": None, "view": None, "done": set()}
    return state  # type: ignore[no-any-return]


def note_page(page: str) -> None:
    """Arriving on another page starts a new view (called on every run of a page)."""
    state = _audited()
    if state["page"] != page:
        state.update(page=page, view=None, done=set())


def audit_once(
    user: auth.User,
    action: str,
    call_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    view: str,
) -> bool:
    """Audit an action once per view (not on every rerun); True when it was written.

    A view is what a page shows (e.g. call ``c1`` on the call review page):
    reruns of the same view write nothing; opening another call, or leaving the
    page and coming back, starts a new view.
    """
    state = _audited()
    if state["view"] != view:
        state.update(view=view, done=set())
    if (action, call_id) in state["done"]:
        return False
    audit.log_event(runtime.store(), user.name, action, call_id, detail, now=runtime.now())
    state["done"].add((action, call_id))
    return True


def require(page: str) -> auth.User:
    """The signed-in user if their role may open ``page``; otherwise refuse and stop.

    Every page starts with it, so it also marks the start of a new page view.
    """
    note_page(page)
    user = current_user()
    if user is None:  # the app routes visitors to the login form; belt and braces
        login_page()
        st.stop()
    if not auth.can(user.role, page):
        audit_once(
            user,
            "access_denied",
            detail={"page": page, "role": user.role},
            view=f"denied:{page}",
        )
        st.error(
            f"Access refused: the {ui.md_escape(role_label(user.role))} role may not open "
            "this page. The attempt has been recorded in the audit log."
        )
        st.stop()
    return user
