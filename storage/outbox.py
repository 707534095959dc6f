"""The outbox of Slack deliveries: claimed under a lease, settled once by compare-and-set.

A worker claims a pending row (`sending`, its name in `lease_owner`, the lease in
`next_attempt_at`) and renews the lease while it works. Every outcome is written only while the
row is still `sending` and held by that worker, so a worker that lost its lease changes nothing.
A `sending` row nobody holds is one whose fate is unknown: a crashed send or an ambiguous answer,
to be checked in Slack before any re-post.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.db import begin_immediate
from storage.models import (
    FollowUpCase,
    JobRun,
    OutboxMessage,
)

OUTBOX = OutboxMessage.__table__
CASE = FollowUpCase.__table__
JOB_RUN = JobRun.__table__

LEASE = timedelta(seconds=6)
# Requests to the survey platform are queued like messages to one more channel.
WEBHOOK_CHANNEL = "webhook"
DIGEST_JOB = "digest"
REVIEW_JOB = "review"
ERROR_LENGTH = 200


@dataclass(frozen=True)
class Delivery:
    """One outbox row as the worker sees it."""

    id: int
    kind: str
    case_id: int | None
    payload: dict[str, Any]
    attempts: int
    channel: str | None
    created_at: datetime
    lease_owner: str | None = None
    sending_at: datetime | None = None
    next_attempt_at: datetime | None = None
    checks: int = 0
    dedupe_key: str = ""


def delivery_of(row: Any) -> Delivery:
    """A row of the outbox table as a Delivery."""
    return Delivery(
        row.id,
        row.kind,
        row.case_id,
        row.payload,
        row.attempts,
        row.channel,
        row.created_at,
        row.lease_owner,
        row.sending_at,
        row.next_attempt_at,
        row.checks,
        row.dedupe_key,
    )


def write(engine: sa.Engine, *statements: Any) -> int:
    """Run statements in one write transaction; the first one's row count."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            counts = [conn.execute(stmt).rowcount for stmt in statements]
    return counts[0]


def held_by(owner: str | None) -> Any:
    """The row is `sending` and held by `owner` (None: held by nobody)."""
    return sa.and_(
        OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.lease_owner.is_not_distinct_from(owner)
    )


def due(
    engine: sa.Engine, *, now: datetime, busy: Iterable[str] = (), limit: int = 100
) -> list[Delivery]:
    """Pending deliveries whose time has come: feedback first, then Detractors, by ARR, oldest.

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
        return [delivery_of(row) for row in conn.execute(query)]


def load(engine: sa.Engine, delivery_id: int) -> Delivery | None:
    """One delivery by id."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.id == delivery_id)).first()
    return delivery_of(row) if row is not None else None


def claim(
    engine: sa.Engine,
    delivery_id: int,
    *,
    owner: str,
    now: datetime,
    channel: str | None = None,
    lease: timedelta = LEASE,
) -> bool:
    """Take a pending delivery for sending (one attempt); False if another worker has it."""
    values: dict[str, Any] = {
        "status": OutboxStatus.SENDING,
        "lease_owner": owner,
        "sending_at": now,
        "attempts": OUTBOX.c.attempts + 1,
        "next_attempt_at": now + lease,
    }
    if channel is not None:
        values["channel"] = channel
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == delivery_id, OUTBOX.c.status == OutboxStatus.PENDING)
        .values(**values)
    )
    return write(engine, stmt) == 1


def renew(engine: sa.Engine, *, owner: str, now: datetime, lease: timedelta = LEASE) -> int:
    """Extend the lease of every row `owner` holds; how many it holds."""
    stmt = sa.update(OUTBOX).where(held_by(owner)).values(next_attempt_at=now + lease)
    return write(engine, stmt)


def bind_channel(engine: sa.Engine, delivery_id: int, *, owner: str, channel: str) -> bool:
    """Record where a held delivery goes before it is sent, so a check knows where to look."""
    stmt = (
        sa.update(OUTBOX).where(OUTBOX.c.id == delivery_id, held_by(owner)).values(channel=channel)
    )
    return write(engine, stmt) == 1


def mark_sent(
    engine: sa.Engine,
    delivery: Delivery,
    *,
    owner: str | None,
    channel: str,
    ts: str,
    now: datetime,
) -> bool:
    """Record a delivered message; a card's channel and ts are stored on its case."""
    sent = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == delivery.id, held_by(owner))
        .values(status=OutboxStatus.SENT, channel=channel, ts=ts, sent_at=now, lease_owner=None)
    )
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            if conn.execute(sent).rowcount != 1:
                return False
            if delivery.kind == DeliveryKind.CARD and delivery.case_id is not None:
                conn.execute(
                    sa.update(CASE)
                    .where(CASE.c.id == delivery.case_id)
                    .values(card_channel=channel, card_ts=ts, updated_at=now)
                )
    return True


def _settle(engine: sa.Engine, delivery_id: int, owner: str | None, **values: Any) -> bool:
    if "last_error" in values:
        values["last_error"] = (values["last_error"] or "")[:ERROR_LENGTH]
    stmt = sa.update(OUTBOX).where(OUTBOX.c.id == delivery_id, held_by(owner)).values(**values)
    return write(engine, stmt) == 1


