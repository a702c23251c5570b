"""Alembic migrations of the callqa schema (one revision per schema version)."""
