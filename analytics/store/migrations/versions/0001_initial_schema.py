"""Schema version 1: initial schema."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(1)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
