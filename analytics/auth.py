"""Dashboard users, roles and what each role may open or do; sign-in policy.

Passwords are stored only as argon2id hashes (argon2-cffi) and must pass a policy
(at least 12 characters and a zxcvbn strength of 3 out of 4). Failed sign-ins are
throttled per user name and per client: a growing delay from the third failure,
then a lock with an audited event. Roles map to the pages they may open and the
actions they may take; the dashboard asks :func:`can` before rendering any page
or action, and re-reads the account (:func:`session_user`) on every page run.
The rows are read and written by :mod:`analytics.store.accounts` only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from analytics import audit
from analytics.errors import AuthError, NotFoundError, UsageError
from analytics.store import Store, accounts, iso, parse_iso, utcnow

log = logging.getLogger(__name__)

PAGES: tuple[str, ...] = (
    *("overview", "agents", "alerts", "call_review", "governance"),
    # conversation insights: search across redacted transcripts, the category editor
    *("search", "categories", "drivers"),
    # evaluations (analytics.evaluations)
    *("find_calls", "my_evaluations", "disputes", "calibration", "coaching"),
)
# What a role may do on the pages it opens, beyond reading their aggregates.
ACTIONS: tuple[str, ...] = (
    "single_calls",  # rows of single calls: an agent's call list, alerts, a call's review
    "play_audio",  # the redacted audio of a call
    "review_alert",  # close an abuse alert with a comment
    "export_evidence",  # the evidence pack of a held call (holds the original recording)
    "evaluate",  # confirm or override an automatic answer, answer a manual question
    "resolve_dispute",  # uphold or revise a disputed evaluation
    "calibrate",  # set up a calibration session and read its report
    "coach",  # write coaching notes
    "own_calls_only",  # an agent: only the calls and evaluations of their agent_id
)
PERMISSIONS: dict[str, frozenset[str]] = {
    # Steers the quality programme (disputes, calibration, categories): all but governance.
    "quality_manager": frozenset(
        {"overview", "agents", "alerts", "call_review", "single_calls", "play_audio"}
        | {"review_alert", "search", "categories", "drivers"}
        | {"find_calls", "disputes", "calibration", "coaching"}
        | {"evaluate", "resolve_dispute", "calibrate", "coach"}
    ),
    # Coaches agents on single calls: evaluates them, reads alerts but does not close them.
    "trainer": frozenset(
        {"alerts", "call_review", "single_calls", "play_audio", "search"}
        | {"find_calls", "calibration", "coaching", "evaluate", "coach"}
    ),
    # Their own calls, evaluations and coaching notes, nothing else.
    "agent": frozenset({"find_calls", "my_evaluations", "coaching", "own_calls_only"}),
    # Aggregates only: no single call, no transcript, no audio. Data scientists work on
    # the redacted dataset through the notebook API (analytics.load_calls).
    "data_scientist": frozenset({"overview", "agents"}),
    # Oversees the processing: governance, and the overview to see its scale; exports
    # the evidence pack of a call under the holds the DPO sets and lifts.
    "dpo": frozenset({"governance", "overview", "export_evidence"}),
}
ROLES: tuple[str, ...] = tuple(PERMISSIONS)
REVIEWERS: frozenset[str] = frozenset(r for r, may in PERMISSIONS.items() if "review_alert" in may)
EVIDENCE_EXPORTERS: frozenset[str] = frozenset(
    r for r, may in PERMISSIONS.items() if "export_evidence" in may
)
# A role without single_calls sees an agent in a league table only with this many calls.
MIN_GROUP_CALLS = 5

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MIN_STRENGTH = 3  # zxcvbn's score, 0 (guessed at once) to 4 (very unguessable)
# Throttling: from the DELAY_FROM-th failure, each attempt waits 2**(n - DELAY_FROM) s
# (at most MAX_DELAY_S) after the last failure; LOCK_AFTER failures lock for LOCK_S.
# A client (one address) gets more room, as colleagues may share a proxy or a NAT.
DELAY_FROM = {"user": 3, "client": 10}
MAX_DELAY_S = 60
LOCK_AFTER = {"user": 10, "client": 30}
LOCK_S = 15 * 60
# Failures older than this are forgotten: the counter starts again.
FORGET_AFTER_S = 60 * 60
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# A fixed hash to verify against when the user does not exist, so that a wrong
# name costs the same time as a wrong password (no user enumeration by timing).
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("callqa-no-such-user")


class SignInThrottled(AuthError):
    """Too many failed sign-ins for this user or from this client: wait, or locked."""

    def __init__(self, message: str, wait_s: int) -> None:
        super().__init__(message, wait_s=wait_s)
        self.wait_s = wait_s


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str
    # A fingerprint of the password hash when signed in: a changed password changes
    # it, which ends every session opened with the old one (see session_user).
    credential: str = field(default="", repr=False, compare=False)
    agent_id: str | None = None  # role agent: whose calls they see


def can(role: str, what: str) -> bool:
    """Whether ``role`` may open page ``what`` (:data:`PAGES`) or do it (:data:`ACTIONS`)."""
    return what in PERMISSIONS.get(role, frozenset())


def can_review(role: str) -> bool:
    """Whether ``role`` may mark an abuse alert reviewed."""
    return can(role, "review_alert")


def can_export_evidence(role: str) -> bool:
    """Whether ``role`` may export the evidence pack of a call under a litigation hold."""
    return can(role, "export_evidence")


def allowed_pages(role: str) -> list[str]:
    return [page for page in PAGES if can(role, page)]


# --- passwords ---------------------------------------------------------------------


def password_problem(password: str, *, name: str = "") -> str | None:
    """Why ``password`` is refused, or None when it passes the policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    # zxcvbn's cost grows with the length; what lies past 100 characters adds nothing.
    verdict = zxcvbn(password[:100], user_inputs=[name, "callqa"] if name else ["callqa"])
    if verdict["score"] < MIN_STRENGTH:
        feedback = verdict["feedback"]
        hint = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
        return (
            f"the password is too easy to guess (strength {verdict['score']} of 4, "
            f"{MIN_STRENGTH} needed)" + (f": {hint}" if hint else "")
        )
    return None


