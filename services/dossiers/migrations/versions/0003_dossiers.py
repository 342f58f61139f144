"""dossiers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:00:17.436707
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency_copies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("performs_commune_tier", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "code_sequences",
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", "day"),
    )
    op.create_table(
        "dossiers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("procedure_id", sa.String(length=32), nullable=False),
        sa.Column("procedure_version", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.JSON(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("agency_name", sa.String(length=300), nullable=True),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("applicant", sa.JSON(), nullable=False),
        sa.Column("declaration", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("tracking_hash", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_working_days", sa.Integer(), nullable=False),
        sa.Column("history_count", sa.Integer(), nullable=False),
        sa.Column("supplement_request", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("tracking_hash"),
    )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_index("ix_dossiers_agency_status", ["agency_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dossiers_due_at"), ["due_at"], unique=False)
        batch_op.create_index("ix_dossiers_owner_status", ["owner_id", "status"], unique=False)

    op.create_table(
        "spent_captchas",
        sa.Column("jti", sa.String(length=40), nullable=False),
        sa.Column("spent_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("spent_captchas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_captchas_spent_at"), ["spent_at"], unique=False)

    op.create_table(
        "dossier_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dossier_id", sa.String(length=32), nullable=False),
        sa.Column("component_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dossier_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_files_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "dossier_history",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dossier_id", sa.String(length=32), nullable=False),
        sa.Column("at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dossier_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_history_dossier_id"), ["dossier_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dossier_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_history_dossier_id"))

    op.drop_table("dossier_history")
    with op.batch_alter_table("dossier_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_files_dossier_id"))

    op.drop_table("dossier_files")
    with op.batch_alter_table("spent_captchas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_captchas_spent_at"))

    op.drop_table("spent_captchas")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index("ix_dossiers_owner_status")
        batch_op.drop_index(batch_op.f("ix_dossiers_due_at"))
        batch_op.drop_index("ix_dossiers_agency_status")

    op.drop_table("dossiers")
    op.drop_table("code_sequences")
    op.drop_table("agency_copies")
