"""Users, roles, permissions and argon2 password hashing."""

from __future__ import annotations

import pytest
from factories import NOW
from sqlalchemy import select

from analytics import audit, auth
from analytics.errors import AuthError, UsageError
from analytics.store import Store
from analytics.store.schema import users


def test_password_is_stored_as_an_argon2id_hash_only(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", "correct horse battery", now=NOW)
    with store.read() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored


def test_authenticate_accepts_the_password_and_refuses_others(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", "correct horse battery", now=NOW)
    user = auth.authenticate(store, "marie", "correct horse battery")
    assert user == auth.User(name="marie", role="trainer", created_at="2026-11-25T12:00:00+00:00")
    assert auth.authenticate(store, "marie", "correct horse batterY") is None
    assert auth.authenticate(store, "nobody", "correct horse battery") is None
    assert auth.authenticate(store, "marie", "") is None


def test_add_user_again_replaces_role_and_password_and_is_audited(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", "first-password", now=NOW)
    auth.add_user(store, "marie", "quality_manager", "second-password", actor="admin", now=NOW)
    assert auth.authenticate(store, "marie", "first-password") is None
    user = auth.authenticate(store, "marie", "second-password")
    assert user is not None and user.role == "quality_manager"
    assert [u.name for u in auth.list_users(store)] == ["marie"]
    added = audit.entries(store, action="user_add")
    assert [(e["actor"], e["action"]) for e in added] == [
        ("admin", "user_add"),
        ("cli", "user_add"),
    ]
    assert "second-password" not in str(added) and "first-password" not in str(added)


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("marie", "admin", "long-enough-1", "unknown role"),
        ("marie", "trainer", "short", "at least 8"),
        ("", "trainer", "long-enough-1", "a name is"),
        ("ma rie", "trainer", "long-enough-1", "a name is"),
        ("x" * 65, "trainer", "long-enough-1", "a name is"),
    ],
)
def test_add_user_refuses_bad_input(
    store: Store, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        auth.add_user(store, name, role, password)
    assert auth.list_users(store) == []


def test_login_audits_success_and_failure_without_the_password(store: Store) -> None:
    auth.add_user(store, "marie", "dpo", "correct horse battery", now=NOW)
    assert auth.login(store, "marie", "correct horse battery", now=NOW).role == "dpo"
    with pytest.raises(AuthError, match="unknown user or wrong password"):
        auth.login(store, "marie", "wrong-password", now=NOW)
    with pytest.raises(AuthError):
        auth.login(store, "s3cret-typed-as-name", "whatever", now=NOW)
    rows = audit.entries(store)
    assert [(r["action"], r["actor"]) for r in rows[:3]] == [
        ("login_failed", "anonymous"),
        ("login_failed", "marie"),
        ("login", "marie"),
    ]
    text = str(rows)
    assert "wrong-password" not in text and "s3cret-typed-as-name" not in text
    assert audit.verify(store) == []


PERMISSION_TABLE = [
    ("quality_manager", {"overview", "agents", "alerts", "call_review"}),
    ("trainer", {"alerts", "call_review"}),
    ("data_scientist", {"overview", "agents"}),
    ("dpo", {"governance", "overview"}),
]


@pytest.mark.parametrize(("role", "pages"), PERMISSION_TABLE)
def test_page_permissions(role: str, pages: set[str]) -> None:
    assert {page for page in auth.PAGES if auth.can(role, page)} == pages
    assert auth.allowed_pages(role) == [p for p in auth.PAGES if p in pages]


def test_only_the_dpo_sees_governance_and_unknown_roles_see_nothing() -> None:
    assert [role for role in auth.ROLES if auth.can(role, "governance")] == ["dpo"]
    assert not any(auth.can("intruder", page) for page in auth.PAGES)
    assert set(auth.ROLES) == {"quality_manager", "trainer", "data_scientist", "dpo"}
    assert [r for r in auth.ROLES if auth.can_review(r)] == ["quality_manager"]
