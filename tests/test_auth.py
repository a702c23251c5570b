"""Users, roles, permissions, argon2 password hashing, the password policy,
sign-in throttling and locks, and accounts re-read for open sessions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dashboard_fixtures import ROLE_MATRIX
from factories import NOW
from sqlalchemy import select

from analytics import audit, auth
from analytics.cli import cli
from analytics.errors import AuthError, NotFoundError, UsageError
from analytics.store import Store
from analytics.store.schema import signin_failures, users

GOOD = "correct horse battery"


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
        ("marie", "trainer", "short", "at least 12"),
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


@pytest.mark.parametrize("role", ROLE_MATRIX)
@pytest.mark.parametrize("what", auth.PAGES + auth.ACTIONS)
def test_the_role_matrix(role: str, what: str) -> None:
    assert auth.can(role, what) == (what in ROLE_MATRIX[role])


def test_the_role_matrix_covers_every_role_and_the_readme_says_the_same() -> None:
    assert set(ROLE_MATRIX) == set(auth.ROLES)
    assert {k: set(v) for k, v in auth.PERMISSIONS.items()} == ROLE_MATRIX
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("| Role |") :].split("\n\n")[0]
    rows = {line.split("|")[1].strip("` "): line for line in table.splitlines()[2:]}
    assert set(rows) == set(auth.ROLES)
    columns = [c.strip() for c in table.splitlines()[0].split("|")[2:-1]]
    for role, line in rows.items():
        cells = [c.strip() for c in line.split("|")[2:-1]]
        for column, cell in zip(columns, cells, strict=True):
            key = README_COLUMNS[column]
            assert (cell == "yes") == auth.can(role, key), (role, column, cell)


README_COLUMNS = {
    "Overview": "overview",
    "Agents & teams": "agents",
    "Single calls": "single_calls",
    "Alerts": "alerts",
    "Call review": "call_review",
    "Redacted audio": "play_audio",
    "Close alerts": "review_alert",
    "Governance": "governance",
    "Evidence pack": "export_evidence",
    "Search": "search",
    "Categories": "categories",
    "Call drivers": "drivers",
    "Find calls": "find_calls",
    "My evaluations": "my_evaluations",
    "Disputes": "disputes",
    "Calibration": "calibration",
    "Coaching": "coaching",
    "Evaluate": "evaluate",
    "Resolve disputes": "resolve_dispute",
    "Run calibration": "calibrate",
    "Coach": "coach",
    "Own calls only": "own_calls_only",
}


def test_page_permissions_follow_the_matrix() -> None:
    for role, allowed in ROLE_MATRIX.items():
        assert auth.allowed_pages(role) == [p for p in auth.PAGES if p in allowed]


def test_only_the_dpo_sees_governance_and_unknown_roles_see_nothing() -> None:
    assert [role for role in auth.ROLES if auth.can(role, "governance")] == ["dpo"]
    assert not any(auth.can("intruder", page) for page in auth.PAGES)
    assert set(auth.ROLES) == {"quality_manager", "trainer", "agent", "data_scientist", "dpo"}
    assert [r for r in auth.ROLES if auth.can_review(r)] == ["quality_manager"]


# --- password policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "at least 12 characters"),
        ("aaaaaaaa", "at least 12 characters"),
        (" " * 8, "at least 12 characters"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("123456789012", "too easy to guess"),
        ("passwordpassword", "too easy to guess"),
        ("marie-marie-1", "too easy to guess"),  # the user's own name
        ("x" * 1025, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    store: Store, password: str, reason: str
) -> None:
    with pytest.raises(UsageError, match=reason):
        auth.add_user(store, "marie", "trainer", password, now=NOW)
    assert auth.list_users(store) == []
    auth.add_user(store, "marie", "trainer", GOOD, now=NOW)
    with pytest.raises(UsageError, match=reason):
        auth.set_password(store, "marie", password, now=NOW)
    assert auth.authenticate(store, "marie", GOOD) is not None


# --- throttling ------------------------------------------------------------------


def _fail(store: Store, name: str, at: object, client: str | None = None) -> Exception:
    with pytest.raises(AuthError) as caught:
        auth.login(store, name, "wrong-password", client=client, now=at)  # type: ignore[arg-type]
    return caught.value


def _fail_until_locked(
    store: Store, name: str, at: datetime, client: str | None = None
) -> tuple[datetime, list[int]]:
    """Wrong passwords, waiting out each delay, until the lock; returns (time, the waits)."""
    waits: list[int] = []
    for _ in range(200):
        try:
            auth.login(store, name, "wrong-password", client=client, now=at)
        except auth.SignInThrottled as exc:
            if "locked" in str(exc):
                return at, waits
            waits.append(exc.wait_s)
            at += timedelta(seconds=exc.wait_s)
        except AuthError:
            pass
    raise AssertionError("never locked")


def test_failed_sign_ins_grow_a_delay_then_lock_with_an_audited_event(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", GOOD, now=NOW)
    for _ in range(auth.DELAY_FROM["user"]):  # the first failures cost nothing
        assert not isinstance(_fail(store, "marie", NOW), auth.SignInThrottled)
    # Within the delay even the right password is refused, without being checked.
    with pytest.raises(auth.SignInThrottled, match="wait 1 s") as caught:
        auth.login(store, "marie", GOOD, now=NOW)
    assert caught.value.wait_s == 1
    at, waits = _fail_until_locked(store, "marie", NOW)
    # The delay doubled (1, 2, 4 ... s, at most 60) until the 10th failure locked the name.
    assert waits == [1, 2, 4, 8, 16, 32, 60]
    with pytest.raises(auth.SignInThrottled, match=r"locked.*15 min") as caught:
        auth.login(store, "marie", GOOD, now=at)
    assert caught.value.wait_s == auth.LOCK_S
    (locked,) = audit.entries(store, action="login_locked")
    assert locked["actor"] == "marie"
    assert json.loads(locked["detail"]) == {"scope": "user", "failures": 10, "minutes": 15}
    assert len(audit.entries(store, action="login_failed")) == 10
    # The lock ends after 15 minutes; then the right password works and resets the count.
    with pytest.raises(auth.SignInThrottled):
        auth.login(store, "marie", GOOD, now=at + timedelta(minutes=14))
    later = at + timedelta(seconds=auth.LOCK_S)
    assert auth.login(store, "marie", GOOD, now=later).name == "marie"
    assert not isinstance(_fail(store, "marie", later), auth.SignInThrottled)
    assert audit.verify(store) == []


def test_an_unknown_name_is_throttled_like_a_known_one(store: Store) -> None:
    for _ in range(auth.DELAY_FROM["user"]):
        _fail(store, "nobody", NOW)
    with pytest.raises(auth.SignInThrottled):
        auth.login(store, "nobody", GOOD, now=NOW)


def test_one_client_guessing_many_names_is_locked_and_others_are_not(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", GOOD, now=NOW)
    at, failures = NOW, 0
    while failures < auth.LOCK_AFTER["client"]:
        try:
            auth.login(store, f"guess{failures}", "x", client="203.0.113.7", now=at)
        except auth.SignInThrottled as exc:
            assert "locked" not in str(exc)
            at += timedelta(seconds=exc.wait_s)
        except AuthError:
            failures += 1
    with pytest.raises(auth.SignInThrottled, match="locked"):
        auth.login(store, "marie", GOOD, client="203.0.113.7", now=at)
    assert auth.login(store, "marie", GOOD, client="198.51.100.2", now=at).name == "marie"
    (locked,) = audit.entries(store, action="login_locked")
    assert json.loads(locked["detail"])["scope"] == "client"
    with store.read() as conn:
        keys = conn.execute(select(signin_failures.c.key)).scalars().all()
    assert "203.0.113.7" not in str(keys) and "203.0.113.7" not in str(audit.entries(store))


def test_a_new_password_lifts_the_lock(store: Store) -> None:
    auth.add_user(store, "marie", "trainer", GOOD, now=NOW)
    at, _ = _fail_until_locked(store, "marie", NOW)
    with pytest.raises(auth.SignInThrottled, match="locked"):
        auth.login(store, "marie", GOOD, now=at)
    auth.set_password(store, "marie", "another good passphrase", actor="admin", now=at)
    assert auth.login(store, "marie", "another good passphrase", now=at).name == "marie"


# --- sessions follow the account -------------------------------------------------------


def test_an_open_session_follows_role_changes_password_changes_and_removal(
    store: Store,
) -> None:
    auth.add_user(store, "marie", "quality_manager", GOOD, now=NOW)
    session = auth.login(store, "marie", GOOD, now=NOW)
    assert auth.session_user(store, session) == session
    auth.add_user(store, "marie", "trainer", GOOD, now=NOW)  # demoted (same password)
    session = auth.login(store, "marie", GOOD, now=NOW)
    other = session
    auth.add_user(store, "marie", "data_scientist", GOOD, now=NOW)
    # add_user replaces the hash too: the old session ends; a password change does too.
    assert auth.session_user(store, other) is None
    session = auth.login(store, "marie", GOOD, now=NOW)
    assert auth.session_user(store, session).role == "data_scientist"  # type: ignore[union-attr]
    auth.set_password(store, "marie", "another good passphrase", now=NOW)
    assert auth.session_user(store, session) is None
    session = auth.login(store, "marie", "another good passphrase", now=NOW)
    auth.remove_user(store, "marie", actor="admin", now=NOW)
    assert auth.session_user(store, session) is None
    assert auth.list_users(store) == []
    with pytest.raises(AuthError):
        auth.login(store, "marie", "another good passphrase", now=NOW)
    (removed,) = audit.entries(store, action="user_remove")
    assert (removed["actor"], json.loads(removed["detail"])) == ("admin", {"user": "marie"})
    assert [e["actor"] for e in audit.entries(store, action="user_passwd")] == ["cli"]


def test_role_change_with_the_same_hash_keeps_the_session_and_applies_the_role(
    store: Store,
) -> None:
    auth.add_user(store, "marie", "quality_manager", GOOD, now=NOW)
    session = auth.login(store, "marie", GOOD, now=NOW)
    with store.write() as conn:  # as `user add` would, were the hash kept
        conn.execute(users.update().values(role="trainer"))
    fresh = auth.session_user(store, session)
    assert fresh is not None and fresh.role == "trainer"


def test_removing_or_changing_an_unknown_user_is_an_error(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no such user"):
        auth.remove_user(store, "ghost")
    with pytest.raises(NotFoundError, match="no such user"):
        auth.set_password(store, "ghost", GOOD)


# --- the user commands -------------------------------------------------------------


def _cli(home: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin)
    return result.exit_code, result.output


def test_user_commands_add_list_passwd_remove(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    code, out = _cli(home, "user", "add", "marie", "--role", "trainer", "--password-stdin",
                     stdin="12345678\n")  # fmt: skip
    assert code == 2 and "at least 12 characters" in out
    code, out = _cli(home, "user", "add", "marie", "--role", "trainer", "--password-stdin",
                     stdin="aaaaaaaaaaaa\n")  # fmt: skip
    assert code == 2 and "too easy to guess" in out
    code, _ = _cli(home, "user", "add", "marie", "--role", "trainer", "--password-stdin",
                   stdin=GOOD + "\n")  # fmt: skip
    assert code == 0
    code, out = _cli(home, "user", "list")
    assert code == 0 and out.split("\t")[:2] == ["marie", "trainer"]
    code, out = _cli(home, "user", "passwd", "marie", "--password-stdin", stdin="eight   \n")
    assert code == 2 and "at least 12" in out
    code, out = _cli(home, "user", "passwd", "marie", "--password-stdin",
                     stdin="another good passphrase\n")  # fmt: skip
    assert code == 0 and "signed out" in out
    code, out = _cli(home, "user", "remove", "ghost")
    assert code != 0 and "no such user" in out
    code, out = _cli(home, "user", "remove", "marie")
    assert code == 0 and "removed" in out
    assert _cli(home, "user", "list") == (0, "")


def test_an_agent_is_mapped_to_an_agent_id(store: Store) -> None:
    password = "agent-password-long-1"
    with pytest.raises(UsageError, match="needs --agent-id"):
        auth.add_user(store, "ann", "agent", password, now=NOW)
    with pytest.raises(UsageError, match="only the role agent"):
        auth.add_user(store, "tom", "trainer", password, now=NOW, agent_id="A101")
    auth.add_user(store, "ann", "agent", password, now=NOW, agent_id=" A101 ")
    assert [(u.name, u.role, u.agent_id) for u in auth.list_users(store)] == [
        ("ann", "agent", "A101")
    ]
    user = auth.login(store, "ann", password, now=NOW)
    assert user.agent_id == "A101"
    assert auth.session_user(store, user) == user
    assert auth.allowed_pages("agent") == ["find_calls", "my_evaluations", "coaching"]
