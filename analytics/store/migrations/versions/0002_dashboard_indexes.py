"""Schema version 2: dashboard indexes."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(2)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
