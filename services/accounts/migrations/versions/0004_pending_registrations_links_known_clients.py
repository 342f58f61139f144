"""pending registrations, code links, wrong-code budgets, known clients, e-mails per client

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 14:00:00.000000

Registrations of an address without an active account are kept apart (one row each) instead
of in the account's row; the accounts waiting for activation are moved over: their password
hash and profile become their one pending registration (client "unknown"), valid a day. Codes
gain a link token (hash, expiry) and a retirement time; e-mail notices the client address that
caused them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kernel.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = services.kernel.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_registrations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("id_number", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pending_registrations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pending_registrations_user_created", ["user_id", "created_at"], unique=False
        )
    op.create_table(
        "code_guesses",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("wrong_tries", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "known_clients",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "client"),
    )
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_retired_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("link_expires_at", UTC, nullable=True))
    with op.batch_alter_table("email_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))

    # Accounts waiting for activation: what their row held is their one pending registration.
    waiting = (
        "FROM users WHERE is_active = {false} AND role = 'citizen' AND password_hash IS NOT NULL"
    )
    false = "false" if op.get_bind().dialect.name == "postgresql" else "0"
    day_later = (
        "created_at + interval '1 day'"
        if op.get_bind().dialect.name == "postgresql"
        else "datetime(created_at, '+1 day')"
    )
    op.execute(
        "INSERT INTO pending_registrations (id, user_id, client, password_hash, full_name, "
        "gender, date_of_birth, phone, address, id_number, created_at, expires_at) "
        "SELECT id, id, 'unknown', password_hash, full_name, gender, date_of_birth, phone, "
        f"address, id_number, created_at, {day_later} " + waiting.format(false=false)
    )
    op.execute(
        "UPDATE users SET password_hash = NULL, full_name = '' WHERE is_active = "
        f"{false} AND role = 'citizen' AND password_hash IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("email_notices", schema=None) as batch_op:
        batch_op.drop_column("client")
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_column("link_expires_at")
        batch_op.drop_column("token_hash")
        batch_op.drop_column("code_retired_at")
    op.drop_table("known_clients")
    op.drop_table("code_guesses")
    with op.batch_alter_table("pending_registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_registrations_user_created")
    op.drop_table("pending_registrations")
