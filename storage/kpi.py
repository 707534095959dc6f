"""The program's KPIs for a period, and their weekly trend, as SQL aggregates.

Figures are as of `now`: a contact, resolution, recovery or account event stamped later does
not count yet. Periods are half-open, [start, end), on `received_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.account_events import CHURNED, RENEWED
from storage.measures import (
    DETRACTOR,
    WEEK,
    Ratio,
    Tally,
    check_period,
    contact_conditions,
    contact_rate_counts,
    contacted,
    count,
    counted,
    counts,
    nps_columns,
    received,
    satisfied,
    tally,
)
from storage.models import Account, AccountEvent, FollowUpCase, SurveyResponse

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
RESPONSE = SurveyResponse.__table__
EVENT = AccountEvent.__table__

RECOVERED_SCORE = 7
DAYS_PER_MONTH = 30.4375

# What the program aims for, for whoever shows the figures.
TARGET_CONTACT_RATE_72H = 0.95
TARGET_CHURN_REDUCTION = (0.20, 0.50)
TARGET_ROI = 5.0


@dataclass(frozen=True)
class KpiSummary:
    """The program's figures for cases and responses received in [start, end)."""

    start: datetime
    end: datetime
    contact_rate: Ratio
    contact_rate_72h: Ratio
    resolution_rate: Ratio
    score_recovery: Ratio
    churn_contacted: Ratio
    churn_uncontacted: Ratio
    retained_arr: float
    program_cost: float
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    nps_previous: float | None

    @property
    def churn_reduction(self) -> float | None:
        """How much lower churn is among contacted accounts: 1 - contacted ÷ uncontacted rate."""
        reached, unreached = self.churn_contacted.value, self.churn_uncontacted.value
        if reached is None or not unreached:
            return None
        return 1 - reached / unreached

    @property
    def roi(self) -> float | None:
        """Retained ARR per unit of program cost, or None without a cost."""
        return Ratio(self.retained_arr, self.program_cost).value


def program_months(start: datetime, end: datetime) -> float:
    """The period's length in average months, counting at least one day."""
    days = max((end - start).total_seconds() / 86_400, 1.0)
    return days / DAYS_PER_MONTH


def _case_counts(now: datetime) -> dict[str, sa.ColumnElement[bool]]:
    """The per-case conditions the KPIs count, by name."""
    return {
        **contact_conditions(now),
        "satisfied": satisfied(now),
        "recovered": sa.and_(CASE.c.recovery_score >= RECOVERED_SCORE, CASE.c.recovered_at <= now),
        "resurveyed": sa.and_(CASE.c.recovery_score.is_not(None), CASE.c.recovered_at <= now),
    }


def _by_contact(start: datetime, end: datetime, now: datetime) -> sa.Select[Any]:
    """The period's Detractor accounts, grouped by whether any of their cases was contacted."""
    reached = contacted(now)
    case_counts = _case_counts(now)
    # One scan of the period's Detractor cases, grouped by account: its case counts, when its
    # first case came, whether any was contacted, and when its first contacted case came.
    accounts = (
        sa.select(
            CASE.c.account_id,
            sa.func.count().label("cases"),
            *counts(case_counts),
            sa.func.min(CASE.c.received_at).label("first_at"),
            sa.func.max(sa.case((reached, 1), else_=0)).label("contacted"),
            sa.func.min(sa.case((reached, CASE.c.received_at))).label("helped_at"),
        )
        .where(CASE.c.segment == DETRACTOR, received(CASE.c.received_at, start, end), counted())
        .group_by(CASE.c.account_id)
        .subquery()
    )
    churned = sa.exists().where(
        EVENT.c.account_id == accounts.c.account_id,
        EVENT.c.event == CHURNED,
        EVENT.c.at > accounts.c.first_at,
        EVENT.c.at <= now,
    )
    # A renewal after the account's first contacted case retains the ARR it states (the
    # latest that states one), else the account's.
    renewal = (
        EVENT.c.account_id == accounts.c.account_id,
        EVENT.c.event == RENEWED,
        EVENT.c.at > accounts.c.helped_at,
        EVENT.c.at <= now,
    )
    renewal_arr = (
        sa.select(EVENT.c.arr)
        .where(*renewal, EVENT.c.arr.is_not(None))
        .order_by(EVENT.c.at.desc())
        .limit(1)
        .scalar_subquery()
    )
    retained = sa.case(
        (sa.exists().where(*renewal), sa.func.coalesce(renewal_arr, ACCOUNT.c.arr)), else_=0
    )
    return (
        sa.select(
            accounts.c.contacted,
            sa.func.count().label("accounts"),
            *(sa.func.sum(accounts.c[name]).label(name) for name in ("cases", *case_counts)),
            count(churned).label("churned"),
            sa.func.coalesce(sa.func.sum(retained), 0).label("retained"),
        )
        .join(ACCOUNT, ACCOUNT.c.id == accounts.c.account_id)
        .group_by(accounts.c.contacted)
    )


