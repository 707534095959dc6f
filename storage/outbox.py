"""The outbox of Slack deliveries: claim in priority order, record the outcome exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.db import begin_immediate
from storage.models import Account, Customer, FollowUpCase, OutboxMessage, SurveyResponse

OUTBOX = OutboxMessage.__table__
CASE = FollowUpCase.__table__

SENDING_LEASE = timedelta(seconds=60)
# Requests to the survey platform are queued like messages to one more channel.
WEBHOOK_CHANNEL = "webhook"


@dataclass(frozen=True)
class Delivery:
    id: int
    kind: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int
    channel: str | None


def _delivery(row: Any) -> Delivery:
    return Delivery(row.id, row.kind, row.case_id, row.payload, row.attempts, row.channel)


def due(
    engine: sa.Engine, *, now: datetime, busy: Iterable[str] = (), limit: int = 100
) -> list[Delivery]:
    """Pending deliveries whose time has come: Detractors first, then by ARR, then oldest.

    Deliveries already bound for a `busy` channel (one that may not take a message yet) wait.
    """
    query = (
        sa.select(OUTBOX)
        .where(OUTBOX.c.status == OutboxStatus.PENDING, OUTBOX.c.next_attempt_at <= now)
        .order_by(OUTBOX.c.priority, OUTBOX.c.arr.desc(), OUTBOX.c.id)
        .limit(limit)
    )
    busy = list(busy)
    if busy:
        query = query.where(sa.or_(OUTBOX.c.channel.is_(None), OUTBOX.c.channel.not_in(busy)))
    with engine.connect() as conn:
        return [_delivery(row) for row in conn.execute(query)]


def bind_channel(engine: sa.Engine, delivery_id: int, channel: str) -> None:
    """Remember where a delivery goes, so that pacing can skip it without rendering it."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            conn.execute(
                sa.update(OUTBOX).where(OUTBOX.c.id == delivery_id).values(channel=channel)
            )


def start_sending(engine: sa.Engine, delivery_id: int, *, channel: str, now: datetime) -> bool:
    """Take a pending delivery for sending (compare-and-set); False if another worker has it."""
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == delivery_id, OUTBOX.c.status == OutboxStatus.PENDING)
        .values(
            status=OutboxStatus.SENDING,
            channel=channel,
            attempts=OUTBOX.c.attempts + 1,
            next_attempt_at=now + SENDING_LEASE,
        )
    )
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            return conn.execute(stmt).rowcount == 1


def mark_sent(
    engine: sa.Engine, delivery: Delivery, *, channel: str, ts: str, now: datetime
) -> None:
    """Record a delivered message; a card's channel and ts are stored on its case."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id == delivery.id)
                .values(status=OutboxStatus.SENT, channel=channel, ts=ts, sent_at=now)
            )
            if delivery.kind == DeliveryKind.CARD and delivery.case_id is not None:
                conn.execute(
                    sa.update(CASE)
                    .where(CASE.c.id == delivery.case_id)
                    .values(card_channel=channel, card_ts=ts, updated_at=now)
                )


def defer(engine: sa.Engine, delivery_id: int, *, until: datetime, error: str) -> None:
    """Put a delivery back in the queue for a later attempt."""
    _finish(engine, delivery_id, status=OutboxStatus.PENDING, next_attempt_at=until, error=error)


SKIPPED = "skipped"


def skip(engine: sa.Engine, delivery_id: int, *, reason: str) -> None:
    """Close a delivery that has nothing left to say (a newer state is shown anyway)."""
    _finish(engine, delivery_id, status=SKIPPED, error=reason)


def card_status(engine: sa.Engine, case_id: int) -> str | None:
    """The state of a case's card delivery: pending, sending, sent, failed, or None."""
    query = sa.select(OUTBOX.c.status).where(
        OUTBOX.c.case_id == case_id, OUTBOX.c.kind == DeliveryKind.CARD
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def fail(engine: sa.Engine, delivery_id: int, *, error: str) -> None:
    """Give up on a delivery Slack will never accept; it stays visible in the outbox."""
    _finish(engine, delivery_id, status=OutboxStatus.FAILED, error=error)


def _finish(engine: sa.Engine, delivery_id: int, *, status: str, error: str, **values: Any) -> None:
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            conn.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id == delivery_id)
                .values(status=status, last_error=error[:200], **values)
            )


def abandoned(engine: sa.Engine, *, now: datetime) -> list[Delivery]:
    """Deliveries left mid-send by a process that stopped (their lease ran out)."""
    query = sa.select(OUTBOX).where(
        OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.next_attempt_at < now
    )
    with engine.connect() as conn:
        return [_delivery(row) for row in conn.execute(query)]


def counts(engine: sa.Engine) -> dict[str, int]:
    """How many deliveries are in each state."""
    query = sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
    with engine.connect() as conn:
        return {status: n for status, n in conn.execute(query)}


@dataclass(frozen=True)
class CaseView:
    """Everything a card or an alert shows about a case, read in one go."""

    case: FollowUpCase
    response: SurveyResponse
    account: Account
    customer: Customer
    earlier_scores: list[tuple[datetime, int]]


def case_view(engine: sa.Engine, case_id: int) -> CaseView | None:
    """The case with its response, account, customer and the customer's earlier scores."""
    from sqlmodel import Session, select

    with Session(engine) as session:
        case = session.get(FollowUpCase, case_id)
        if case is None:
            return None
        response = session.exec(
            select(SurveyResponse).where(SurveyResponse.response_id == case.response_id)
        ).one()
        account = session.get(Account, case.account_id)
        customer = session.get(Customer, case.customer_id)
        earlier = session.exec(
            select(SurveyResponse.submitted_at, SurveyResponse.score)
            .where(
                SurveyResponse.customer_id == case.customer_id,
                SurveyResponse.response_id != case.response_id,
                SurveyResponse.received_at <= response.received_at,
            )
            .order_by(SurveyResponse.submitted_at.desc())
            .limit(5)
        ).all()
        session.expunge_all()
    assert account is not None and customer is not None
    return CaseView(case, response, account, customer, [(at, score) for at, score in earlier])


def set_owner_user(engine: sa.Engine, case_id: int, user_id: str | None, *, now: datetime) -> None:
    """Store the Slack user id the case's owner resolved to."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            conn.execute(
                sa.update(CASE)
                .where(CASE.c.id == case_id)
                .values(owner_user_id=user_id, updated_at=now)
            )
