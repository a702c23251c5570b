"""Schema version 3: caller ids e164."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(3)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
