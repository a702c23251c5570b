"""Schema version 6: abuse event score."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(6)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
