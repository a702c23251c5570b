"""Tamper-evident audit log: who did what to which call, when — no personal data.

Each row is chained to the one before it by a keyed hash, HMAC-SHA256 with the
workspace's ``audit.key`` (a file outside the database), over its sequence number
(the row id), the previous row's hash, its time, actor, action, call reference and
detail. Whoever can write the database but not read the key cannot rewrite the
chain: a changed, removed, inserted or renumbered row is named by :func:`verify`,
as is a gap in the sequence numbers or a time earlier than the row before it.

What the chain cannot see alone is its own tail: dropping the newest rows leaves a
shorter valid chain. A signed checkpoint (:func:`write_checkpoint`: head sequence
number, head hash, time, HMAC) kept away from the workspace closes that gap:
``verify(store, checkpoint)`` fails when the chain no longer reaches the checkpoint's
head or reaches it with another hash. Whoever holds ``audit.key`` could rebuild the
chain after the last checkpoint, so checkpoints taken often and kept elsewhere are
what bound the damage.

Call ids: the chain covers ``call_ref``, a keyed hash of the call id, not the id
itself. The ``call_id`` column is a label for people; erasure may replace it with an
opaque id through :func:`relabel_call`, which signs the new label (``label_mac``)
without touching the chain. A label changed any other way is reported.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from analytics.errors import CallqaError, GovernanceError
from analytics.store import Connection, Store, audit_log, iso, utcnow

GENESIS = "0" * 64
CHAIN_VERSION = 1  # the ``chain`` column: NULL for rows of the unkeyed chain of old releases
CHECKPOINT_FORMAT = "callqa-audit-checkpoint/1"
ACTIONS = frozenset(
    {
        "view_call",
        "play_audio",
        "export",
        "purge",
        "object",
        "hold",
        "release",
        "subject_access",
        "subject_erase",
        "rectify",
        "review_abuse",
        "login",
        "login_failed",
        "user_add",
        "user_passwd",
        "user_remove",
        "login_locked",
        "process",
        "ingest",
        "access_denied",
        "evidence_export",
        "audit_rekey",
        "audit_checkpoint",
        # conversation insights (categories, search)
        "category_define",
        "category_remove",
        "categorize",
        "search",
        "drivers",  # the call drivers page was read (topics over the filter's calls)
        # evaluations (analytics.evaluations)
        "form_import",
        "rescore",
        "evaluation_answer",
        "evaluation_acknowledge",
        "evaluation_dispute",
        "dispute_resolve",
        "mark_private",
        "coaching_note",
        "calibration_create",
        "calibration_answer",
        # agent voiceprints (analytics.voiceprint): a call's agent voice stored or used
        "voiceprint",
        "voiceprint_delete",
    }
)


@dataclass(frozen=True)
class AuditProblem:
    row_id: int
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, signed with the audit key."""

    seq: int
    head_hash: str
    taken_at: str
    key_id: str

    def body(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "taken_at": self.taken_at,
            "key_id": self.key_id,
        }


# --- hashes ---------------------------------------------------------------------------


def _hmac(key: bytes, payload: Any) -> str:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def call_ref(key: bytes, call_id: str | None) -> str | None:
    """The keyed hash of a call id that the chain covers (None for no call)."""
    if call_id is None:
        return None
    return _hmac(key, ["call", call_id])


def key_id(key: bytes) -> str:
    """Names a key without revealing it (a checkpoint says which key signed it)."""
    return hashlib.sha256(b"callqa-audit-key-id:" + key).hexdigest()[:16]


def _mac(
    key: bytes,
    seq: int,
    prev_hash: str,
    at: str,
    actor: str,
    action: str,
    ref: str | None,
    detail: str,
) -> str:
    return _hmac(key, ["row", seq, prev_hash, at, actor, action, ref, detail])


def _label_mac(key: bytes, seq: int, ref: str | None, label: str) -> str:
    return _hmac(key, ["label", seq, ref, label])


