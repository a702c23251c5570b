"""Schema version 4: keyed audit chain."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(4)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
