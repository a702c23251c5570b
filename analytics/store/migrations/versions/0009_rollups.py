"""Schema version 9: dashboard rollups."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(9)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
