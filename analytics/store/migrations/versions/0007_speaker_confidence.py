"""Schema version 7: speaker confidence."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(7)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
