"""Test responses: a flag on the response and its case, so reports can leave them out.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("survey_response", "follow_up_case")


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: a copy would trip foreign keys to it on SQLite.
    for table in TABLES:
        op.add_column(
            table, sa.Column("test", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "test")
