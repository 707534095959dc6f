"""Timers: breach, reminder, re-survey and recovery fields; daily job runs; sweep indexes.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFIRED = "fired_at IS NULL AND cancelled_at IS NULL"
BREACH = "overdue_at IS NULL AND first_contact_at IS NULL"
FOLLOW_UP = "next_follow_up_on IS NOT NULL"
RESURVEY = "resurvey_requested_at IS NULL AND resurvey_on IS NOT NULL"


def _where(text: str) -> dict:
    return {"sqlite_where": sa.text(text), "postgresql_where": sa.text(text)}


def upgrade() -> None:
    with op.batch_alter_table("follow_up_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_at", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_reminded_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("resurvey_requested_at", storage.models.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("recovery_score", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "recovery_response_id",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("recovered_at", storage.models.UTCDateTime(), nullable=True))
    op.create_index("ix_case_breach_watch", "follow_up_case", ["contact_due_at"], **_where(BREACH))
    op.create_index(
        "ix_case_follow_up_watch", "follow_up_case", ["next_follow_up_on"], **_where(FOLLOW_UP)
    )
    op.create_index("ix_case_resurvey_watch", "follow_up_case", ["resurvey_on"], **_where(RESURVEY))
    op.create_index("ix_case_customer_status", "follow_up_case", ["customer_id", "status"])
    op.drop_index("ix_step_due_unfired", table_name="escalation_step")
    op.create_index("ix_step_due_unfired", "escalation_step", ["due_at"], **_where(UNFIRED))
    op.create_table(
        "job_run",
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", "day"),
    )


def downgrade() -> None:
    op.drop_table("job_run")
    op.drop_index("ix_step_due_unfired", table_name="escalation_step")
    op.create_index("ix_step_due_unfired", "escalation_step", ["fired_at", "due_at"])
    for name in (
        "ix_case_customer_status",
        "ix_case_resurvey_watch",
        "ix_case_follow_up_watch",
        "ix_case_breach_watch",
    ):
        op.drop_index(name, table_name="follow_up_case")
    with op.batch_alter_table("follow_up_case", schema=None, recreate="never") as batch_op:
        for name in (
            "recovered_at",
            "recovery_response_id",
            "recovery_score",
            "resurvey_requested_at",
            "follow_up_reminded_on",
            "overdue_at",
        ):
            batch_op.drop_column(name)
