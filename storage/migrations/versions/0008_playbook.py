"""The playbook: a case's priority and tier, why it was routed, and its resolution timers.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = storage.models.UTCDateTime
WATCH = "resolution_overdue_at IS NULL AND resolved_at IS NULL"


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: a copy would trip foreign keys to it on SQLite.
    op.add_column(
        "follow_up_case",
        sa.Column("priority", sa.String(20), nullable=False, server_default="high"),
    )
    op.execute(
        "UPDATE follow_up_case SET priority = CASE segment WHEN 'passive' THEN 'medium' "
        "WHEN 'promoter' THEN 'low' ELSE 'high' END"
    )
    op.add_column("follow_up_case", sa.Column("tier", sa.String(100), nullable=True))
    op.add_column("follow_up_case", sa.Column("routed_by", storage.models.JSONType, nullable=True))
    op.add_column("follow_up_case", sa.Column("resolution_reminded_at", UTC_TIME(), nullable=True))
    op.add_column("follow_up_case", sa.Column("resolution_overdue_at", UTC_TIME(), nullable=True))
    op.create_index(
        "ix_case_resolution_watch",
        "follow_up_case",
        ["resolution_due_at"],
        sqlite_where=sa.text(WATCH),
        postgresql_where=sa.text(WATCH),
    )


def downgrade() -> None:
    op.drop_index("ix_case_resolution_watch", table_name="follow_up_case")
    for column in ("resolution_overdue_at", "resolution_reminded_at", "routed_by", "tier"):
        op.drop_column("follow_up_case", column)
    op.drop_column("follow_up_case", "priority")
