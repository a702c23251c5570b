"""Schema version 5: signin failures."""

from __future__ import annotations

from alembic import op

from analytics.store.schema import step

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    step(5)(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("callqa migrations go forward only")
