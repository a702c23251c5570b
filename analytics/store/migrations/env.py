"""Alembic environment: migrations run on the connection (and in the transaction) the
store hands over; there is no alembic.ini and no online URL of its own."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
