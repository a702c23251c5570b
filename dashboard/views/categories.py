"""Categories: the quality manager defines rules (TOML), sees how many calls each
tags, and removes them. Saving a new or changed rule re-categorises every call
within retention at once."""

from __future__ import annotations

import streamlit as st

from analytics.errors import CallqaError
from analytics.insights import service
from analytics.insights.categories import EXAMPLES
from analytics.store import categories as cat_store
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("categories")
store = runtime.store()

st.title("Categories")
st.caption(
    "A category is a rule over what was said (phrases, exact or fuzzy, per language), "
    "by whom (agent, customer), when (first / last seconds, after another phrase) and the "
    "call's figures (silence, interruptions, talk ratio, sentiment, abuse, quality "
    "answers), combined with all / any / not. Saving applies it to every call kept."
)

moment = runtime.now()
counts = cat_store.counts(store, moment)
defined = cat_store.definitions(store)
if defined:
    st.dataframe(
        [
            {
                "category": d.name,
                "version": d.version,
                "calls": counts.get(d.name, 0),
                "since": d.created_at,
                "by": d.actor or "",
            }
            for d in defined
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No category yet. Start from the examples below, or write your own.")

st.subheader("Define or change categories")
with st.form("cat_form"):
    source = st.text_area(
        "Categories (TOML: one [[categories]] table each)",
        key="cat_source",
        height=260,
        placeholder='[[categories]]\nname = "callback promised"\n'
        'rule = { phrases = ["je vous rappelle", "call you back"], speaker = "agent" }',
    )
    saved = st.form_submit_button("Save and apply", icon=":material/save:")
if saved and source.strip():
    try:
        with st.spinner("Applying to every call kept..."):
            report = service.import_text(store, source, "the editor", actor=user.name, now=moment)
    except CallqaError as exc:
        st.error(ui.md_escape(exc))
    else:
        runtime.after_write()
        st.success(
            f"{len(report.changed):d} new or changed, {len(report.unchanged):d} unchanged; "
            f"{report.calls:,} calls categorised."
        )
        st.rerun()

if st.button("Load the example set", icon=":material/library_add:"):
    st.session_state["cat_source"] = EXAMPLES.read_text(encoding="utf-8")
    st.rerun()

if defined:
    st.subheader("Remove a category")
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    name = pick.selectbox("Category", [d.name for d in defined], key="cat_remove")
    if go.button("Remove", icon=":material/delete:") and name:
        service.remove_category(store, name, actor=user.name, now=moment)
        runtime.after_write()
        st.rerun()
    with st.expander("Definitions as stored (JSON)"):
        for d in defined:
            st.code(d.source, language="json")
