"""catalogue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 20:25:12.463042
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
        "agencies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["agencies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agencies_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_agencies_tier"), ["tier"], unique=False)

    op.create_table(
        "fields",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(length=80), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term"),
    )
    op.create_table(
        "procedures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("field_id", sa.String(length=120), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("on_province", sa.Boolean(), nullable=False),
        sa.Column("on_commune", sa.Boolean(), nullable=False),
        sa.Column("online", sa.String(length=10), nullable=False),
        sa.Column("processing_days", sa.Integer(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("name_accented", sa.Text(), nullable=False),
        sa.Column("name_folded", sa.Text(), nullable=False),
        sa.Column("search_document", sa.Text(), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["fields.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index("ix_procedures_field_agency", ["field_id", "agency_id"], unique=False)

    op.create_table(
        "forms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("procedure_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=120), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("uploaded_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_id", "name"),
    )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forms_procedure_id"), ["procedure_id"], unique=False)

    op.create_table(
        "procedure_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("procedure_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("published_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_id", "version"),
    )
    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procedure_versions_procedure_id"), ["procedure_id"], unique=False
        )
    _create_search_indexes()


def _create_search_indexes() -> None:
    """PostgreSQL: full text over the folded terms; pg_trgm for the ranking's similarity.
    SQLite: an FTS5 table over the same terms (the repository keeps it in step)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_procedures_search ON procedures "
            "USING gin (to_tsvector('simple'::regconfig, search_document))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE procedure_search USING fts5("
            "procedure_id UNINDEXED, document, tokenize = 'unicode61 remove_diacritics 0')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_procedures_search")
    else:
        op.execute("DROP TABLE IF EXISTS procedure_search")
    with op.batch_alter_table("procedure_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_versions_procedure_id"))

    op.drop_table("procedure_versions")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forms_procedure_id"))

    op.drop_table("forms")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index("ix_procedures_field_agency")

    op.drop_table("procedures")
    op.drop_table("search_terms")
    op.drop_table("fields")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agencies_tier"))
        batch_op.drop_index(batch_op.f("ix_agencies_parent_id"))

    op.drop_table("agencies")
