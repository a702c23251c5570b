"""Schema version 11: dashboard rollups."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(11)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
