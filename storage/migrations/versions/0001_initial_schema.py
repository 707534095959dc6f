"""Initial schema: accounts, customers, responses, cases, activity, escalations, outbox.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "account",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("arr", sa.Float(), nullable=True),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_arr"), ["arr"], unique=False)

    op.create_table(
        "slack_user",
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("looked_up_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "customer",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_account_id"), ["account_id"], unique=False)

    op.create_table(
        "survey_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("webhook_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("survey", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("submitted_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("received_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column(
            "touchpoints",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("resurvey_of", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id"),
    )
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_response_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_survey_response_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_survey_response_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "follow_up_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("suggest_email_first", sa.Boolean(), nullable=False),
        sa.Column("owner_ref", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("owner_user_id", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("received_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("contact_due_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("resolution_due_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column(
            "policy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("claimed_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("first_contact_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("card_channel", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("card_ts", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_response.response_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("response_id"),
    )
    with op.batch_alter_table("follow_up_case", schema=None) as batch_op:
        batch_op.create_index("ix_case_status_due", ["status", "contact_due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_follow_up_case_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_follow_up_case_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["follow_up_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_case_id"), ["case_id"], unique=False)

    op.create_table(
        "escalation_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("notify", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("reassign", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("due_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("fired_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", storage.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["follow_up_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind", "seq", name="uq_step_case_kind_seq"),
    )
    with op.batch_alter_table("escalation_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalation_step_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_step_due_unfired", ["fired_at", "due_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("arr", sa.Float(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("ts", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", storage.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["follow_up_case.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_outbox_queue", ["status", "priority", "arr", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_queue")
        batch_op.drop_index(batch_op.f("ix_outbox_case_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("escalation_step", schema=None) as batch_op:
        batch_op.drop_index("ix_step_due_unfired")
        batch_op.drop_index(batch_op.f("ix_escalation_step_case_id"))

    op.drop_table("escalation_step")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_case_id"))

    op.drop_table("activity")
    with op.batch_alter_table("follow_up_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_case_customer_id"))
        batch_op.drop_index(batch_op.f("ix_follow_up_case_account_id"))
        batch_op.drop_index("ix_case_status_due")

    op.drop_table("follow_up_case")
    with op.batch_alter_table("survey_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_response_received_at"))
        batch_op.drop_index(batch_op.f("ix_survey_response_customer_id"))
        batch_op.drop_index(batch_op.f("ix_survey_response_account_id"))

    op.drop_table("survey_response")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_account_id"))

    op.drop_table("customer")
    op.drop_table("slack_user")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_arr"))

    op.drop_table("account")
