"""Theme fixes: a theme marked fixed, and the customers told about it.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "theme_fix",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("theme", sa.String(100), nullable=False),
        sa.Column("what_changed", sa.Text(), nullable=False),
        sa.Column("shipped_on", sa.Date(), nullable=False),
        sa.Column("by", sa.String(50), nullable=False),
        sa.Column("at", UTC_TIME(), nullable=False),
    )
    op.create_index("ix_theme_fix_theme_at", "theme_fix", ["theme", "at"])
    op.create_table(
        "theme_told",
        sa.Column("fix_id", sa.Integer(), sa.ForeignKey("theme_fix.id"), primary_key=True),
        sa.Column("customer_id", sa.String(200), sa.ForeignKey("customer.id"), primary_key=True),
        sa.Column("by", sa.String(50), nullable=False),
        sa.Column("at", UTC_TIME(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("theme_told")
    op.drop_index("ix_theme_fix_theme_at", table_name="theme_fix")
    op.drop_table("theme_fix")