def check_password(name: str, password: str) -> None:
    """Raises: UsageError naming the reason when ``password`` fails the policy."""
    problem = password_problem(password, name=name)
    if problem:
        raise UsageError(f"user {name}: {problem}")


def _check_new_user(name: str, role: str, password: str, agent_id: str | None) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(f"user {name!r}: a name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in PERMISSIONS:
        raise UsageError(f"user {name}: unknown role {role!r} (one of {', '.join(ROLES)})")
    if role == "agent" and not (agent_id or "").strip():
        raise UsageError(f"user {name}: the role agent needs --agent-id (whose calls they see)")
    if role != "agent" and agent_id:
        raise UsageError(f"user {name}: only the role agent takes an agent id")
    check_password(name, password)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


# --- accounts ----------------------------------------------------------------------


def add_user(
    store: Store,
    name: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
    agent_id: str | None = None,
) -> User:
    """Create a user, or replace the role and password of an existing one.

    An ``agent`` is mapped to the ``agent_id`` of their calls.

    Raises:
        UsageError: bad name, unknown role, a missing or needless agent id, or a
            password the policy refuses.
    """
    agent_id = agent_id.strip() if agent_id else None
    _check_new_user(name, role, password, agent_id)
    at = iso(now or utcnow())
    password_hash = _HASHER.hash(password)
    with store.write() as conn:
        created_at = accounts.created_at(conn, name)
        if created_at:
            accounts.update_user(conn, name, role=role, password_hash=password_hash)
            accounts.clear_failures(conn, "user", name)
        else:
            accounts.insert_user(conn, name, role, password_hash, at)
        accounts.set_agent_id(conn, name, agent_id)
        audit.record(
            conn,
            actor,
            "user_add",
            detail={"user": name, "role": role, "replaced": bool(created_at)},
            now=now,
        )
    log.info("user %s saved with role %s", name, role)
    return User(name=name, role=role, created_at=created_at or at, agent_id=agent_id)


def set_password(
    store: Store, name: str, password: str, *, actor: str = "cli", now: datetime | None = None
) -> None:
    """Change a user's password: every open session of theirs ends; a lock is lifted.

    Raises:
        NotFoundError: no such user.
        UsageError: the password fails the policy.
    """
    check_password(name, password)
    password_hash = _HASHER.hash(password)
    with store.write() as conn:
        if not accounts.update_user(conn, name, password_hash=password_hash):
            raise NotFoundError(f"user {name}: no such user")
        accounts.clear_failures(conn, "user", name)
        audit.record(conn, actor, "user_passwd", detail={"user": name}, now=now)
    log.info("user %s: password changed", name)


def remove_user(
    store: Store, name: str, *, actor: str = "cli", now: datetime | None = None
) -> None:
    """Delete a user; their open sessions end at their next page run.

    Raises:
        NotFoundError: no such user.
    """
    with store.write() as conn:
        if not accounts.delete_user(conn, name):
            raise NotFoundError(f"user {name}: no such user")
        audit.record(conn, actor, "user_remove", detail={"user": name}, now=now)
    log.info("user %s removed", name)


def list_users(store: Store) -> list[User]:
    return [
        User(
            name=row["name"],
            role=row["role"],
            created_at=row["created_at"],
            agent_id=row.get("agent_id"),
        )
        for row in accounts.user_rows(store)
    ]


def session_user(store: Store, user: User) -> User | None:
    """The account behind an open session as it is now, or None when it must end.

    Called on every page run: a removed user, or one whose password changed since
    they signed in, gets None; a changed role applies at once.
    """
    row = accounts.user_row(store, user.name)
    if row is None or _fingerprint(row["password_hash"]) != user.credential:
        return None
    return User(
        row["name"],
        row["role"],
        row["created_at"],
        credential=user.credential,
        agent_id=row.get("agent_id"),
    )


# --- signing in --------------------------------------------------------------------


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user when the password matches, else None (nothing is audited here)."""
    row = accounts.user_row(store, name)
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        stored_new = _HASHER.hash(password)
        accounts.rehash(store, name, stored, stored_new)
        stored = stored_new
    return User(
        row["name"],
        row["role"],
        row["created_at"],
        credential=_fingerprint(stored),
        agent_id=row.get("agent_id"),
    )


def client_key(store: Store, client: str | None) -> str | None:
    """The stored form of a client's address: a keyed hash, never the address."""
    if not client:
        return None
    return hmac.new(store.key, b"signin-client:" + client.encode(), hashlib.sha256).hexdigest()


def _delay_s(scope: str, failures: int) -> int:
    if failures < DELAY_FROM[scope]:
        return 0
    return int(min(2 ** (failures - DELAY_FROM[scope]), MAX_DELAY_S))


def _current(state: accounts.Failures | None, at: datetime) -> accounts.Failures | None:
    """The failures that still count at ``at`` (old ones and expired locks are forgotten)."""
    if state is None:
        return None
    if state.locked_until:
        return None if parse_iso(state.locked_until) <= at else state
    if (at - parse_iso(state.last_failed_at)).total_seconds() > FORGET_AFTER_S:
        return None
    return state


def _wait_s(scope: str, state: accounts.Failures | None, at: datetime) -> int:
    if state is None:
        return 0
    if state.locked_until:
        return max(1, int((parse_iso(state.locked_until) - at).total_seconds()))
    until = parse_iso(state.last_failed_at) + timedelta(seconds=_delay_s(scope, state.failures))
    return max(0, int((until - at).total_seconds() + 0.999))


def _throttle_message(wait_s: int, locked: bool) -> str:
    if locked:
        return (
            "sign-in locked after too many failed attempts: try again in "
            f"{max(1, round(wait_s / 60))} min, or ask an administrator"
        )
    return f"too many failed sign-ins: wait {wait_s} s before trying again"


def _scopes(store: Store, name: str, client: str | None) -> list[tuple[str, str]]:
    scopes = [("user", name)]
    key = client_key(store, client)
    if key:
        scopes.append(("client", key))
    return scopes


def _check_throttle(store: Store, scopes: list[tuple[str, str]], at: datetime) -> None:
    with store.read() as conn:
        states = [_current(accounts.failures(conn, *scope), at) for scope in scopes]
    waits = [
        (_wait_s(scope, state, at), bool(state and state.locked_until))
        for (scope, _), state in zip(scopes, states, strict=True)
    ]
    wait_s, locked = max(waits)
    if wait_s > 0:
        raise SignInThrottled(_throttle_message(wait_s, locked), wait_s)


def _record_failure(
    store: Store, name: str, known: bool, scopes: list[tuple[str, str]], at: datetime
) -> None:
    """Count the failure under every scope, lock a scope that reached its limit, audit."""
    actor = name if known else "anonymous"
    with store.write() as conn:
        audit.record(
            conn,
            actor,
            "login_failed",
            detail={"reason": "wrong password" if known else "unknown user"},
            now=at,
        )
        for scope, key in scopes:
            before = _current(accounts.failures(conn, scope, key), at)
            count = (before.failures if before else 0) + 1
            locked_until = None
            if count >= LOCK_AFTER[scope]:
                locked_until = iso(at + timedelta(seconds=LOCK_S))
                audit.record(
                    conn,
                    actor if scope == "user" else "anonymous",
                    "login_locked",
                    detail={"scope": scope, "failures": count, "minutes": LOCK_S // 60},
                    now=at,
                )
                log.warning("sign-in locked (%s) after %s failures", scope, count)
            accounts.save_failures(
                conn, scope, key, accounts.Failures(count, iso(at), locked_until)
            )


def login(
    store: Store,
    name: str,
    password: str,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> User:
    """Authenticate under the throttle and audit the attempt either way.

    Args:
        store: the workspace.
        name: the user name typed.
        password: the password typed.
        client: the client's address (the dashboard's browser connection), if known.
        now: the time of the attempt.

    Raises:
        SignInThrottled: too many failures for this name or client (the password
            is not even checked).
        AuthError: unknown user or wrong password (the message says neither which).
    """
    at = now or utcnow()
    scopes = _scopes(store, name, client)
    _check_throttle(store, scopes, at)
    user = authenticate(store, name, password)
    if user is None:
        # An unknown name may be a password typed in the wrong field: audit it
        # under the name only when it names a real account.
        known = accounts.user_row(store, name) is not None
        _record_failure(store, name, known, scopes, at)
        raise AuthError("login failed: unknown user or wrong password")
    with store.write() as conn:
        # The user's counter restarts; the client's does not (one's own account must
        # not reset the count of guesses at others').
        accounts.clear_failures(conn, "user", name)
        audit.record(conn, user.name, "login", detail={"role": user.role}, now=at)
    return user
