"""The pilot: a flag on the responses outside `[pilot]` and their cases, left out of reports.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("survey_response", "follow_up_case")


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: a copy would trip foreign keys to it on SQLite.
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("outside_pilot", sa.Boolean(), nullable=False, server_default=sa.false()),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "outside_pilot")
