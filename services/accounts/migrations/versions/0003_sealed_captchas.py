"""sealed captchas: spent captcha ids instead of stored challenges

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 20:57:37.536325

The captcha id now carries its answer sealed (services/kernel/captcha.py), so the challenges
table goes; challenges issued before the upgrade stop verifying (they lived 10 minutes).
Autogenerate ignores tables the models no longer declare: the drop is written by hand.
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
        "spent_captchas",
        sa.Column("jti", sa.String(length=40), nullable=False),
        sa.Column("spent_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("spent_captchas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_captchas_spent_at"), ["spent_at"], unique=False)

    with op.batch_alter_table("captcha_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captcha_challenges_expires_at"))

    op.drop_table("captcha_challenges")


def downgrade() -> None:
    op.create_table(
        "captcha_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("expires_at", services.kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", services.kernel.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("captcha_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captcha_challenges_expires_at"), ["expires_at"], unique=False
        )

    with op.batch_alter_table("spent_captchas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_captchas_spent_at"))

    op.drop_table("spent_captchas")
