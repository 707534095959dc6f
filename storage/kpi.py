"""The program's KPIs for a period, and their weekly trend, as SQL aggregates.

Figures are as of `now`: a contact, resolution, recovery or account event stamped later does
not count yet. Periods are half-open, [start, end), on `received_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa

from bot.domain.costs import months_between, program_cost
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
from storage.outcomes import (
    Windows,
    account_arr,
    churned_within,
    recovered_case,
    recovery_conditions,
    segment_contact_rates,
)

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
RESPONSE = SurveyResponse.__table__
EVENT = AccountEvent.__table__

# What the program aims for, for whoever shows the figures.
TARGET_CONTACT_RATE_72H = 0.95
TARGET_CHURN_REDUCTION = (0.20, 0.50)
TARGET_ROI = 5.0
DEFAULT_WINDOWS = Windows()
NO_COST = "no program cost: set `kpi.monthly_cost` in the rules"
NO_BASELINE = "no not-contacted Detractor accounts to compare with"
NO_RESOLUTIONS = Ratio(0, 0)


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
    recovery_outside: int = 0
    recovered_accounts: int = 0
    cost_missing: str | None = None
    segment_contact: tuple[tuple[str, Ratio], ...] = ()
    resolved_in_time: Ratio = NO_RESOLUTIONS
    """Detractor cases resolved by their resolution deadline, of those resolved."""

    @property
    def churn_reduction(self) -> float | None:
        """How much lower churn is among contacted accounts: 1 - contacted ÷ uncontacted rate."""
        reached, unreached = self.churn_contacted.value, self.churn_uncontacted.value
        if reached is None or not unreached:
            return None
        return 1 - reached / unreached

    @property
    def baseline_churn(self) -> float | None:
        """The churn rate of not-contacted Detractor accounts: what recovered ones were spared."""
        return self.churn_uncontacted.value

    @property
    def roi_missing(self) -> str | None:
        """Why the ROI cannot be given, or None when every part of it is known."""
        if self.cost_missing:
            return self.cost_missing
        if not self.program_cost:
            return NO_COST
        if self.baseline_churn is None:
            return NO_BASELINE
        return None

    @property
    def roi(self) -> float | None:
        """Retained ARR times the baseline churn rate, per unit of program cost."""
        baseline = self.baseline_churn
        if self.roi_missing or baseline is None:
            return None
        return Ratio(self.retained_arr * baseline, self.program_cost).value


def program_months(start: datetime, end: datetime) -> float:
    """The period's length in average months, counting at least one day."""
    return months_between(start, end)


def _case_counts(now: datetime, windows: Windows) -> dict[str, sa.ColumnElement[bool]]:
    """The per-case conditions the KPIs count, by name."""
    resolved = sa.and_(CASE.c.resolved_at.is_not(None), CASE.c.resolved_at <= now)
    return {
        **contact_conditions(now),
        "satisfied": satisfied(now),
        "resolved": resolved,
        "resolved_in_time": sa.and_(resolved, CASE.c.resolved_at <= CASE.c.resolution_due_at),
        **recovery_conditions(now, windows.recovery),
    }


def _by_contact(start: datetime, end: datetime, now: datetime, windows: Windows) -> sa.Select[Any]:
    """The period's Detractor accounts, grouped by whether any of their cases was contacted."""
    reached = contacted(now)
    case_counts = _case_counts(now, windows)
    # One scan of the period's Detractor cases, grouped by account: its case counts, when its
    # first case came, whether any was contacted, and whether any was recovered.
    accounts = (
        sa.select(
            CASE.c.account_id,
            sa.func.count().label("cases"),
            *counts(case_counts),
            sa.func.min(CASE.c.received_at).label("first_at"),
            sa.func.max(sa.case((reached, 1), else_=0)).label("contacted"),
            sa.func.max(sa.case((recovered_case(now, windows.recovery), 1), else_=0)).label(
                "recovered_account"
            ),
        )
        .where(CASE.c.segment == DETRACTOR, received(CASE.c.received_at, start, end), counted())
        .group_by(CASE.c.account_id)
        .subquery()
    )
    churned = churned_within(
        accounts.c.account_id, accounts.c.first_at, now=now, window=windows.churn
    )
    # A recovered account still there at the end of the churn window keeps its ARR.
    kept = sa.and_(accounts.c.recovered_account == 1, sa.not_(churned))
    retained = sa.case(
        (kept, account_arr(accounts.c.account_id, accounts.c.first_at, now=now)), else_=0
    )
    return (
        sa.select(
            accounts.c.contacted,
            sa.func.count().label("accounts"),
            *(sa.func.sum(accounts.c[name]).label(name) for name in ("cases", *case_counts)),
            count(churned).label("churned"),
            count(kept).label("kept"),
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
    engine: sa.Engine,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    monthly_cost: float | Sequence[tuple[str, float]],
    windows: Windows = DEFAULT_WINDOWS,
    tz: tzinfo = UTC,
) -> KpiSummary:
    """The program's KPIs for what was received in [start, end), as of `now`."""
    start, end = check_period(start, end)
    with engine.connect() as conn:
        query = _by_contact(start, end, now, windows)
        groups = {row.contacted: row._mapping for row in conn.execute(query)}
        tallies = {row.period: tally(row) for row in conn.execute(_scores(start, end))}
        segments = segment_contact_rates(conn, start=start, end=end, now=now)
    summary = _summary(groups, tallies[1], tallies[0], start=start, end=end)
    cost = program_cost(monthly_cost, start, end, tz)
    return replace(
        summary,
        program_cost=cost.amount or 0.0,
        cost_missing=cost.missing,
        segment_contact=segments,
    )


def _summary(
    groups: Mapping[int, Mapping[str, Any]],
    current: Tally,
    before: Tally,
    *,
    start: datetime,
    end: datetime,
) -> KpiSummary:
    """The KPIs from the per-contact groups and the two periods' tallies."""

    def total(name: str) -> int:
        return sum(int(group[name] or 0) for group in groups.values())

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
        retained_arr=sum(float(group["retained"]) for group in groups.values()),
        program_cost=0.0,
        responses=current.responses,
        promoters=current.promoters,
        passives=current.passives,
        detractors=current.detractors,
        nps=current.nps,
        nps_previous=before.nps,
        recovery_outside=total("resurveyed_outside"),
        recovered_accounts=total("kept"),
        resolved_in_time=Ratio(total("resolved_in_time"), total("resolved")),
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
