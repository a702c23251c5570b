"""Search: redacted transcripts of visible calls, by words (any form), "phrases",
prefix* and -exclusions, narrowed by the filter bar and the speaker."""

from __future__ import annotations

import streamlit as st

from analytics import auth
from analytics.errors import UsageError
from analytics.store.search import search
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("search")
store = runtime.store()

st.title("Search")
flt = ui.filter_bar()
box, who = st.columns([4, 1])
query = box.text_input(
    "Words to find",
    key="s_query",
    placeholder='e.g. résiliation, "parler à un responsable", rappel*, -facture',
)
speaker = who.selectbox(
    "Said by", ["anyone", "agent", "customer"], key="s_speaker", format_func=str.capitalize
)
if not query.strip():
    st.info(
        "Words match in any form (résilier finds résiliation), accents and case aside; "
        '"quotes" find a phrase, a trailing * a prefix, a leading - excludes a word.'
    )
    st.stop()

moment = runtime.now()
try:
    hits = search(
        store,
        query,
        moment,
        flt=flt.call_filter(),
        speaker=None if speaker == "anyone" else speaker,  # type: ignore[arg-type]
    )
except UsageError as exc:
    st.warning(ui.md_escape(exc))
    st.stop()
auth_ui.audit_once(user, "search", detail={"hits": len(hits)}, view=f"search:{query}")
if not hits:
    st.info("No segment of a visible call matches.")
    st.stop()

st.caption(f"{len(hits):d} matching segments, newest first (at most 50).")
for hit in hits:
    with st.container(border=True):
        st.markdown(
            f":gray[{ui.md_escape(hit.call_id)} · #{hit.idx:d} · {ui.when(hit.started_at)} · "
            f"{ui.md_escape(hit.speaker)} · {ui.md_escape(hit.team or '–')} / "
            f"{ui.md_escape(hit.agent_id or '–')}]  \n" + ui.highlight(hit.fragments)
        )

if auth.can(user.role, "call_review"):
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    ids = list(dict.fromkeys(hit.call_id for hit in hits))
    call_id = pick.selectbox("Call", ids, key="s_call")
    if go.button("Open in call review", icon=":material/open_in_new:"):
        st.switch_page("views/call_review.py", query_params={"call": call_id})
