"""The demo corpus: synthetic calls of a roadside and travel assistance insurer.

Spoken by espeak-ng (one voice per channel), with planted personal data that
redaction must catch, an abusive caller, a caller who objected, a call past
retention and one under a litigation hold — so every part of the product shows.

The demo adds users with a published password, a DPO among them: it writes only
into a new workspace (missing or empty), which it marks as its own with a
``.callqa-demo`` file, or into one it marked before; it refuses any other.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from analytics import auth
from analytics.config import Settings
from analytics.errors import CallqaError, UsageError
from analytics.ingest import ingest
from analytics.models import ChannelLayout
from analytics.pipeline import process
from analytics.store import Store, iso, utcnow
from analytics.synth import Turn, synthesize_call

log = logging.getLogger(__name__)

T = Turn
SCRIPTS: tuple[tuple[str, tuple[Turn, ...]], ...] = (
    (
        "en",
        (
            T("agent", "Good morning, this is Sarah speaking, how can I help you today?"),
            T("customer", "Hello, my car broke down on the motorway near Lyon."),
            T("agent", "I am sorry to hear that. Can I have your policy number please?"),
            T("customer", "Yes, it is policy number 4 8 2 7 3 9 1 5."),
            T(
                "agent",
                "Thank you. A tow truck will be with you within the hour. Have a nice day, goodbye.",
            ),
        ),
    ),
    (
        "en",
        (
            T("agent", "Hello, you are speaking with Thomas, how may I help?"),
            T("customer", "I have been waiting for two hours, this is unacceptable."),
            T("agent", "I understand your frustration, let me check your file."),
            T("customer", "You people are useless idiots, I know where you live.", shout=True),
            T("agent", "Sir, please stay polite or I will have to end this call."),
            T("customer", "Shut up you stupid bastard.", gap=0.1, shout=True),
        ),
    ),
    (
        "en",
        (
            T("agent", "Good afternoon, Emma speaking, thank you for calling."),
            T("customer", "Hi, my name is John Smith, I need to change my phone number."),
            T("agent", "Of course. What is the new number?"),
            T("customer", "It is 0 6 4 7 8 3 2 9 1 5."),
            T("agent", "One moment please, I will put you on hold."),
            T("agent", "Thank you for waiting, it is done. Is there anything else?", gap=4.0),
            T("customer", "No, that is all, thank you very much."),
            T("agent", "You are welcome, goodbye."),
        ),
    ),
    (
        "en",
        (
            T("agent", "Hello, this is David, how can I help you?"),
            T("customer", "I lost my luggage at the airport and my flight was cancelled"),
            T("agent", "That must be very stressful, I am sorry.", at=None, gap=0.2),
            T(
                "customer",
                "My email is john dot smith at gmail dot com, please send me the claim form.",
            ),
            T("agent", "I will send it right away. Goodbye and take care."),
        ),
    ),
    (
        "fr",
        (
            T("agent", "Bonjour, Julie à votre écoute, que puis-je faire pour vous ?"),
            T("customer", "Bonjour, ma voiture est en panne sur l'autoroute."),
            T("agent", "Je comprends, nous allons envoyer une dépanneuse. Au revoir."),
        ),
    ),
)
TEAMS = {
    "Niort-1": ("A101", "A102", "A103"),
    "Niort-2": ("A201", "A202"),
    "Lyon-1": ("A301", "A302"),
}
DEMO_USERS = {
    "manager": "quality_manager",
    "trainer": "trainer",
    "analyst": "data_scientist",
    "dpo": "dpo",
}
DEMO_PASSWORD = "callqa-demo-orchard-7"


DEMO_MARKER = ".callqa-demo"


def is_demo_workspace(settings: Settings) -> bool:
    return (settings.home / DEMO_MARKER).is_file()


def claim_workspace(settings: Settings) -> None:
    """Make sure the demo may write into ``settings.home``; mark a new one as the demo's.

    Call before anything opens the workspace (opening creates the database).

    Raises:
        UsageError: the folder holds something the demo did not create (a real
            workspace: its users would get demo accounts with a published password).
    """
    home = settings.home
    if is_demo_workspace(settings):
        return
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise UsageError(
            f"{home}: not a demo workspace; callqa demo only writes into a new (missing or "
            "empty) folder or one it created, because it adds users with a published "
            "password. Give another one: callqa --home NEW_FOLDER demo"
        )
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(home / DEMO_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another demo run claimed it a moment ago
    with os.fdopen(fd, "w") as handle:
        handle.write("This workspace was created by `callqa demo`: its users are demo users.\n")


def build_corpus(folder: Path, n_calls: int, now: datetime) -> Path:
    """Speak ``n_calls`` calls into ``folder`` and write their metadata CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    agents = [(team, agent) for team, members in TEAMS.items() for agent in members]
    rows = []
    for index in range(n_calls):
        language, turns = SCRIPTS[index % len(SCRIPTS)]
        team, agent = agents[index % len(agents)]
        name = f"demo-{index:03d}.wav"
        if not (folder / name).exists():
            layout: ChannelLayout = "agent_right" if index % 4 == 3 else "agent_left"
            # A different pace per call, so that every recording is distinct content.
            speed = 125 + 5 * (index % 7) + index // 7
            synthesize_call(
                turns,
                folder / name,
                layout=layout,
                language=language,
                sample_rate=16000,
                speed=speed,
            )
        started = now - timedelta(days=(index * 9) % 120, hours=index % 7)
        if index == 2:
            started = now - timedelta(days=200)  # past retention, but under a hold
        rows.append(
            {
                "recording": name,
                "call_id": f"demo-{index:03d}",
                "started_at": iso(started),
                "agent_id": agent,
                "team": team,
                "caller_id": f"+33 6 00 00 {index // 100:02d} {index % 100:02d}",
                "channel_layout": "agent_right" if index % 4 == 3 else "agent_left",
                "language": "",
                "objection": "true" if index == 5 else "false",
                "legal_hold": "true" if index == 2 else "false",
            }
        )
    # One call older than the retention period: ingest refuses it.
    if not (folder / "demo-old.wav").exists():
        synthesize_call(SCRIPTS[0][1], folder / "demo-old.wav", language="en", speed=160)
    old = dict(rows[0], call_id="demo-old", recording="demo-old.wav")
    rows.append(dict(old, started_at=iso(now - timedelta(days=400))))
    with (folder / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "metadata.csv"


def _ensure_users(store: Store, echo: Callable[[str], None]) -> None:
    existing = {user.name for user in auth.list_users(store)}
    for name, role in DEMO_USERS.items():
        if name not in existing:
            auth.add_user(store, name, role, DEMO_PASSWORD, actor="demo")
    echo(
        "demo users (password '"
        + DEMO_PASSWORD
        + "'): "
        + ", ".join(f"{n} ({r})" for n, r in DEMO_USERS.items())
    )


def run_demo(store: Store, *, n_calls: int = 12, echo: Callable[[str], None] = print) -> None:
    """Speak, ingest and process the demo corpus and add the demo users.

    Raises:
        UsageError: the store's workspace is not one :func:`claim_workspace` marked.
    """
    if not is_demo_workspace(store.settings):
        raise UsageError(
            f"{store.settings.home}: not a demo workspace (no {DEMO_MARKER}); "
            "the demo writes only into a workspace it created"
        )
    now = utcnow()
    corpus = store.settings.home / "demo-corpus"
    echo(f"speaking {n_calls} synthetic calls into {corpus} ...")
    metadata = build_corpus(corpus, n_calls, now)
    report = ingest(store, [], metadata, now=now, progress=True)
    echo("ingest: " + report.summary())
    for reject in report.rejects:
        echo(f"  rejected (as intended) {reject.describe()}")
    try:
        processed = process(store, now=now, progress=True)
    except CallqaError as exc:
        echo(f"process failed: {exc}")
        raise
    echo("process: " + processed.summary())
    _ensure_users(store, echo)
