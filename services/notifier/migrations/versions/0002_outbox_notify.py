"""outbox: every insert notifies the relay (PostgreSQL), which then publishes at once rather
than at its next poll

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

from alembic import op

from services.kernel.outbox import OUTBOX_NOTIFY_DOWN, OUTBOX_NOTIFY_UP

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite has no NOTIFY: the relay polls
        for statement in OUTBOX_NOTIFY_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in OUTBOX_NOTIFY_DOWN:
            op.execute(statement)
