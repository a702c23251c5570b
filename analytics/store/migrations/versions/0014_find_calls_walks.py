"""Schema version 14: Find calls walks the start times (all, one team); status index."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(14)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
