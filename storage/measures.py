"""What the reports count, as SQL: shares, NPS tallies, contact and resolution conditions.

Every figure is counted by the database (COUNT/SUM with CASE), never by loading rows. Figures
are as of `now`: a contact, resolution or recovery stamped later does not count yet. Periods
are half-open, [start, end), on `received_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import CaseStatus, Segment
from storage.models import FollowUpCase, SurveyResponse
from storage.sql import later

CASE = FollowUpCase.__table__
RESPONSE = SurveyResponse.__table__

DETRACTOR = Segment.DETRACTOR.value
CONTACT_WITHIN = timedelta(hours=72)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Ratio:
    """A share, kept as its two counts so a report can show both."""

    numerator: float
    denominator: float

    @property
    def value(self) -> float | None:
        """The share, or None when there was nothing to count."""
        return self.numerator / self.denominator if self.denominator else None


def nps(*, promoters: int, detractors: int, responses: int) -> float | None:
    """The Net Promoter Score (-100 to 100), or None without responses."""
    share = Ratio(promoters - detractors, responses).value
    return None if share is None else share * 100


@dataclass(frozen=True)
class Tally:
    """Responses by NPS segment."""

    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def nps(self) -> float | None:
        """The Net Promoter Score of these responses, or None without any."""
        return nps(promoters=self.promoters, detractors=self.detractors, responses=self.responses)


def check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The period in UTC; a ValueError unless both ends are aware and it ends after it starts."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("report periods take aware datetimes")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError("a report period must end after it starts")
    return start, end


def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows of the group meet `condition` (0 for an empty group)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def counts(conditions: dict[str, sa.ColumnElement[bool]]) -> list[sa.ColumnElement[int]]:
    """One `count` per condition, labelled with its name."""
    return [count(condition).label(name) for name, condition in conditions.items()]


def received(column: sa.ColumnElement[datetime], start: datetime, end: datetime) -> Any:
    """`column` falls in [start, end)."""
    return sa.and_(column >= start, column < end)


def counted(table: sa.Table = CASE) -> sa.ColumnElement[bool]:
    """The row counts in reports: not a test response's, not one outside the pilot (cases and
    responses alike)."""
    return sa.and_(table.c.test.is_(False), table.c.outside_pilot.is_(False))


def contacted(now: datetime) -> sa.ColumnElement[bool]:
    """The customer was first reached by `now`."""
    return sa.and_(CASE.c.first_contact_at.is_not(None), CASE.c.first_contact_at <= now)


def contact_conditions(now: datetime) -> dict[str, sa.ColumnElement[bool]]:
    """Contacted by the deadline; deadline passed or contacted; the same for 72 hours."""
    reached = contacted(now)
    seconds = int(CONTACT_WITHIN.total_seconds())
    return {
        "on_time": sa.and_(reached, CASE.c.first_contact_at <= CASE.c.contact_due_at),
        "due": sa.or_(CASE.c.contact_due_at < now, reached),
        "within_72h": sa.and_(
            reached, CASE.c.first_contact_at <= later(CASE.c.received_at, seconds)
        ),
        "due_72h": sa.or_(CASE.c.received_at < now - CONTACT_WITHIN, reached),
    }


def contact_rate_counts(now: datetime) -> list[sa.ColumnElement[int]]:
    """Contacted by the deadline, and deadline passed or contacted: the contact rate's terms."""
    conditions = contact_conditions(now)
    return counts({name: conditions[name] for name in ("on_time", "due")})


def satisfied(now: datetime) -> sa.ColumnElement[bool]:
    """Resolved by `now` with the customer satisfied."""
    return sa.and_(
        CASE.c.status == CaseStatus.RESOLVED,
        CASE.c.customer_satisfied.is_(True),
        CASE.c.resolved_at <= now,
    )


def nps_columns() -> list[sa.ColumnElement[int]]:
    """Responses, promoters, passives and detractors among the selected responses."""
    return [
        sa.func.count().label("responses"),
        count(RESPONSE.c.score >= 9).label("promoters"),
        count(RESPONSE.c.score.between(7, 8)).label("passives"),
        count(RESPONSE.c.score <= 6).label("detractors"),
    ]


def tally(row: sa.Row[Any]) -> Tally:
    """The tally a row of `nps_columns` holds."""
    return Tally(int(row.responses), int(row.promoters), int(row.passives), int(row.detractors))
