"""The root-cause rollup: a period's cases by root cause, largest ARR at risk first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from storage.measures import check_period, counted, received
from storage.models import Account, FollowUpCase

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__


@dataclass(frozen=True)
class RootCauseRow:
    """One root cause over a period: its cases, their average score, the ARR of the accounts."""

    cause: str
    cases: int
    average_score: float
    arr_at_risk: float


def root_cause_rollup(engine: sa.Engine, *, start: datetime, end: datetime) -> list[RootCauseRow]:
    """Cases received in [start, end) with a root cause, by cause: largest ARR at risk first."""
    start, end = check_period(start, end)
    # Per cause and account first, so each account's ARR counts once per cause.
    per_account = (
        sa.select(
            CASE.c.root_cause,
            CASE.c.account_id,
            sa.func.count().label("cases"),
            sa.func.sum(CASE.c.score).label("score_sum"),
        )
        .where(CASE.c.root_cause.is_not(None), received(CASE.c.received_at, start, end), counted())
        .group_by(CASE.c.root_cause, CASE.c.account_id)
        .subquery()
    )
    cases = sa.func.sum(per_account.c.cases).label("cases")
    arr = sa.func.coalesce(sa.func.sum(ACCOUNT.c.arr), 0).label("arr_at_risk")
    query = (
        sa.select(per_account.c.root_cause, cases, sa.func.sum(per_account.c.score_sum), arr)
        .join(ACCOUNT, ACCOUNT.c.id == per_account.c.account_id)
        .group_by(per_account.c.root_cause)
        .order_by(arr.desc(), cases.desc(), per_account.c.root_cause)
    )
    with engine.connect() as conn:
        return [
            RootCauseRow(cause, int(n), float(score_sum) / int(n), float(at_risk))
            for cause, n, score_sum, at_risk in conn.execute(query)
        ]
