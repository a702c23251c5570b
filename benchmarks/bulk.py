"""Bulk rows for the benchmarks' fills: executemany on SQLite, COPY on PostgreSQL.

Raw SQL here is benchmark scaffolding (a synthetic fill), not the product's data layer.
"""

from __future__ import annotations

from typing import Any


def insert_rows(
    raw: Any, backend: str, table: str, columns: tuple[str, ...], rows: list[Any]
) -> None:
    """Insert ``rows`` into ``table`` through the raw driver connection ``raw``."""
    if not rows:
        return
    if backend == "sqlite":
        marks = ", ".join("?" * len(columns))
        raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        return
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
