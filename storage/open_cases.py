"""The open-cases query behind App Home and the standup digest."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import PRIORITY_RANK, CaseStatus, Priority
from storage.models import Account, Customer, FollowUpCase

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
CUSTOMER = Customer.__table__


@dataclass(frozen=True)
class OpenCase:
    """One unresolved case as a list shows it: who, where, its state and its card."""

    case_id: int
    segment: str
    score: int
    status: str
    customer_name: str
    account_name: str
    arr: float | None
    owner_user_id: str | None
    owner_ref: str | None
    contact_due_at: datetime
    overdue: bool
    card_channel: str | None
    card_ts: str | None
    priority: str = Priority.HIGH
    tier: str | None = None
    resolution_overdue: bool = False


def overdue(now: datetime) -> sa.ColumnElement[bool]:
    """The contact deadline passed before anyone reached the customer."""
    return sa.and_(CASE.c.first_contact_at.is_(None), CASE.c.contact_due_at < now)


def priority_rank() -> sa.ColumnElement[int]:
    """The case's priority as a number: lower goes first."""
    return sa.case(
        *((CASE.c.priority == p.value, rank) for p, rank in PRIORITY_RANK.items()),
        else_=len(PRIORITY_RANK),
    )


def open_cases(
    engine: sa.Engine,
    *,
    now: datetime,
    owners: Collection[str] | None,
    claimed_too: bool = False,
    overdue_first: bool = False,
    limit: int,
) -> list[OpenCase]:
    """Unresolved cases, most urgent then highest ARR first, then oldest; overdue first if asked.

    With `owners`, only the cases they own, and with `claimed_too` also those they claimed.
    """
    if owners is not None and not owners:
        return []
    late = sa.case((overdue(now), True), else_=False).label("overdue")
    order: list[sa.ColumnElement[Any]] = [
        priority_rank(),
        ACCOUNT.c.arr.desc().nulls_last(),
        CASE.c.received_at,
        CASE.c.id,
    ]
    if overdue_first:
        order.insert(0, late.desc())
    query = (
        sa.select(
            CASE.c.id.label("case_id"),
            CASE.c.segment,
            CASE.c.score,
            CASE.c.status,
            CUSTOMER.c.name.label("customer_name"),
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.arr,
            CASE.c.owner_user_id,
            CASE.c.owner_ref,
            CASE.c.contact_due_at,
            late,
            CASE.c.card_channel,
            CASE.c.card_ts,
            CASE.c.priority,
            CASE.c.tier,
            CASE.c.resolution_overdue_at.is_not(None).label("resolution_overdue"),
        )
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .join(CUSTOMER, CUSTOMER.c.id == CASE.c.customer_id)
        .where(CASE.c.status != CaseStatus.RESOLVED, CASE.c.outside_pilot.is_(False))
        .order_by(*order)
        .limit(limit)
    )
    if owners is not None:
        people = sorted(set(owners))
        mine = CASE.c.owner_user_id.in_(people)
        query = query.where(sa.or_(mine, CASE.c.claimed_by.in_(people)) if claimed_too else mine)
    with engine.connect() as conn:
        return [
            OpenCase(**{**row._mapping, "overdue": bool(row.overdue)})
            for row in conn.execute(query)
        ]
