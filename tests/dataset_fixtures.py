"""A small, realistic workspace for the dataset tests and the notebooks.

Calls go straight into the store (no audio, no models) with figures, rubric
breakdowns, redacted segments, PII counts and abuse events that hang together:
each agent has habits (rubric items they tend to miss), one queue takes more
abuse, abuse escalates within some calls. Governance noise is mixed in: calls
objected (by call, by caller, at ingest), one past retention (not yet purged),
one past retention but held, and unprocessed calls. The text is already
redacted, as only redacted text may be stored.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from analytics.config import load_settings
from analytics.governance import object_calls
from analytics.models import (
    AbuseEvent,
    AbuseReport,
    AudioInfo,
    CallAnalysis,
    CallMetadata,
    QualityReport,
    RedactedSegment,
    RedactedTranscript,
    RubricItem,
    Severity,
    Speaker,
)
from analytics.store import Store, utcnow
from analytics.store.writes import insert_call, save_analysis
from analytics.workspace import hash_caller

# (name, default weight) as analytics.quality scores them; the score is
# 100 x earned / sum of the weights of the items that apply to the call.
RUBRIC = (
    ("greeting", 15.0),
    ("agent_identified", 15.0),
    ("closing", 15.0),
    ("empathy", 15.0),
    ("hold_etiquette", 10.0),
    ("dead_air", 10.0),
    ("interruptions", 10.0),
    ("pace", 10.0),
)
REASONS = {
    "greeting": ("the agent greeted the customer", "no greeting in the agent's opening"),
    "agent_identified": (
        "the agent said who they are",
        "the agent did not introduce themself in the opening",
    ),
    "closing": ("the agent closed the call politely", "no closing formula at the end"),
    "empathy": (
        "the agent acknowledged the customer's situation",
        "no empathy phrase from the agent",
    ),
    "hold_etiquette": (
        "1 of 1 long silence(s) announced beforehand",
        "0 of 1 long silence(s) announced beforehand",
    ),
    "dead_air": ("longest unannounced silence 4.0 s", "longest unannounced silence 24.0 s"),
    "interruptions": (
        "the agent interrupted the customer 0 time(s)",
        "the agent interrupted the customer 2 time(s)",
    ),
    "pace": ("agent pace 150 words/min", "agent pace 198 words/min"),
}
NOT_SCORED = "not scored: no silence of 15 s or more: nothing to announce"
PARTIAL = {"dead_air": 0.3, "interruptions": 1 / 3}  # share earned when missed

# agent -> (team, rubric items they tend to miss)
AGENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "A101": ("Niort-Auto", ("closing",)),
    "A102": ("Niort-Auto", ("empathy", "interruptions")),
    "A201": ("Niort-Sinistres", ("agent_identified", "hold_etiquette")),
    "A202": ("Niort-Sinistres", ("pace",)),
    "A301": ("Lyon-Voyage", ("greeting", "dead_air")),
    "A302": ("Lyon-Voyage", ()),
}
ABUSE_RATE = {"Niort-Auto": 0.1, "Niort-Sinistres": 0.35, "Lyon-Voyage": 0.08}

AGENT_LINES = (
    "bonjour <PERSON> à votre écoute",
    "je comprends tout à fait je regarde votre dossier",
    "pouvez-vous me confirmer votre numéro <PHONE_NUMBER>",
    "je vous mets en attente un instant",
    "un dépanneur arrive à <LOCATION> dans quarante minutes",
    "je vous envoie la confirmation à <EMAIL_ADDRESS>",
    "merci de votre appel bonne journée au revoir",
)
CUSTOMER_LINES = (
    "bonjour je suis en panne sur l'autoroute",
    "c'est <PERSON> mon numéro de contrat est <CONTRACT_ID>",
    "ma voiture ne démarre plus depuis ce matin",
    "j'ai déjà appelé hier personne n'est venu",
    "d'accord merci beaucoup",
    "je suis à <LOCATION> avec deux enfants",
)
ABUSE_LINES: dict[str, str] = {
    "insult": "vous êtes un incapable",
    "profanity": "c'est vraiment de la merde votre service",
    "threat": "si personne ne vient je viens vous retrouver",
    "harassment": "je vais rappeler toutes les cinq minutes jusqu'à ce que vous craquiez",
}
ESCALATION: tuple[tuple[str, Severity], ...] = (
    ("profanity", "low"),
    ("insult", "medium"),
    ("threat", "high"),
)
_PLACEHOLDER = re.compile(r"<([A-Z_]+)>")


@dataclass(frozen=True)
class BuiltWorkspace:
    """What was built, so tests can say which calls a reader may see."""

    home: Path
    now: datetime
    visible: frozenset[str]
    objected: frozenset[str]
    expired: frozenset[str]
    unprocessed: frozenset[str]
    held: frozenset[str] = field(default_factory=frozenset)

    @property
    def hidden(self) -> frozenset[str]:
        return self.objected | self.expired | self.unprocessed


def _segments(
    rng: random.Random, duration_s: float, abuse_at: dict[int, str]
) -> list[RedactedSegment]:
    count = rng.randint(5, 9)
    step = duration_s / count
    segs = []
    for idx in range(count):
        speaker: Speaker = "agent" if idx % 2 == 0 else "customer"
        lines = AGENT_LINES if speaker == "agent" else CUSTOMER_LINES
        text = abuse_at.get(idx) or (AGENT_LINES[0] if idx == 0 else rng.choice(lines))
        start = round(idx * step + rng.uniform(0.0, 0.4), 2)
        end = round(start + step * rng.uniform(0.6, 0.95), 2)
        loud = -18.0 if idx in abuse_at else rng.uniform(-30.0, -22.0)
        segs.append(RedactedSegment(speaker, start, end, text, loudness_db=round(loud, 1)))
    return segs


def _abuse(
    rng: random.Random, segs: list[RedactedSegment], escalate: bool
) -> tuple[tuple[AbuseEvent, ...], dict[int, str]]:
    customer_idx = [i for i, s in enumerate(segs) if s.speaker == "customer"]
    steps = ESCALATION if escalate else (rng.choice(ESCALATION),)
    chosen = customer_idx[-len(steps) :] if len(customer_idx) >= len(steps) else customer_idx[:1]
    texts = {idx: ABUSE_LINES[cat] for idx, (cat, _sev) in zip(chosen, steps, strict=False)}
    events = tuple(
        AbuseEvent(
            speaker="customer",
            start=segs[idx].start,
            end=segs[idx].end,
            category=cat,  # type: ignore[arg-type]
            severity=sev,
            text=texts[idx],
            matched=cat,
            shouted=sev == "high",
        )
        for idx, (cat, sev) in zip(chosen, steps, strict=False)
    )
    return events, texts


def _rubric_item(name: str, weight: float, missed: bool, long_silence: bool) -> RubricItem:
    if name == "hold_etiquette" and not long_silence:
        return RubricItem(name, 0.0, 0.0, NOT_SCORED)  # nothing to announce: does not count
    earned = round(weight * PARTIAL.get(name, 0.0), 2) if missed else weight
    return RubricItem(name, weight, earned, REASONS[name][1 if missed else 0])


def realistic_analysis(
    rng: random.Random, call_id: str, agent_id: str, team: str, *, language: str = "fr"
) -> CallAnalysis:
    """A processed call whose figures, rubric, segments, PII and abuse agree."""
    weak = AGENTS.get(agent_id, (team, ()))[1]
    duration = round(rng.uniform(90.0, 600.0), 1)
    flagged = rng.random() < ABUSE_RATE.get(team, 0.1)
    escalate = flagged and rng.random() < 0.5
    draft = _segments(rng, duration, {})
    events, abuse_texts = _abuse(rng, draft, escalate) if flagged else ((), {})
    segs = [
        RedactedSegment(s.speaker, s.start, s.end, abuse_texts.get(i, s.text), s.loudness_db)
        for i, s in enumerate(draft)
    ]
    pii: dict[str, int] = {}
    for seg in segs:
        for kind in _PLACEHOLDER.findall(seg.text):
            pii[kind] = pii.get(kind, 0) + 1
    long_silence = rng.random() < 0.4
    missed = {name for name, _w in RUBRIC if rng.random() < (0.7 if name in weak else 0.08)}
    breakdown = tuple(
        _rubric_item(name, weight, name in missed, long_silence) for name, weight in RUBRIC
    )
    applicable = sum(item.weight for item in breakdown)
    talk_agent = round(duration * rng.uniform(0.35, 0.5), 1)
    talk_customer = round(duration * rng.uniform(0.25, 0.45), 1)
    quality = QualityReport(
        talk_time_agent_s=talk_agent,
        talk_time_customer_s=talk_customer,
        non_talk_time_s=round(max(duration - talk_agent - talk_customer, 0.0), 1),
        longest_silence_s=round(
            rng.uniform(15.0, 28.0)
            if long_silence
            else rng.uniform(11.0, 14.5)
            if "dead_air" in missed
            else rng.uniform(0.5, 4.0),
            1,
        ),
        overtalk_s=round(rng.uniform(0.0, 12.0), 1),
        interruptions=rng.randint(2, 6) if "interruptions" in missed else rng.randint(0, 1),
        agent_wpm=round(rng.uniform(175, 200) if "pace" in missed else rng.uniform(125, 165), 1),
        customer_wpm=round(rng.uniform(110, 180), 1),
        greeting="greeting" not in missed,
        agent_identified="agent_identified" not in missed,
        closing="closing" not in missed,
        empathy="empathy" not in missed,
        hold_etiquette=("hold_etiquette" not in missed) if long_silence else None,
        sentiment_start=round(rng.uniform(-0.8, 0.1), 2),
        sentiment_end=round(rng.uniform(-0.9, -0.3) if flagged else rng.uniform(-0.2, 0.8), 2),
        score=round(100 * sum(item.earned for item in breakdown) / applicable),
        breakdown=breakdown,
    )
    severity: Severity = max(
        (e.severity for e in events), key=("none", "low", "medium", "high").index, default="none"
    )
    transcript = RedactedTranscript(
        call_id=call_id,
        language=language,
        language_probability=round(rng.uniform(0.85, 0.99), 2),
        duration_s=duration,
        segments=tuple(segs),
        pii_counts=pii,
    )
    return CallAnalysis(transcript, quality, AbuseReport(bool(events), severity, events))


def add_processed_call(
    store: Store,
    call_id: str,
    *,
    started_at: datetime,
    agent_id: str,
    team: str,
    analysis: CallAnalysis | None,
    now: datetime,
    caller_id: str | None = None,
    legal_hold: bool = False,
    state: str = "done",
) -> None:
    """Insert a call and, for a done call, its analysis (as the pipeline would)."""
    language = analysis.transcript.language if analysis else "fr"
    duration = analysis.transcript.duration_s if analysis else None
    meta = CallMetadata(
        call_id=call_id,
        started_at=started_at,
        agent_id=agent_id,
        team=team,
        caller_hash=hash_caller(store.key, caller_id) if caller_id else None,
        channel_layout="agent_left",
        language=language,
        objection=state == "objected",
        legal_hold=legal_hold,
    )
    with store.write() as conn:
        insert_call(
            conn,
            meta,
            info=AudioInfo(duration, 2, 16000, "pcm_s16le", "wav") if duration else None,
            sha256=f"sha-{call_id}",
            audio_path=None,
            source_name=f"{call_id}.wav",
            state="pending" if state == "done" else state,  # type: ignore[arg-type]
            now=now,
        )
        if state == "done" and analysis is not None:
            save_analysis(conn, call_id, analysis, now=now, redacted_audio_path=None)


def _business_time(rng: random.Random, now: datetime, days_ago: int) -> datetime:
    day = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:  # the line is open on weekdays
        day -= timedelta(days=1)
    # Abuse is made likelier late in the day below; times are UTC (Paris - 1 h).
    return day + timedelta(hours=rng.randint(7, 16), minutes=rng.randint(0, 59))


def build_workspace(
    home: Path, *, now: datetime | None = None, calls: int = 48, seed: int = 7
) -> BuiltWorkspace:
    """Fill ``home`` with ``calls`` visible calls plus governance noise.

    Args:
        home: an empty (or new) workspace folder.
        now: the moment the workspace is "today"; default the current time, so
            notebooks reading without ``now`` see the same calls.
        calls: how many visible calls (0 gives a workspace with only hidden calls).
        seed: makes the data reproducible.
    """
    now = now or utcnow()
    rng = random.Random(seed)
    agents = list(AGENTS)
    visible: set[str] = set()
    with Store.open(load_settings(home)) as store:
        for n in range(calls):
            agent = agents[n % len(agents)]
            team = AGENTS[agent][0]
            call_id = f"c{n + 1:03d}"
            language = "en" if rng.random() < 0.1 else "fr"
            started = _business_time(rng, now, rng.randint(1, 80))
            analysis = realistic_analysis(rng, call_id, agent, team, language=language)
            if analysis.abuse.flagged and started.hour < 12 and rng.random() < 0.5:
                started += timedelta(hours=5)  # abuse peaks late afternoon
            add_processed_call(
                store,
                call_id,
                started_at=started,
                agent_id=agent,
                team=team,
                analysis=analysis,
                now=now,
                caller_id=f"06 00 00 00 {n % 40:02d}",
            )
            visible.add(call_id)

        def noise(call_id: str, days_ago: int, **kwargs: object) -> None:
            add_processed_call(
                store,
                call_id,
                started_at=_business_time(rng, now, days_ago),
                agent_id="A101",
                team="Niort-Auto",
                analysis=realistic_analysis(rng, call_id, "A101", "Niort-Auto"),
                now=now,
                **kwargs,  # type: ignore[arg-type]
            )

        noise("x-objected-later", 5, caller_id="01 99 99 99 01")
        object_calls(store, call_id="x-objected-later", now=now, actor="fixture")
        noise("x-caller-1", 6, caller_id="01 99 99 99 02")
        noise("x-caller-2", 9, caller_id="01 99 99 99 02")
        object_calls(store, caller_id="01 99 99 99 02", now=now, actor="fixture")
        noise("x-objected-at-ingest", 3, state="objected")
        noise("x-expired", 200)
        noise("x-pending", 1, state="pending")
        noise("x-failed", 2, state="failed")
        noise("h-held-old", 250, legal_hold=True)
        visible.add("h-held-old")
    return BuiltWorkspace(
        home=home,
        now=now,
        visible=frozenset(visible),
        objected=frozenset(
            {"x-objected-later", "x-caller-1", "x-caller-2", "x-objected-at-ingest"}
        ),
        expired=frozenset({"x-expired"}),
        unprocessed=frozenset({"x-pending", "x-failed"}),
        held=frozenset({"h-held-old"}),
    )
