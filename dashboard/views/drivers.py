"""Call drivers: why customers call, discovered from the redacted customer turns of the
visible calls the filter bar keeps (TF-IDF + NMF, analytics.insights.drivers); each
topic named by its top terms, with its calls per week. Reads only: the topics' ids are
recorded by ``callqa drivers``, not by opening this page. Computed once per data
version, filter and topic count (dashboard.runtime), not at every rerun."""

from __future__ import annotations

import streamlit as st

from dashboard import auth_ui, runtime, ui

user = auth_ui.require("drivers")

st.title("Call drivers")
st.caption(
    "Recurring reasons for calling, found in what customers said (redacted): each topic "
    "is named by its most telling words. A call counts for its clearest topic, or none."
)
flt = ui.filter_bar()
topics = st.slider("Topics to look for", 2, 20, 8, key="d_topics")
run = runtime.drivers(flt, topics)  # cached per data version, filter and topic count
auth_ui.audit_once(user, "drivers", detail={"topics": len(run.topics)}, view=f"drivers:{topics}")
if not run.topics:
    st.info("Too few calls with customer speech to find recurring reasons.")
    st.stop()

assigned = sum(1 for t in run.assignments.values() if t is not None)
st.caption(f"{len(run.assignments):d} calls, {assigned:d} with a clear reason.")
names = {t.topic_id: t.name for t in run.topics}
for topic in run.topics:
    st.markdown(
        f"**#{topic.topic_id:d}** · {ui.md_escape(topic.name)} · {topic.calls:d} calls  \n"
        f":gray[{ui.md_escape(', '.join(topic.terms))}]"
    )
# Weekly counts: one row per week (Monday), one column per topic (its id and name).
weeks = sorted({week for week, _, _ in run.weekly})
table = {
    week: {f"#{tid} {names.get(tid, '')}": 0 for tid in names} for week in weeks
}  # fmt: skip
for week, tid, n in run.weekly:
    table[week][f"#{tid} {names.get(tid, '')}"] = n
st.subheader("Calls per week")
st.dataframe(
    [{"week": week, **counts} for week, counts in table.items()],
    hide_index=True,
    use_container_width=True,
)
