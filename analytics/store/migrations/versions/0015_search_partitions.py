"""Schema version 15: search index partitions (PostgreSQL)."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(15)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
