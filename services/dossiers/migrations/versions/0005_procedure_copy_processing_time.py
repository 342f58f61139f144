"""procedure_copies.processing_days and processing_time_source, for the dossier lists

The lists say "no processing time published" where a procedure has none; they read plain
columns only (see 0004), so the copy keeps these two beside its snapshot.

Revision ID: 0005
Revises: 0004
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("procedure_copies") as batch:
        batch.add_column(sa.Column("processing_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("processing_time_source", sa.String(length=40), nullable=True))
    bind = op.get_bind()
    as_text = "snapshot::text" if bind.dialect.name == "postgresql" else "snapshot"
    rows = bind.execute(
        sa.text(f"SELECT procedure_id, version, {as_text} FROM procedure_copies")
    ).all()
    for procedure_id, version, snapshot in rows:
        data = json.loads(snapshot or "{}")
        days, source = data.get("processing_days"), data.get("processing_time_source")
        bind.execute(
            sa.text(
                "UPDATE procedure_copies SET processing_days = :days, "
                "processing_time_source = :source WHERE procedure_id = :id AND version = :v"
            ),
            {
                "days": days if isinstance(days, int) else None,
                "source": source if isinstance(source, str) else None,
                "id": procedure_id,
                "v": version,
            },
        )


def downgrade() -> None:
    with op.batch_alter_table("procedure_copies") as batch:
        batch.drop_column("processing_time_source")
        batch.drop_column("processing_days")
