"""Case workflow: contact log, root cause, resolution and re-survey fields on follow-up cases.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "next_follow_up_on",
    "root_cause",
    "root_cause_notes",
    "action_items",
    "resolution_summary",
    "customer_satisfied",
    "resurvey_on",
    "contact_count",
    "last_contact_at",
)


def upgrade() -> None:
    with op.batch_alter_table("follow_up_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_follow_up_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("root_cause", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )
        batch_op.add_column(sa.Column("root_cause_notes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("action_items", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resolution_summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("customer_satisfied", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resurvey_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("contact_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_contact_at", storage.models.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    # Copying the table (SQLite's default for a dropped column) would trip the foreign keys of
    # activity, outbox and escalation rows; SQLite 3.35+ drops these plain columns in place.
    with op.batch_alter_table("follow_up_case", schema=None, recreate="never") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
