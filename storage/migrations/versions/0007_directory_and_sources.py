"""The account directory, touchpoints from feeds, and responses fetched back from platforms.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "account_domain",
        sa.Column("domain", sa.String(253), primary_key=True),
        sa.Column("account_id", sa.String(200), sa.ForeignKey("account.id"), nullable=False),
    )
    op.create_index("ix_account_domain_account_id", "account_domain", ["account_id"])
    op.create_table(
        "touchpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("at", UTC_TIME(), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("received_at", UTC_TIME(), nullable=False),
    )
    op.create_index("ix_touchpoint_account_at", "touchpoint", ["account_id", "at"])
    op.create_index("ix_touchpoint_email_at", "touchpoint", ["email", "at"])
    op.create_table(
        "inbound_fetch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("ref", storage.models.JSONType, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTC_TIME(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("received_at", UTC_TIME(), nullable=False),
        sa.Column("done_at", UTC_TIME(), nullable=True),
        sa.UniqueConstraint("source", "external_id", name="uq_inbound_fetch"),
    )
    op.create_index("ix_inbound_fetch_due", "inbound_fetch", ["status", "next_attempt_at"])
    # Plain ALTER TABLE, not a batch copy: a copy of survey_response would trip the cases'
    # foreign key to it on SQLite.
    op.add_column(
        "survey_response",
        sa.Column("source", sa.String(50), nullable=False, server_default="native"),
    )
    op.create_index("ix_customer_email_lower", "customer", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_customer_email_lower", table_name="customer")
    op.drop_column("survey_response", "source")
    op.drop_index("ix_inbound_fetch_due", table_name="inbound_fetch")
    op.drop_table("inbound_fetch")
    op.drop_index("ix_touchpoint_email_at", table_name="touchpoint")
    op.drop_index("ix_touchpoint_account_at", table_name="touchpoint")
    op.drop_table("touchpoint")
    op.drop_index("ix_account_domain_account_id", table_name="account_domain")
    op.drop_table("account_domain")
