"""Schema version 16: Find calls walks the start times (all, one team); status index."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(16)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
