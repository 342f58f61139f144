"""the search lexicon's admin entries, and the search log (counts by normalised query and day)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lexicon_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("says", sa.JSON(), nullable=False),
        sa.Column("means", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "search_counts",
        sa.Column("query", sa.String(200), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
    )
    op.create_index("ix_search_counts_day", "search_counts", ["day"])
    op.create_table(
        "search_opens",
        sa.Column("query", sa.String(200), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("procedure_code", sa.String(40), primary_key=True),
        sa.Column("opens", sa.Integer(), nullable=False),
    )
    op.create_index("ix_search_opens_day", "search_opens", ["day"])


def downgrade() -> None:
    op.drop_table("search_opens")
    op.drop_table("search_counts")
    op.drop_table("lexicon_entries")
