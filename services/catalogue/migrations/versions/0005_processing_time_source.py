"""how each procedure's processing time was obtained

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("procedures") as batch:
        batch.add_column(sa.Column("processing_time_source", sa.String(40), nullable=True))
    # What is known without the source records; the next import gives each imported
    # procedure its rule's answer (an admin's value is kept from then on).
    op.execute(
        "UPDATE procedures SET processing_time_source = "
        "CASE WHEN processing_days IS NULL THEN 'unknown' ELSE 'stated' END"
    )
    with op.batch_alter_table("procedures") as batch:
        batch.alter_column("processing_time_source", existing_type=sa.String(40), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("procedures") as batch:
        batch.drop_column("processing_time_source")
