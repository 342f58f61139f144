"""outbox: every insert notifies the relay (PostgreSQL), which then publishes at once rather
than at its next poll

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kernel.outbox import add_outbox_notify, drop_outbox_notify

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_notify(op)


def downgrade() -> None:
    drop_outbox_notify(op)
