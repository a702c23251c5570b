"""Schema version 8: queue leases."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(8)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