def defer(
    engine: sa.Engine,
    delivery_id: int,
    *,
    owner: str | None,
    until: datetime,
    error: str,
    refund: bool = False,
    channel: str | None = None,
) -> bool:
    """Put a held delivery back in the queue; `refund` when no attempt was really made."""
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "next_attempt_at": until,
        "last_error": error,
        "lease_owner": None,
        "checks": 0,
    }
    if refund:
        values["attempts"] = OUTBOX.c.attempts - 1
    if channel is not None:
        values["channel"] = channel
    return _settle(engine, delivery_id, owner, **values)


def fail(engine: sa.Engine, delivery_id: int, *, owner: str | None, error: str) -> bool:
    """Give up on a delivery; it stays visible and `nps-bot outbox retry --failed` re-sends it."""
    return _settle(
        engine, delivery_id, owner, status=OutboxStatus.FAILED, last_error=error, lease_owner=None
    )


def skip(engine: sa.Engine, delivery_id: int, *, owner: str | None, reason: str) -> bool:
    """Close a delivery that has nothing left to say (a newer state is shown anyway)."""
    return _settle(
        engine, delivery_id, owner, status=OutboxStatus.SKIPPED, last_error=reason, lease_owner=None
    )


def check_later(
    engine: sa.Engine,
    delivery_id: int,
    *,
    owner: str | None,
    until: datetime,
    error: str,
    checks: int | None = None,
) -> bool:
    """Leave a delivery that may have been sent `sending`, held by nobody, to be checked later."""
    values: dict[str, Any] = {"lease_owner": None, "next_attempt_at": until, "last_error": error}
    if checks is not None:
        values["checks"] = checks
    return _settle(engine, delivery_id, owner, **values)


def fall_back(
    engine: sa.Engine,
    delivery: Delivery,
    *,
    owner: str,
    channel: str,
    now: datetime,
    note: dict[str, str],
) -> bool:
    """Send a held delivery to `channel` instead, remembering why in its payload."""
    return _settle(
        engine,
        delivery.id,
        owner,
        status=OutboxStatus.PENDING,
        channel=channel,
        payload={**delivery.payload, "fallback": note},
        next_attempt_at=now,
        last_error=f"fallback from {note.get('channel')}: {note.get('error')}",
        attempts=OUTBOX.c.attempts - 1,
        lease_owner=None,
    )


def card_status(engine: sa.Engine, case_id: int) -> str | None:
    """The state of a case's card delivery: pending, sending, sent, failed, or None."""
    query = sa.select(OUTBOX.c.status).where(
        OUTBOX.c.case_id == case_id, OUTBOX.c.kind == DeliveryKind.CARD
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def card_note(engine: sa.Engine, case_id: int) -> dict[str, str] | None:
    """Why a case's card is not in its own channel (channel id and error), if it fell back."""
    query = sa.select(OUTBOX.c.payload).where(
        OUTBOX.c.case_id == case_id, OUTBOX.c.kind == DeliveryKind.CARD
    )
    with engine.connect() as conn:
        payload = conn.execute(query).scalar()
    return (payload or {}).get("fallback")


def status_of(engine: sa.Engine, dedupe_key: str) -> str | None:
    """The state of the delivery with this key, or None."""
    query = sa.select(OUTBOX.c.status).where(OUTBOX.c.dedupe_key == dedupe_key)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def counts(engine: sa.Engine) -> dict[str, int]:
    """How many deliveries are in each state."""
    query = sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
    with engine.connect() as conn:
        return {status: n for status, n in conn.execute(query)}


def claim_daily_digest(
    engine: sa.Engine, *, day: date, channel: str, now: datetime, chart: bool, priority: int = 0
) -> bool:
    """Claim `day`'s digest and queue it (and the weekly chart) in one transaction, once."""
    rows = [
        _report_row(f"digest:{day.isoformat()}", DeliveryKind.DIGEST, day, channel, now, priority)
    ]
    if chart:
        key = f"chart:{day.isoformat()}"
        rows.append(_report_row(key, DeliveryKind.WEEKLY_CHART, day, channel, now, priority))
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            claimed = conn.execute(
                dialect.insert(JOB_RUN)
                .values(job=DIGEST_JOB, day=day, ran_at=now)
                .on_conflict_do_nothing()
                .returning(JOB_RUN.c.job)
            ).first()
            if claimed is None:
                return False
            conn.execute(sa.insert(OUTBOX), rows)
    return True


def claim_monthly_review(
    engine: sa.Engine, *, month: date, channel: str, now: datetime, priority: int = 0
) -> bool:
    """Claim the review of `month` (its first day) and queue it in one transaction, once."""
    key = f"review:{month.isoformat()[:7]}"
    row = _report_row(key, DeliveryKind.MONTHLY_REVIEW, month, channel, now, priority)
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            claimed = conn.execute(
                dialect.insert(JOB_RUN)
                .values(job=REVIEW_JOB, day=month, ran_at=now)
                .on_conflict_do_nothing()
                .returning(JOB_RUN.c.job)
            ).first()
            if claimed is None:
                return False
            conn.execute(sa.insert(OUTBOX), [row])
    return True


def _report_row(
    key: str, kind: DeliveryKind, day: date, channel: str, now: datetime, priority: int
) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "case_id": None,
        "kind": kind,
        "payload": {"day": day.isoformat()},
        "priority": priority,
        "arr": 0.0,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "channel": channel,
    }


def set_owner_user(engine: sa.Engine, case_id: int, user_id: str | None, *, now: datetime) -> None:
    """Store the Slack user id the case's owner resolved to."""
    write(
        engine,
        sa.update(CASE).where(CASE.c.id == case_id).values(owner_user_id=user_id, updated_at=now),
    )