def _legacy_digest(
    prev_hash: str, at: str, actor: str, action: str, call_id: str | None, detail: str
) -> str:
    """The unkeyed SHA-256 chain of old releases, checked once before re-keying."""
    payload = json.dumps([prev_hash, at, actor, action, call_id, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _store_of(conn: Connection) -> Store:
    store = conn.info.get("callqa.store")
    if store is None or not conn.get_execution_options().get("immediate", False):
        # The head must be read inside a BEGIN IMMEDIATE transaction: two writers that
        # read the same head would fork the chain.
        raise RuntimeError("audit rows are written inside Store.write() only")
    return store  # type: ignore[no-any-return]


# --- writing --------------------------------------------------------------------------


def _append(
    conn: Connection,
    key: bytes,
    head: Any,
    actor: str,
    action: str,
    call_id: str | None,
    detail: Mapping[str, Any] | None,
    now: datetime,
) -> Any:
    seq = head.id + 1 if head else 1
    prev_hash = head.hash if head else GENESIS
    # Time never goes backwards in the chain: an operation that took its time before
    # a concurrent one committed is dated no earlier than the row before it.
    at = max(iso(now), head.at) if head else iso(now)
    detail_text = json.dumps(dict(detail or {}), sort_keys=True, ensure_ascii=False)
    ref = call_ref(key, call_id)
    digest = _mac(key, seq, prev_hash, at, actor, action, ref, detail_text)
    audit_log.append(
        conn,
        id=seq,
        at=at,
        actor=actor,
        action=action,
        call_id=call_id,
        call_ref=ref,
        detail=detail_text,
        prev_hash=prev_hash,
        hash=digest,
        chain=CHAIN_VERSION,
    )
    return audit_log.head(conn)


def record(
    conn: Connection,
    actor: str,
    action: str,
    call_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry inside the caller's write transaction (:meth:`Store.write`).

    ``detail`` must hold counts, formats, roles — never personal data. The first
    write after an upgrade from the unkeyed chain re-keys the existing rows first.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    store = _store_of(conn)
    now = now or utcnow()
    head = audit_log.head(conn)
    if head is not None and head.chain is None:
        head = _rekey(conn, store.audit_key, now)
    _append(conn, store.audit_key, head, actor, action, call_id, detail, now)


def log_event(
    store: Store,
    actor: str,
    action: str,
    call_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry in its own transaction."""
    with store.write() as conn:
        record(conn, actor, action, call_id, detail, now=now)


def relabel_call(conn: Connection, call_id: str, label: str | None) -> int:
    """Show ``label`` (an opaque id, or None) instead of ``call_id`` in the audit rows.

    For erasure: the chain keeps covering the call's keyed reference, so it still
    verifies; the new label is signed so that verify tells it from a forgery.
    Returns the number of rows relabelled.
    """
    key = _store_of(conn).audit_key
    ref = call_ref(key, call_id)
    rows = audit_log.ids_of_ref(conn, ref)
    for seq in rows:
        mac = _label_mac(key, seq, ref, label) if label is not None else None
        audit_log.set_label(conn, seq, label, mac)
    return len(rows)


# --- re-keying an old chain -------------------------------------------------------------


def _legacy_problems(rows: Sequence[Any]) -> list[int]:
    """Ids of the rows where the old unkeyed chain was already broken."""
    broken = []
    expected_prev, previous_id = GENESIS, 0
    for row in rows:
        digest = _legacy_digest(
            row.prev_hash, row.at, row.actor, row.action, row.call_id, row.detail
        )
        if row.prev_hash != expected_prev or row.id != previous_id + 1 or digest != row.hash:
            broken.append(row.id)
        expected_prev, previous_id = row.hash, row.id
    return broken


def _rekey(conn: Connection, key: bytes, now: datetime) -> Any:
    """Chain the rows of an old, unkeyed chain with the key, and say so in the chain.

    The old chain is checked first and the outcome recorded: re-keying must not
    launder a tampering that happened before it.
    """
    rows = audit_log.all_rows(conn)
    broken = _legacy_problems(rows)
    reversals = sum(1 for a, b in itertools.pairwise(rows) if b.at < a.at)
    prev_hash = GENESIS
    # sequence numbers from 1 without gaps (a gap is in the recorded report)
    for seq, row in enumerate(rows, start=1):
        ref = call_ref(key, row.call_id)
        digest = _mac(key, seq, prev_hash, row.at, row.actor, row.action, ref, row.detail)
        audit_log.rewrite_row(
            conn,
            row.id,
            id=seq,
            call_ref=ref,
            prev_hash=prev_hash,
            hash=digest,
            chain=CHAIN_VERSION,
        )
        prev_hash = digest
    detail = {
        "rows": len(rows),
        "legacy_chain": "broken" if broken else "intact",
        "legacy_broken_rows": broken[:50],
        "legacy_time_reversals": reversals,
        "key_id": key_id(key),
    }
    return _append(conn, key, audit_log.head(conn), "callqa", "audit_rekey", None, detail, now)


def upgrade(store: Store, *, now: datetime | None = None) -> bool:
    """Re-key an old unkeyed chain now (normally done by the first write); True if done."""
    with store.write() as conn:
        head = audit_log.head(conn)
        if head is None or head.chain is not None:
            return False
        _rekey(conn, store.audit_key, now or utcnow())
        return True


# --- reading and verifying --------------------------------------------------------------


def entries(
    store: Store, limit: int | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    """Audit rows, newest first."""
    return audit_log.entries(store, limit, action)


def verify(store: Store, checkpoint: Checkpoint | None = None) -> list[AuditProblem]:
    """Walk the chain; every broken link is reported with its row id.

    A changed row fails its own hash; a removed row leaves a gap in the sequence
    numbers; a renumbered or re-hashed row fails without the key; a time earlier than
    the row before it is reported. With a ``checkpoint``, a chain that no longer
    reaches its head, or reaches it with another hash, fails too.
    """
    key = store.audit_key
    problems: list[AuditProblem] = []
    expected_prev, previous_id, previous_at = GENESIS, 0, ""
    at_checkpoint: Any = None
    with store.read() as conn:
        for row in audit_log.iter_rows(conn):
            problems.extend(_check_row(key, row, expected_prev, previous_id, previous_at))
            expected_prev, previous_id = row.hash, row.id
            previous_at = max(previous_at, row.at)
            if checkpoint is not None and row.id == checkpoint.seq:
                at_checkpoint = row
    if checkpoint is not None:
        problems.extend(_check_checkpoint(checkpoint, at_checkpoint, previous_id))
    return problems


def _check_row(
    key: bytes, row: Any, expected_prev: str, previous_id: int, previous_at: str
) -> list[AuditProblem]:
    problems = []
    gap = row.id - previous_id - 1
    if row.prev_hash != expected_prev or gap:
        missing = (
            f"rows {previous_id + 1}-{row.id - 1} are missing"
            if gap > 1
            else f"row {previous_id + 1} is missing"
            if gap == 1
            else "the row before it was changed, removed or renumbered"
        )
        problems.append(AuditProblem(row.id, f"does not follow the row before it ({missing})"))
    if row.chain is None:
        problems.append(
            AuditProblem(row.id, "not chained with the workspace's audit key (inserted by hand?)")
        )
        return problems
    digest = _mac(
        key, row.id, row.prev_hash, row.at, row.actor, row.action, row.call_ref, row.detail
    )
    if not hmac.compare_digest(digest, row.hash):
        problems.append(AuditProblem(row.id, "its content does not match its keyed hash (changed)"))
        return problems
    if row.at < previous_at:
        problems.append(
            AuditProblem(
                row.id, f"its time {row.at} is earlier than the row before it (back-dated)"
            )
        )
    if not _label_ok(key, row):
        problems.append(AuditProblem(row.id, "its call id was changed (it names another call)"))
    return problems


def _label_ok(key: bytes, row: Any) -> bool:
    if row.call_id is None:
        return True  # a label erased with the call
    if row.call_ref is not None and hmac.compare_digest(
        call_ref(key, row.call_id) or "", row.call_ref
    ):
        return True
    expected = _label_mac(key, row.id, row.call_ref, row.call_id)
    return row.label_mac is not None and hmac.compare_digest(expected, row.label_mac)


def _check_checkpoint(checkpoint: Checkpoint, row: Any, last_id: int) -> list[AuditProblem]:
    seq = checkpoint.seq
    if row is None:
        if last_id < seq:
            gone = f"row {seq}" if last_id + 1 == seq else f"rows {last_id + 1}-{seq}"
            return [
                AuditProblem(
                    seq,
                    f"missing: the checkpoint of {checkpoint.taken_at} saw the chain up to "
                    f"row {seq}, it now ends at row {last_id} ({gone} removed)",
                )
            ]
        return [AuditProblem(seq, "missing: the checkpoint's head row is not in the chain")]
    if not hmac.compare_digest(row.hash, checkpoint.head_hash):
        return [
            AuditProblem(
                seq,
                f"differs from the checkpoint of {checkpoint.taken_at}: "
                "the chain up to it was rewritten",
            )
        ]
    return []


# --- checkpoints ------------------------------------------------------------------------


def take_checkpoint(store: Store, *, now: datetime | None = None, actor: str = "cli") -> Checkpoint:
    """Record a checkpoint in the chain and return the head it ends at.

    Refused when the chain does not verify: a checkpoint must never vouch for a
    chain that was already tampered with.
    """
    problems = verify(store)
    if problems:
        first = problems[0]
        raise GovernanceError(
            f"the audit log is not intact (row {first.row_id}: {first.reason}); "
            "no checkpoint written — run callqa audit --verify"
        )
    with store.write() as conn:
        record(conn, actor, "audit_checkpoint", None, {}, now=now)
        head = audit_log.head(conn)
    return Checkpoint(
        seq=head.id, head_hash=head.hash, taken_at=head.at, key_id=key_id(store.audit_key)
    )


def write_checkpoint(
    store: Store, out: Path, *, now: datetime | None = None, actor: str = "cli"
) -> Checkpoint:
    """Take a checkpoint and write it, signed, to ``out`` (JSON, mode 0600, atomically).

    Keep the file away from the workspace (another machine, write-once storage):
    one that the workspace's owner can rewrite bounds nothing.
    """
    checkpoint = take_checkpoint(store, now=now, actor=actor)
    body = checkpoint.body()
    signed = {**body, "signature": _hmac(store.audit_key, body)}
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(signed, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return checkpoint


class CheckpointError(CallqaError):
    """A checkpoint file that cannot be read, or whose signature does not hold.

    Exit 1, as a failed verification: the chain cannot be vouched for against it.
    """

    exit_code = 1


def read_checkpoint(store: Store, path: Path) -> Checkpoint:
    """A checkpoint file written by :func:`write_checkpoint`, its signature checked.

    Raises:
        CheckpointError: unreadable, not a checkpoint, or not signed with this
            workspace's audit key (forged, changed or from another workspace).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        body = {name: data[name] for name in ("format", "seq", "head_hash", "taken_at", "key_id")}
        signature = str(data["signature"])
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path}: not a callqa audit checkpoint") from None
    if body["format"] != CHECKPOINT_FORMAT or not isinstance(body["seq"], int):
        raise CheckpointError(f"{path}: not a callqa audit checkpoint")
    if body["key_id"] != key_id(store.audit_key):
        raise CheckpointError(f"{path}: signed with another audit key (another workspace?)")
    if not hmac.compare_digest(_hmac(store.audit_key, body), signature):
        raise CheckpointError(f"{path}: the signature does not match (the file was changed)")
    return Checkpoint(
        seq=body["seq"],
        head_hash=str(body["head_hash"]),
        taken_at=str(body["taken_at"]),
        key_id=str(body["key_id"]),
    )