def _scores(start: datetime, end: datetime) -> sa.CompoundSelect:
    """NPS tallies of the period (tagged 1) and of the one before it (tagged 0)."""
    previous = start - (end - start)
    # Two plain aggregates rather than one grouped by period: a range scan each, no sort.
    return sa.union_all(
        *(
            sa.select(sa.literal_column(str(tag)).label("period"), *nps_columns()).where(
                received(RESPONSE.c.received_at, since, until), counted(RESPONSE)
            )
            for tag, since, until in ((1, start, end), (0, previous, start))
        )
    )


def kpi_summary(
    engine: sa.Engine, *, start: datetime, end: datetime, now: datetime, monthly_cost: float
) -> KpiSummary:
    """The program's KPIs for what was received in [start, end), as of `now`."""
    start, end = check_period(start, end)
    with engine.connect() as conn:
        groups = {row.contacted: row._mapping for row in conn.execute(_by_contact(start, end, now))}
        tallies = {row.period: tally(row) for row in conn.execute(_scores(start, end))}
    return _summary(groups, tallies[1], tallies[0], start=start, end=end, cost=monthly_cost)


def _summary(
    groups: Mapping[int, Mapping[str, Any]],
    current: Tally,
    before: Tally,
    *,
    start: datetime,
    end: datetime,
    cost: float,
) -> KpiSummary:
    """The KPIs from the per-contact groups and the two periods' tallies."""

    def total(name: str) -> int:
        return sum(int(group[name]) for group in groups.values())

    def churn_ratio(flag: int) -> Ratio:
        group = groups.get(flag)
        return Ratio(int(group["churned"]), group["accounts"]) if group else Ratio(0, 0)

    return KpiSummary(
        start=start,
        end=end,
        contact_rate=Ratio(total("on_time"), total("due")),
        contact_rate_72h=Ratio(total("within_72h"), total("due_72h")),
        resolution_rate=Ratio(total("satisfied"), total("cases")),
        score_recovery=Ratio(total("recovered"), total("resurveyed")),
        churn_contacted=churn_ratio(1),
        churn_uncontacted=churn_ratio(0),
        retained_arr=float(groups[1]["retained"]) if 1 in groups else 0.0,
        program_cost=cost * program_months(start, end),
        responses=current.responses,
        promoters=current.promoters,
        passives=current.passives,
        detractors=current.detractors,
        nps=current.nps,
        nps_previous=before.nps,
    )


@dataclass(frozen=True)
class WeekPoint:
    """One week of the trend: contact rate, satisfied resolutions and NPS (None: nothing yet)."""

    week_start: datetime
    contact_rate: float | None
    resolution_rate: float | None
    nps: float | None


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the UTC week `moment` falls in."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly_series(engine: sa.Engine, *, weeks: int, end: datetime) -> list[WeekPoint]:
    """The `weeks` whole UTC weeks (Monday 00:00 UTC) before `end`, oldest first, as of `end`.

    The week `end` falls in is left out until it is over.
    """
    if weeks < 1:
        return []
    last = week_start(end)
    starts = [last - WEEK * (weeks - i) for i in range(weeks)]

    def bucket(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[int]:
        return sa.case(
            *((column < start + WEEK, i) for i, start in enumerate(starts)), else_=None
        ).label("week")

    # Grouped by the output column's name: the CASE carries its bounds as parameters.
    by_week = sa.literal_column("week")
    cases = (
        sa.select(
            bucket(CASE.c.received_at),
            sa.func.count().label("cases"),
            *contact_rate_counts(end),
            count(satisfied(end)).label("satisfied"),
        )
        .where(
            CASE.c.segment == DETRACTOR, received(CASE.c.received_at, starts[0], last), counted()
        )
        .group_by(by_week)
    )
    scores = (
        sa.select(bucket(RESPONSE.c.received_at), *nps_columns())
        .where(received(RESPONSE.c.received_at, starts[0], last), counted(RESPONSE))
        .group_by(by_week)
    )
    with engine.connect() as conn:
        by_cases = {row.week: row for row in conn.execute(cases)}
        by_scores = {row.week: tally(row) for row in conn.execute(scores)}
    points = []
    for i, start in enumerate(starts):
        c = by_cases.get(i)
        points.append(
            WeekPoint(
                week_start=start,
                contact_rate=Ratio(c.on_time, c.due).value if c else None,
                resolution_rate=Ratio(c.satisfied, c.cases).value if c else None,
                nps=by_scores.get(i, Tally()).nps,
            )
        )
    return points
