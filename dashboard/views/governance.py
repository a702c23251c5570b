"""Governance (DPO): objections, litigation holds, retention and the audit log."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from analytics import audit, auth, evidence
from analytics.errors import CallqaError
from dashboard import auth_ui, runtime, ui

user = auth_ui.require("governance")
store = runtime.store()

st.title("Governance")
if runtime.governance is None:
    st.error(f"Governance data is unavailable: {ui.md_escape(runtime.GOVERNANCE_MISSING)}.")
    st.stop()
gov = runtime.governance

status = gov.purge_status(store, runtime.now())
objections = gov.objections_list(store)
holds = gov.holds_list(store)
last = status.get("last_purge")
cols = st.columns(4)
cols[0].metric("Objections", f"{len(objections):,}", border=True)
cols[1].metric("Litigation holds", f"{len(holds):,}", border=True)
cols[2].metric("Expired, awaiting purge", f"{status['expired_awaiting_purge']:,}", border=True)
cols[3].metric(
    "Last purge",
    last["at"][:10] if last else "never",
    f"{last.get('calls', 0)} calls removed" if last else None,
    delta_color="off",
    delta_arrow="off",
    border=True,
)
st.caption(
    f"Retention: {status.get('retention_days', store.settings.retention_days):d} days "
    f"(calls before {ui.when(status.get('cutoff'))} are hidden and purged unless held). "
    "Purge runs when the dashboard starts and with `callqa purge`."
)

objections_tab, holds_tab, audit_tab = st.tabs(["Objections", "Holds", "Audit log"])
with objections_tab:
    frame = pd.DataFrame(objections, columns=["id", "by", "call_id", "filed_at", "actor"])
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "id": "#",
            "by": "Scope",
            "call_id": st.column_config.TextColumn("Call", help="Empty for an objection by caller"),
            "filed_at": "Filed",
            "actor": "Filed by",
        },
    )
    st.caption("An objection by caller covers all their calls; the caller number is never stored.")

with holds_tab:
    st.dataframe(
        pd.DataFrame(holds, columns=["call_id", "reason", "held_at", "actor"]),
        hide_index=True,
        width="stretch",
        column_config={
            "call_id": "Call",
            "reason": "Reason",
            "held_at": "Since",
            "actor": "Set by",
        },
    )
    st.caption("Release a hold with `callqa release --call ID`; normal retention then applies.")
    if holds and auth.can_export_evidence(user.role):
        st.subheader("Evidence pack")
        held_ids = [h["call_id"] for h in holds]
        chosen = str(st.selectbox("Held call", held_ids, key="gv_evidence_call"))
        if st.button("Prepare the evidence pack", icon=":material/gavel:", key="gv_evidence"):
            try:
                data, info = evidence.build_pack(
                    store, chosen, actor=user.name, role=user.role, now=runtime.now()
                )
            except CallqaError as exc:
                st.error(ui.md_escape(str(exc)))
            else:
                st.session_state["gv_evidence_pack"] = (chosen, data, info)
        prepared = st.session_state.get("gv_evidence_pack")
        if prepared and prepared[0] != chosen:  # another call chosen: drop the old pack
            del st.session_state["gv_evidence_pack"]
            prepared = None
        if prepared:
            _, data, info = prepared
            st.download_button(
                "Download the evidence pack",
                data=data,
                file_name=evidence.pack_file_name(chosen),
                mime="application/zip",
                on_click="ignore",
                icon=":material/download:",
                key="gv_evidence_download",
            )
            st.caption(
                f"Pack of call {ui.md_escape(chosen)}: {len(info.files)} files, manifest "
                f"SHA-256 {ui.md_escape(info.manifest_sha256)}. The export is in the audit log. The pack "
                "holds the original recording: hand it over only to the case's parties."
            )
        else:
            st.caption(
                "A pack holds the call's original recording, redacted transcript and audio, "
                "figures, hold and audit trail, signed with the workspace's evidence key."
            )

with audit_tab:
    left, right = st.columns([1, 1], vertical_alignment="bottom")
    action = left.selectbox("Action", ["all", *sorted(audit.ACTIONS)], key="gv_action")
    if right.button("Verify the audit chain", icon=":material/verified:"):
        problems = audit.verify(store)
        if problems:
            st.error(f"The audit log was altered: {len(problems)} problem(s).")
            st.dataframe(
                pd.DataFrame([{"row": p.row_id, "problem": p.reason} for p in problems]),
                hide_index=True,
            )
        else:
            st.success("The audit chain is intact: every entry follows the one before it.")
    rows = audit.entries(store, limit=500, action=None if action == "all" else action)
    frame = pd.DataFrame(rows, columns=["id", "at", "actor", "action", "call_id", "detail"])
    frame["detail"] = frame["detail"].map(
        lambda d: ", ".join(f"{k}={v}" for k, v in json.loads(d or "{}").items())
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=420,
        column_config={
            "id": "#",
            "at": "When",
            "actor": "Who",
            "action": "Action",
            "call_id": "Call",
            "detail": "Detail",
        },
    )
    st.caption(
        "The 500 most recent entries. Each entry is chained to the previous one by its hash."
    )
