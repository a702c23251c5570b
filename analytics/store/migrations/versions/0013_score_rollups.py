"""Schema version 13: league sums and score buckets in the rollup; score sort indexes."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(13)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
