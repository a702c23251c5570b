"""Call review: the redacted transcript on a timeline, the quality breakdown with
its reasons, the abuse events, and the redacted audio (never the recording)."""

from __future__ import annotations

import base64
from typing import Any

import pandas as pd
import streamlit as st

from analytics import auth
from analytics.errors import NotFoundError
from analytics.evaluations import workflow
from analytics.store import CallFilter, call_rows, get_call
from dashboard import auth_ui, charts, evaluation_ui, runtime, ui

user = auth_ui.require("call_review")
store = runtime.store()
AUDIO_TYPES = {
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
}
SPEAKER_AVATARS = {
    "agent": ":material/support_agent:",
    "customer": ":material/person:",
    "unknown": ":material/help:",
}


st.title("Call review")
recent = [row["call_id"] for row in runtime.call_list(runtime.Filters(), limit=200)]
asked = st.query_params.get("call")
if asked and asked not in recent:
    recent.insert(0, asked)
if asked and (st.session_state.get("cr_url_seen") != asked or not st.session_state.get("cr_call")):
    # Arrived with ?call=ID (a link from alerts or an agent's calls): show that call.
    st.session_state["cr_call"] = asked
    st.session_state["cr_url_seen"] = asked
call_id = st.selectbox(
    "Call",
    recent,
    index=None,
    key="cr_call",
    placeholder="Choose a recent call or type a call id",
    accept_new_options=True,
)
if not call_id:
    st.info("Choose a call to review. Alerts and agents' call lists link here too.")
    st.stop()
if asked != call_id:
    st.query_params["call"] = call_id
    st.session_state["cr_url_seen"] = call_id

moment = runtime.now()
try:
    record = get_call(store, call_id, moment)
except NotFoundError:
    st.warning(
        f"Call {ui.md_escape(call_id)} is not available: unknown, not processed, "
        "objected or expired."
    )
    st.stop()
(row,) = call_rows(store, moment, CallFilter(call_ids=[call_id]))
auth_ui.audit_once(user, "view_call", call_id, {"page": "call_review"}, view=f"call:{call_id}")

quality: dict[str, Any] = record["quality"]
abuse: dict[str, Any] = record["abuse"]
segments: list[dict[str, Any]] = record["segments"]
pii_found = ", ".join(f"{kind} ×{n}" for kind, n in sorted(record["pii"].items()))
st.caption(
    f"Started {ui.when(record['started_at'])} · agent {ui.md_escape(record['agent_id'] or '–')} · "
    f"team {ui.md_escape(record['team'] or '–')} · "
    f"language {ui.md_escape(record['language'] or '–')} · "
    f"length {ui.clock(record['duration_s'])} · PII redacted: {ui.md_escape(pii_found or 'none')}"
)
# Categories the call matches; their evidence segments are marked in the transcript.
matched_in: dict[int, list[str]] = {}
for match in record["categories"]:
    for index in match["evidence"]:
        matched_in.setdefault(index, []).append(match["name"])
if record["categories"]:
    st.caption("Categories: " + ui.md_escape(", ".join(m["name"] for m in record["categories"])))
cols = st.columns(4)
cols[0].metric(
    "Quality score", quality["score"] if quality["score"] is not None else "–", border=True
)
cols[1].metric("Abuse", abuse["severity"].capitalize() if abuse["flagged"] else "None", border=True)
cols[2].metric(
    "Interruptions",
    quality["interruptions"] if quality["interruptions"] is not None else "–",
    border=True,
)
cols[3].metric("Non-talk", f"{ui.num(quality['non_talk_time_s'])} s", border=True)

st.subheader("Redacted audio")
audio_path = ui.redacted_audio_file(store, row["redacted_audio_path"])
if not auth.can(user.role, "play_audio"):
    st.caption("Your role does not listen to calls.")
elif audio_path is None:
    st.caption("No redacted audio for this call.")
else:
    labels = [f"#{i} · {ui.clock(s['start'])} · {s['speaker']}" for i, s in enumerate(segments)]
    start_at = (
        st.selectbox(
            "Start at segment",
            range(len(segments)),
            format_func=lambda i: labels[i],
            key=f"cr_seek_{call_id}",
        )
        if segments
        else None
    )
    listening = st.session_state.get("cr_listen") == call_id
    if not listening:
        st.button(
            "Listen to the redacted audio",
            icon=":material/play_arrow:",
            on_click=lambda: st.session_state.update(cr_listen=call_id),
        )
    if listening:
        start_s = segments[start_at]["start"] if start_at is not None else 0
        auth_ui.audit_once(user, "play_audio", call_id, {"redacted": True}, view=f"call:{call_id}")
        # The audio travels inside this session's own page message (a data: URL), not
        # as a /media/... URL: Streamlit serves those to anyone who has the link,
        # signed in or not, for as long as the session lives. Each run re-checks the
        # sign-in, the role and the call's visibility before the bytes are read.
        mime = AUDIO_TYPES.get(audio_path.suffix.lower(), "audio/ogg")
        encoded = base64.b64encode(audio_path.read_bytes()).decode("ascii")
        st.audio(f"data:{mime};base64,{encoded}", format=mime, start_time=int(start_s))
        st.caption(
            "Personal data is bleeped in this audio; the original recording is never served."
        )


