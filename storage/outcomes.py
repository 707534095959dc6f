"""The outcome figures leadership funds the program on, as SQL: recovery, churn, retained ARR.

Each counts only what falls inside its window after the response: a re-survey answer inside the
recovery window, a churn inside the churn window. Answers outside the window are counted apart,
to be shown, never mixed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import Segment
from storage.account_events import CHURNED, RENEWED
from storage.measures import Ratio, contact_rate_counts, counted, received, satisfied
from storage.models import Account, AccountEvent, FollowUpCase
from storage.sql import later

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
EVENT = AccountEvent.__table__

RECOVERED_SCORE = 7
RECOVERY_WINDOW = (timedelta(days=30), timedelta(days=90))
CHURN_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Windows:
    """How long after a response a re-survey answer and a churn count."""

    recovery: tuple[timedelta, timedelta] = RECOVERY_WINDOW
    churn: timedelta = CHURN_WINDOW


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())


def recovery_conditions(now: datetime, window: tuple[timedelta, timedelta]) -> dict[str, Any]:
    """Re-surveyed inside the window, recovered (7 or more) inside it, and answered outside it."""
    low, high = window
    answered = sa.and_(CASE.c.recovery_score.is_not(None), CASE.c.recovered_at <= now)
    inside = sa.and_(
        CASE.c.recovered_at >= later(CASE.c.received_at, _seconds(low)),
        CASE.c.recovered_at <= later(CASE.c.received_at, _seconds(high)),
    )
    return {
        "resurveyed": sa.and_(answered, inside),
        "recovered": sa.and_(answered, inside, CASE.c.recovery_score >= RECOVERED_SCORE),
        "resurveyed_outside": sa.and_(answered, sa.not_(inside)),
    }


def recovered_case(now: datetime, window: tuple[timedelta, timedelta]) -> sa.ColumnElement[bool]:
    """The case was resolved with the customer satisfied, or re-surveyed 7 or more in the window."""
    return sa.or_(satisfied(now), recovery_conditions(now, window)["recovered"])


def churned_within(
    account_id: sa.ColumnElement[str],
    since: sa.ColumnElement[datetime],
    *,
    now: datetime,
    window: timedelta,
) -> sa.ColumnElement[bool]:
    """The account churned after `since` and within `window` of it, by `now`."""
    return sa.exists().where(
        EVENT.c.account_id == account_id,
        EVENT.c.event == CHURNED,
        EVENT.c.at > since,
        EVENT.c.at <= later(since, _seconds(window)),
        EVENT.c.at <= now,
    )


def account_arr(
    account_id: sa.ColumnElement[str], since: sa.ColumnElement[datetime], *, now: datetime
) -> sa.ColumnElement[float]:
    """The ARR the latest renewal after `since` states, else the account's."""
    stated = (
        sa.select(EVENT.c.arr)
        .where(
            EVENT.c.account_id == account_id,
            EVENT.c.event == RENEWED,
            EVENT.c.at > since,
            EVENT.c.at <= now,
            EVENT.c.arr.is_not(None),
        )
        .order_by(EVENT.c.at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return sa.func.coalesce(stated, ACCOUNT.c.arr, 0)


def segment_contact_rates(
    conn: sa.Connection, *, start: datetime, end: datetime, now: datetime
) -> tuple[tuple[str, Ratio], ...]:
    """Contacted within the deadline, per segment, for cases received in [start, end)."""
    query = (
        sa.select(CASE.c.segment, *contact_rate_counts(now))
        .where(received(CASE.c.received_at, start, end), counted())
        .group_by(CASE.c.segment)
    )
    rows = {row.segment: Ratio(int(row.on_time), int(row.due)) for row in conn.execute(query)}
    return tuple((segment.value, rows.get(segment.value, Ratio(0, 0))) for segment in Segment)
