"""Discover recordings, read the metadata CSV, probe audio, import into the workspace.

Each input is judged on its own: a bad one becomes a :class:`Reject` with a clear
reason and the others go on. Import is idempotent by content hash (SHA-256), and
crash-safe: the recording is copied under its hash (temp file + rename) before
its row is committed, so a re-run after a kill finds every good file once.
"""

from analytics.fields import parse_started_at
from analytics.ingest.discover import discover
from analytics.ingest.importer import IngestReport, import_one, ingest, resolve_metadata
from analytics.ingest.metadata import (
    CSV_COLUMNS,
    MetadataRow,
    parse_row,
    read_metadata,
    read_metadata_full,
    shown,
)
from analytics.ingest.probe import AUDIO_SUFFIXES, MAX_RATE, MIN_RATE, probe, sha256_of

__all__ = [
    "AUDIO_SUFFIXES",
    "CSV_COLUMNS",
    "MAX_RATE",
    "MIN_RATE",
    "IngestReport",
    "MetadataRow",
    "discover",
    "import_one",
    "ingest",
    "parse_row",
    "parse_started_at",
    "probe",
    "read_metadata",
    "read_metadata_full",
    "resolve_metadata",
    "sha256_of",
    "shown",
]
