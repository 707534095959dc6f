"""Indexes for the reports: cases by received time, responses by received time and score.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_case_received", "follow_up_case", ["received_at"])
    op.create_index("ix_response_received_score", "survey_response", ["received_at", "score"])
    op.drop_index("ix_survey_response_received_at", table_name="survey_response")


def downgrade() -> None:
    op.create_index("ix_survey_response_received_at", "survey_response", ["received_at"])
    op.drop_index("ix_response_received_score", table_name="survey_response")
    op.drop_index("ix_case_received", table_name="follow_up_case")
