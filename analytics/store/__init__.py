"""Schema, migrations, writes and the governed query layer.

Readers use only :mod:`analytics.store.reads` (re-exported here); there is no
other path to the tables.
"""

from sqlalchemy.engine import Connection

from analytics.store import audit_log, intake, policy, queue, rights
from analytics.store.core import Store, iso, parse_iso, utcnow
from analytics.store.reads import (
    CallFilter,
    call_rows,
    get_call,
    iter_call_records,
    pii_rows,
    segment_rows,
    status,
    visible,
    visible_calls,
)

__all__ = [
    "CallFilter",
    "Connection",
    "Store",
    "audit_log",
    "call_rows",
    "get_call",
    "intake",
    "iso",
    "iter_call_records",
    "parse_iso",
    "pii_rows",
    "policy",
    "queue",
    "rights",
    "segment_rows",
    "status",
    "utcnow",
    "visible",
    "visible_calls",
]
