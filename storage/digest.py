"""The standup digest: open cases by ARR, one local day's movement and the week's contact rate."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import CaseStatus
from storage.measures import (
    DETRACTOR,
    WEEK,
    Ratio,
    check_period,
    contact_rate_counts,
    counted,
    received,
)
from storage.models import FollowUpCase
from storage.open_cases import OpenCase, open_cases, overdue

CASE = FollowUpCase.__table__


@dataclass(frozen=True)
class DigestCounts:
    """What happened on one local day, what is overdue now, and the last week's contact rate."""

    day_start: datetime
    day_end: datetime
    new_cases: int
    contacted: int
    resolved: int
    overdue: int
    contact_rate_7d: Ratio


def digest_rows(
    engine: sa.Engine, *, owners: Collection[str] | None, now: datetime, limit: int = 30
) -> list[OpenCase]:
    """Open cases (of `owners` only, if given): highest ARR first, then oldest."""
    return open_cases(engine, now=now, owners=owners, limit=limit)


def digest_counts(
    engine: sa.Engine, *, day_start: datetime, day_end: datetime, now: datetime
) -> DigestCounts:
    """Cases received, first contacted and resolved in [day_start, day_end); overdue now."""
    day_start, day_end = check_period(day_start, day_end)

    def how_many(*where: Any) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count()).select_from(CASE).where(*where, counted()).scalar_subquery()
        )

    # Separate subqueries, so each can use its own index, in one round trip.
    counts = sa.select(
        how_many(received(CASE.c.received_at, day_start, day_end)).label("new_cases"),
        how_many(received(CASE.c.first_contact_at, day_start, day_end)).label("contacted"),
        how_many(received(CASE.c.resolved_at, day_start, day_end)).label("resolved"),
        how_many(CASE.c.status != CaseStatus.RESOLVED, overdue(now)).label("overdue"),
    )
    week = sa.select(*contact_rate_counts(now)).where(
        CASE.c.segment == DETRACTOR, received(CASE.c.received_at, now - WEEK, now), counted()
    )
    with engine.connect() as conn:
        c = conn.execute(counts).one()
        w = conn.execute(week).one()
    return DigestCounts(
        day_start=day_start,
        day_end=day_end,
        new_cases=c.new_cases,
        contacted=c.contacted,
        resolved=c.resolved,
        overdue=c.overdue,
        contact_rate_7d=Ratio(w.on_time, w.due),
    )