def _seek(idx: int) -> None:
    """An evidence segment clicked: the player starts there and the segment is shown."""
    st.session_state[f"cr_seek_{call_id}"] = idx
    st.session_state["cr_focus"] = (call_id, idx)
    if auth.can(user.role, "play_audio") and audio_path is not None:
        st.session_state["cr_listen"] = call_id


focus = st.session_state.get("cr_focus")
if focus and focus[0] == call_id and 0 <= focus[1] < len(segments):
    seg = segments[focus[1]]
    st.info(
        f"Evidence segment #{focus[1]:d} · {ui.clock(seg['start'])} · "
        f"{ui.md_escape(seg['speaker'])}: {ui.md_escape(seg['text'])}"
    )

# The evaluation under the active form: final score, who overrode what, the history.
evaluation = workflow.call_evaluation(store, call_id, now=moment)
evaluation_ui.score_metrics(evaluation)

transcript_tab, quality_tab, abuse_tab, evaluation_tab = st.tabs(
    ["Transcript", "Quality breakdown", f"Abuse events ({len(abuse['events'])})", "Evaluation"]
)
with evaluation_tab:
    evaluation_ui.show(
        user,
        evaluation,
        segments,
        editable=auth.can(user.role, "evaluate"),
        metrics=False,
        on_seek=_seek,
    )
with transcript_tab:
    if segments:
        st.altair_chart(charts.timeline(segments, abuse["events"]), width="stretch")
    flagged_at = {(e["start"], e["end"]) for e in abuse["events"]}
    for i, seg in enumerate(segments):
        with st.chat_message(
            ui.md_escape(seg["speaker"]), avatar=SPEAKER_AVATARS.get(seg["speaker"])
        ):
            flagged = any(
                s <= seg["start"] < e or seg["start"] <= s < seg["end"] for s, e in flagged_at
            )
            st.markdown(
                f":gray[#{i:d} · {ui.clock(seg['start'])}–{ui.clock(seg['end'])} · "
                f"{ui.md_escape(seg['speaker'])}]{' · :red-badge[abuse]' if flagged else ''}  \n"
                + (
                    ":blue-background[" + ui.md_escape(seg["text"]) + "]"
                    if i in matched_in
                    else ui.md_escape(seg["text"])
                )
            )
            for name in matched_in.get(i, []):
                st.badge(ui.md_escape(name), icon=":material/label:", color="blue")
    if not segments:
        st.caption("No speech was transcribed in this call.")

with quality_tab:
    breakdown = pd.DataFrame(
        quality.get("breakdown") or [], columns=["name", "earned", "weight", "reason"]
    )
    st.dataframe(
        breakdown,
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Criterion",
            "earned": st.column_config.NumberColumn("Earned", format="%.1f"),
            "weight": st.column_config.NumberColumn("Out of", format="%.0f"),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
    )
    figures = {
        "Agent talk time": f"{ui.num(quality['talk_time_agent_s'])} s",
        "Customer talk time": f"{ui.num(quality['talk_time_customer_s'])} s",
        "Non-talk time": f"{ui.num(quality['non_talk_time_s'])} s",
        "Longest silence": f"{ui.num(quality['longest_silence_s'])} s",
        "Overtalk": f"{ui.num(quality['overtalk_s'])} s",
        "Agent words/min": ui.num(quality["agent_wpm"], 0),
        "Customer words/min": ui.num(quality["customer_wpm"], 0),
        "Greeting": quality["greeting"],
        "Agent identified": quality["agent_identified"],
        "Closing": quality["closing"],
        "Empathy": quality["empathy"],
    }
    st.dataframe(
        pd.DataFrame({"Figure": list(figures), "Value": [str(v) for v in figures.values()]}),
        hide_index=True,
        width="content",
    )

with abuse_tab:
    if not abuse["events"]:
        st.caption("No abusive language was detected in this call.")
    else:
        events = pd.DataFrame(
            abuse["events"], columns=["speaker", "start", "end", "category", "severity", "text"]
        )
        st.dataframe(
            events,
            hide_index=True,
            width="stretch",
            column_config={
                "speaker": "Speaker",
                "start": st.column_config.NumberColumn("From (s)", format="%.1f"),
                "end": st.column_config.NumberColumn("To (s)", format="%.1f"),
                "category": "Category",
                "severity": "Severity",
                "text": st.column_config.TextColumn("Redacted text", width="large"),
            },
        )
