"""dossiers.applicant_name: the name a list shows, in a column of its own

Lists used to read it out of the applicant JSON in SQL (`applicant->>'full_name'`), which
PostgreSQL evaluates over every row of the list: one row whose JSON holds a broken escape (a
lone surrogate, stored before the edge refused them) made the whole inbox fail.

Revision ID: 0004
Revises: 0003
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kernel.inputs import readable

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        batch.add_column(sa.Column("applicant_name", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    as_text = "applicant::text" if bind.dialect.name == "postgresql" else "applicant"
    rows = bind.execute(sa.text(f"SELECT id, {as_text} FROM dossiers")).all()
    for dossier_id, applicant in rows:
        try:
            name = json.loads(applicant or "{}").get("full_name")
        except (ValueError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            bind.execute(
                sa.text("UPDATE dossiers SET applicant_name = :name WHERE id = :id"),
                {"name": readable(name)[:200], "id": dossier_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("applicant_name")
