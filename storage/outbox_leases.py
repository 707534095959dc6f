"""Finding the outbox rows whose sender stopped: run-out leases, dead holders, take-overs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.domain.vocabulary import OutboxStatus
from storage.outbox import LEASE, OUTBOX, Delivery, delivery_of, held_by, write


def abandoned(engine: sa.Engine, *, now: datetime, limit: int = 50) -> list[Delivery]:
    """Sending rows whose lease ran out or that wait for a check: their fate is to be found out."""
    query = (
        sa.select(OUTBOX)
        .where(OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.next_attempt_at < now)
        .order_by(OUTBOX.c.next_attempt_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [delivery_of(row) for row in conn.execute(query)]


def take_over(
    engine: sa.Engine, delivery: Delivery, *, owner: str, now: datetime, lease: timedelta = LEASE
) -> bool:
    """Hold an abandoned row to check it; False when someone else got to it first."""
    stmt = (
        sa.update(OUTBOX)
        .where(
            OUTBOX.c.id == delivery.id,
            held_by(delivery.lease_owner),
            OUTBOX.c.next_attempt_at == delivery.next_attempt_at,
        )
        .values(lease_owner=owner, next_attempt_at=now + lease)
    )
    return write(engine, stmt) == 1


def holders(engine: sa.Engine) -> list[str]:
    """The workers holding rows now."""
    query = (
        sa.select(OUTBOX.c.lease_owner)
        .where(OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.lease_owner.is_not(None))
        .distinct()
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def release_dead(engine: sa.Engine, *, owners: Sequence[str], now: datetime) -> int:
    """Rows held by workers known to be dead become abandoned at once."""
    if not owners:
        return 0
    stmt = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.status == OutboxStatus.SENDING, OUTBOX.c.lease_owner.in_(list(owners)))
        .values(lease_owner=None, next_attempt_at=now)
    )
    return write(engine, stmt)
