"""Dashboard users, roles and page permissions.

Passwords are stored only as argon2id hashes (argon2-cffi). Roles map to the
pages they may open; the dashboard asks :func:`can` before rendering any page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import insert, select, update

from analytics import audit
from analytics.errors import AuthError, UsageError
from analytics.store import Store, iso, utcnow
from analytics.store.schema import users

log = logging.getLogger(__name__)

PAGES: tuple[str, ...] = ("overview", "agents", "alerts", "call_review", "governance")
PERMISSIONS: dict[str, frozenset[str]] = {
    # Steers the whole quality programme: everything but governance.
    "quality_manager": frozenset({"overview", "agents", "alerts", "call_review"}),
    # Coaches agents on single calls; reads alerts but does not close them.
    "trainer": frozenset({"alerts", "call_review"}),
    # Aggregates only: no single call, no transcript.
    "data_scientist": frozenset({"overview", "agents"}),
    # Oversees the processing: governance, and the overview to see its scale.
    "dpo": frozenset({"governance", "overview"}),
}
ROLES: tuple[str, ...] = tuple(PERMISSIONS)
# Actions beyond opening a page: who may close an abuse alert with a comment.
REVIEWERS: frozenset[str] = frozenset({"quality_manager"})
# Who may export the evidence pack of a held call (it holds the original, unredacted
# recording): the DPO, who already sets and lifts the holds.
EVIDENCE_EXPORTERS: frozenset[str] = frozenset({"dpo"})
MIN_PASSWORD_LENGTH = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# A fixed hash to verify against when the user does not exist, so that a wrong
# name costs the same time as a wrong password (no user enumeration by timing).
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("callqa-no-such-user")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str


def can(role: str, page: str) -> bool:
    """Whether ``role`` may open ``page`` (one of :data:`PAGES`)."""
    return page in PERMISSIONS.get(role, frozenset())


def can_review(role: str) -> bool:
    """Whether ``role`` may mark an abuse alert reviewed."""
    return role in REVIEWERS


def can_export_evidence(role: str) -> bool:
    """Whether ``role`` may export the evidence pack of a call under a litigation hold."""
    return role in EVIDENCE_EXPORTERS


def allowed_pages(role: str) -> list[str]:
    return [page for page in PAGES if can(role, page)]


def _check_new_user(name: str, role: str, password: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsageError(f"user {name!r}: a name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in PERMISSIONS:
        raise UsageError(f"user {name}: unknown role {role!r} (one of {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(
            f"user {name}: the password must have at least {MIN_PASSWORD_LENGTH} characters"
        )


def add_user(
    store: Store,
    name: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
) -> User:
    """Create a user, or replace the role and password of an existing one.

    Raises:
        UsageError: bad name, unknown role or too short a password.
    """
    _check_new_user(name, role, password)
    at = iso(now or utcnow())
    password_hash = _HASHER.hash(password)
    with store.write() as conn:
        existing = conn.execute(select(users.c.created_at).where(users.c.name == name)).first()
        if existing:
            conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(role=role, password_hash=password_hash)
            )
            created_at = existing[0]
        else:
            conn.execute(
                insert(users).values(
                    name=name, role=role, password_hash=password_hash, created_at=at
                )
            )
            created_at = at
        audit.record(
            conn,
            actor,
            "user_add",
            detail={"user": name, "role": role, "replaced": bool(existing)},
            now=now,
        )
    log.info("user %s saved with role %s", name, role)
    return User(name=name, role=role, created_at=created_at)


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The user when the password matches, else None (nothing is audited here)."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        with store.write() as conn:
            conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(password_hash=_HASHER.hash(password))
            )
    return User(name=row["name"], role=row["role"], created_at=row["created_at"])


def login(store: Store, name: str, password: str, *, now: datetime | None = None) -> User:
    """Authenticate and audit the attempt either way.

    Raises:
        AuthError: unknown user or wrong password (the message says neither which).
    """
    user = authenticate(store, name, password)
    if user is None:
        # An unknown name may be a password typed in the wrong field: audit it
        # only when it names a real account (a wrong password for that account).
        known = name in {u.name for u in list_users(store)}
        audit.log_event(
            store,
            name if known else "anonymous",
            "login_failed",
            detail={"reason": "wrong password" if known else "unknown user"},
            now=now,
        )
        raise AuthError("login failed: unknown user or wrong password")
    audit.log_event(store, user.name, "login", detail={"role": user.role}, now=now)
    return user


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        rows = conn.execute(
            select(users.c.name, users.c.role, users.c.created_at).order_by(users.c.name)
        ).all()
    return [User(name=name, role=role, created_at=created) for name, role, created in rows]
