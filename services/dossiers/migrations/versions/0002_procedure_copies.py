"""procedure copies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:26:14.677346
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "procedure_copies",
        sa.Column("procedure_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("received_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("procedure_id", "version"),
    )
    with op.batch_alter_table("procedure_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_copies_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_procedure_copies_is_latest"), ["is_latest"], unique=False
        )

    op.create_table(
        "processed_messages",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("processed_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )


def downgrade() -> None:
    op.drop_table("processed_messages")
    with op.batch_alter_table("procedure_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_copies_is_latest"))
        batch_op.drop_index(batch_op.f("ix_procedure_copies_code"))

    op.drop_table("procedure_copies")
