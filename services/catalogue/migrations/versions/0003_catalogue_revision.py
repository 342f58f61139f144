"""catalogue revision

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:41:02.223591
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO catalogue_revision (id, revision) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("catalogue_revision")
