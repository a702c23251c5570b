"""Schema version 10: evaluations."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(10)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
