"""A small workspace for the dashboard tests: visible calls, alerts, redacted audio,
users of every role, and calls that must never be shown (objected, expired) carrying
planted personal-looking values.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from factories import NOW, add_call
from sqlalchemy import update

from analytics import auth
from analytics.audio import encode
from analytics.config import Settings, load_settings
from analytics.evaluations import automatic, workflow
from analytics.store import Store, rights, rollups
from analytics.store import evaluations as evaluation_rows
from analytics.store.schema import calls
from analytics.workspace import hash_caller

REPO = Path(__file__).resolve().parents[1]
# The dashboard package is not installed with `analytics`: import it from the repo.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PASSWORDS = {
    "quality_manager": "qm-password-1",
    "trainer": "trainer-password-1",
    "data_scientist": "ds-password-1",
    "dpo": "dpo-password-1",
    "agent": "agent-password-1",
}
# The agent user sees the calls of this agent id only.
AGENT_ID = "A100"
USERS = {role: f"{role.replace('_', '-')}-user" for role in PASSWORDS}

# What each role may open (pages) and do (actions): the README's role table as data.
# The tests check the code against it (tests/test_auth.py) and every cell in the
# running dashboard (tests/test_dashboard.py). A new role (an `agent` role, say) is
# one more row here.
ROLE_MATRIX: dict[str, frozenset[str]] = {
    "quality_manager": frozenset(
        {"overview", "agents", "alerts", "call_review", "single_calls", "play_audio"}
        | {"review_alert"}
        | {"search", "categories"}
    ),
    "trainer": frozenset({"alerts", "call_review", "single_calls", "play_audio"} | {"search"}),
    "data_scientist": frozenset({"overview", "agents"}),  # aggregates only
    "dpo": frozenset({"governance", "overview", "export_evidence"}),
}
# Evaluations (issue 14).
ROLE_MATRIX["quality_manager"] |= {
    "find_calls", "disputes", "calibration", "coaching",
    "evaluate", "resolve_dispute", "calibrate", "coach",
}  # fmt: skip
ROLE_MATRIX["trainer"] |= {"find_calls", "calibration", "coaching", "evaluate", "coach"}
ROLE_MATRIX["agent"] = frozenset({"find_calls", "my_evaluations", "coaching", "own_calls_only"})
# Call drivers page (issue 17).
ROLE_MATRIX["quality_manager"] |= {"drivers"}

# Values that look like personal data and sit only in calls nobody may see.
PLANTED = (
    "Zoé Planquée",
    "06 99 88 77 66",
    "planted.secret@example.org",
    "AGENT-OBJ-LEAK",
    "Team-Leak",
    "FR76 3000 6000 0112 3456 7890 189",
    "Rue du Secret",
)
HIDDEN_CALLER = "+33 6 11 22 33 44"
AUDIO_CALL = "c-audio"
FLAGGED_CUSTOMER = "c-abuse-customer"
FLAGGED_AGENT = "c-abuse-agent"
HELD_OLD = "c-held-old"
HIDDEN_CALLS = ("x-objected-call", "x-objected-caller", "x-expired")
PLACEHOLDER_TEXT = "bonjour <PERSON> à votre écoute, votre contrat <CONTRACT_ID>"


@dataclass(frozen=True)
class Workspace:
    settings: Settings
    visible: tuple[str, ...]
    hidden: tuple[str, ...]


def _planted_texts() -> tuple[tuple[str, str], ...]:
    return (
        ("agent", f"bonjour {PLANTED[0]} votre numéro {PLANTED[1]}"),
        ("customer", f"mon mail {PLANTED[2]} et mon IBAN {PLANTED[5]}"),
        ("agent", f"j'habite {PLANTED[6]}"),
    )


def build_workspace(home: Path) -> Workspace:
    """Fill ``home`` and return what is in it; users are added for every role."""
    settings = load_settings(home=home, env={})
    store = Store.open(settings)
    visible: list[str] = []
    for i in range(12):
        call_id = f"c{i:02d}"
        add_call(
            store,
            call_id,
            started_at=NOW - timedelta(days=2 + i * 5),
            agent_id=f"A10{i % 4}",
            team=("Niort-1", "Lyon-2")[i % 2],
            score=55 + 3 * i,
            language="fr" if i % 3 else "en",
            texts=(
                ("agent", PLACEHOLDER_TEXT),
                ("customer", "ma voiture est en panne à <LOCATION>"),
                ("agent", "je comprends, une dépanneuse arrive, au revoir"),
            ),
        )
        visible.append(call_id)
    add_call(
        store,
        FLAGGED_CUSTOMER,
        started_at=NOW - timedelta(days=1),
        agent_id="A100",
        team="Niort-1",
        abuse_severity="high",
        score=40,
        texts=(
            ("agent", "bonjour <PERSON> à votre écoute"),
            ("customer", "espèce d'incapable, je vais venir vous chercher"),
            ("agent", "je vous demande de rester courtois"),
        ),
    )
    add_call(
        store,
        FLAGGED_AGENT,
        started_at=NOW - timedelta(days=3),
        agent_id="A101",
        team="Lyon-2",
        abuse_severity="low",
        score=50,
    )
    add_call(
        store, AUDIO_CALL, started_at=NOW - timedelta(hours=5), agent_id="A102", team="Niort-1"
    )
    add_call(
        store,
        HELD_OLD,
        started_at=NOW - timedelta(days=250),
        agent_id="A103",
        team="Lyon-2",
        legal_hold=True,
    )
    visible += [FLAGGED_CUSTOMER, FLAGGED_AGENT, AUDIO_CALL, HELD_OLD]
    _add_redacted_audio(store, AUDIO_CALL)
    _add_hidden_calls(store)
    for role, password in PASSWORDS.items():
        agent_id = AGENT_ID if role == "agent" else None
        auth.add_user(store, USERS[role], role, password, actor="test", now=NOW, agent_id=agent_id)
    # The phrase evidence processing keeps: the greeting of the call with audio.
    with store.write() as conn:
        evaluation_rows.save_call_evidence(conn, AUDIO_CALL, {"greeting": [0]})
    # Every visible call evaluated under the default form, as processing does.
    automatic.rescore(store, "default", actor="test", now=NOW)
    # ... and one of the agent's evaluations disputed: the managers' queue has an entry.
    disputed = workflow.call_evaluation(store, FLAGGED_CUSTOMER, now=NOW)
    assert disputed is not None
    workflow.dispute(
        store, disputed.evaluation_id, "I stayed polite", user=USERS["agent"], agent_id=AGENT_ID,
        now=NOW,
    )  # fmt: skip
    _set_durations(store)
    store.close()
    return Workspace(settings=settings, visible=tuple(visible), hidden=HIDDEN_CALLS)


def copy_workspace(built: Path, home: Path) -> Path:
    """A copy of a workspace ``build_workspace`` filled: the same files, modes, key and database.

    Building one hashes a password for every role and evaluates every call (seconds); a
    test that writes needs a workspace of its own, and a copy is that same workspace.
    """
    shutil.copytree(built, home, symlinks=True)
    return home


def _add_redacted_audio(store: Store, call_id: str) -> None:
    """A short tone stands in for the bleeped audio of the call."""
    rate = 16_000
    t = np.arange(rate * 2) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    path = store.settings.redacted_audio_dir / f"{call_id}.ogg"
    encode(samples, path, rate)
    with store.write() as conn:
        conn.execute(
            update(calls)
            .where(calls.c.call_id == call_id)
            .values(redacted_audio_path=str(path.relative_to(store.settings.home)))
        )


def _add_hidden_calls(store: Store) -> None:
    """Processed calls whose derived data is still there, but which no reader may see.

    The objection rows are written directly (as if an objection raced the
    processing), so only the governed predicate stands between them and a page.
    """
    objected_call, objected_caller, expired = HIDDEN_CALLS
    for call_id, started, caller in (
        (objected_call, NOW - timedelta(days=2), None),
        (objected_caller, NOW - timedelta(days=4), HIDDEN_CALLER),
        (expired, NOW - timedelta(days=300), None),
    ):
        add_call(
            store,
            call_id,
            started_at=started,
            agent_id=PLANTED[3],
            team=PLANTED[4],
            caller_id=caller,
            abuse_severity="high",
            score=99,
            texts=_planted_texts(),
        )
    # Through the store's own function (as a racing objection would be filed), without
    # the tombstoning governance does after it.
    with store.write() as conn:
        rights.add_objection(conn, objected_call, None, actor="test", now=NOW)
        rights.add_objection(
            conn, None, hash_caller(store.key, HIDDEN_CALLER), actor="test", now=NOW
        )


def _set_durations(store: Store) -> None:
    with store.write() as conn:
        conn.execute(update(calls).values(duration_s=12.0))
        rollups.rebuild(conn)  # a raw write: the summary rows follow it
