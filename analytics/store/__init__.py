"""Schema, migrations, writes and the governed query layer.

Readers use only :mod:`analytics.store.reads` (re-exported here); there is no
other path to the tables.
"""

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
    "Store",
    "call_rows",
    "get_call",
    "iso",
    "iter_call_records",
    "parse_iso",
    "pii_rows",
    "segment_rows",
    "status",
    "utcnow",
    "visible",
    "visible_calls",
]
