"""The BI export: every case with its response and account, streamed, without personal data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import case_tags
from storage.models import Account, FollowUpCase, SurveyResponse

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
RESPONSE = SurveyResponse.__table__

EXPORT_COLUMNS = (
    "case_id",
    "response_id",
    "survey",
    "submitted_at",
    "received_at",
    "segment",
    "score",
    "reasons",
    "status",
    "owner_user_id",
    "claimed_by",
    "claimed_at",
    "contact_due_at",
    "resolution_due_at",
    "first_contact_at",
    "contact_count",
    "overdue_at",
    "resolved_at",
    "customer_satisfied",
    "root_cause",
    "recovery_score",
    "recovered_at",
    "tags",
    "account_id",
    "account_name",
    "account_arr",
    "account_plan",
    "account_renewal_date",
    "customer_id",
)


def export_cases(engine: sa.Engine, *, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every case with its response and account, for BI, streamed in chunks; no personal data.

    Comments, notes, customer names, emails and phones stay out, and so does `owner_ref` (it
    may be an email).
    """
    query = (
        sa.select(
            CASE.c.id.label("case_id"),
            CASE.c.response_id,
            RESPONSE.c.survey,
            RESPONSE.c.submitted_at,
            CASE.c.received_at,
            CASE.c.segment,
            CASE.c.score,
            CASE.c.reasons,
            CASE.c.status,
            CASE.c.owner_user_id,
            CASE.c.claimed_by,
            CASE.c.claimed_at,
            CASE.c.contact_due_at,
            CASE.c.resolution_due_at,
            CASE.c.first_contact_at,
            CASE.c.contact_count,
            CASE.c.overdue_at,
            CASE.c.resolved_at,
            CASE.c.customer_satisfied,
            CASE.c.root_cause,
            CASE.c.recovery_score,
            CASE.c.recovered_at,
            CASE.c.account_id,
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.arr.label("account_arr"),
            ACCOUNT.c.plan.label("account_plan"),
            ACCOUNT.c.renewal_date.label("account_renewal_date"),
            CASE.c.customer_id,
        )
        .join(RESPONSE, RESPONSE.c.response_id == CASE.c.response_id)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(CASE.c.test.is_(False))
        .order_by(CASE.c.id)
    )
    with engine.connect() as conn:
        # yield_per streams: a server-side cursor on PostgreSQL, incremental fetches on SQLite.
        for row in conn.execution_options(yield_per=chunk).execute(query):
            record = dict(row._mapping)
            record["reasons"] = ",".join(record["reasons"] or [])
            record["tags"] = ",".join(case_tags(record["segment"], record["recovery_score"]))
            yield {name: record[name] for name in EXPORT_COLUMNS}
