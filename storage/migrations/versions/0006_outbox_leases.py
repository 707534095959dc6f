"""Outbox leases: who holds a row being sent, since when, and how often it could not be checked.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("lease_owner", "sending_at", "checks")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(sa.Column("sending_at", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("checks", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # SQLite 3.35+ drops these plain columns in place; no copy of the table is needed.
    with op.batch_alter_table("outbox", schema=None, recreate="never") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
