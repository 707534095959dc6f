"""The outbox for operators: counts by state and kind, the oldest wait, and re-sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.db import begin_immediate
from storage.outbox import OUTBOX, held_by


def counts_by_kind(engine: sa.Engine) -> dict[tuple[str, str], int]:
    """How many deliveries there are of each state and kind."""
    query = sa.select(OUTBOX.c.status, OUTBOX.c.kind, sa.func.count()).group_by(
        OUTBOX.c.status, OUTBOX.c.kind
    )
    with engine.connect() as conn:
        return {(status, kind): n for status, kind, n in conn.execute(query)}


def oldest_waiting(engine: sa.Engine) -> datetime | None:
    """When the oldest delivery not yet settled (pending or sending) was queued."""
    query = sa.select(sa.func.min(OUTBOX.c.created_at)).where(
        OUTBOX.c.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


@dataclass(frozen=True)
class Requeued:
    """What `requeue` put back: rows due now, checks due now, failed rows and their threads."""

    waiting: int
    checking: int
    failed: int
    threads: int


def requeue(
    engine: sa.Engine, *, now: datetime, failed: bool, channels: Sequence[str] | None = None
) -> Requeued:
    """Make waiting rows due now; with `failed`, send failed rows again from a fresh count."""
    scope = OUTBOX.c.channel.in_(list(channels)) if channels else sa.true()
    waiting = (
        sa.update(OUTBOX)
        .where(scope, OUTBOX.c.status == OutboxStatus.PENDING, OUTBOX.c.next_attempt_at > now)
        .values(next_attempt_at=now)
    )
    checking = (
        sa.update(OUTBOX)
        .where(scope, held_by(None), OUTBOX.c.next_attempt_at > now)
        .values(next_attempt_at=now, checks=0)
    )
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            moved = [conn.execute(waiting).rowcount, conn.execute(checking).rowcount]
            again, threads = _requeue_failed(conn, scope, now) if failed else (0, 0)
    return Requeued(moved[0], moved[1], again, threads)


def _requeue_failed(conn: sa.Connection, scope: Any, now: datetime) -> tuple[int, int]:
    """Failed rows go back to pending; threads skipped because their card failed come too."""
    failed = sa.and_(scope, OUTBOX.c.status == OutboxStatus.FAILED)
    cards = conn.execute(
        sa.select(OUTBOX.c.case_id).where(failed, OUTBOX.c.kind == DeliveryKind.CARD)
    ).scalars()
    case_ids = [c for c in cards if c is not None]
    fresh = {"status": OutboxStatus.PENDING, "attempts": 0, "checks": 0, "next_attempt_at": now}
    again = conn.execute(sa.update(OUTBOX).where(failed).values(**fresh)).rowcount
    threads = 0
    if case_ids:
        threads = conn.execute(
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.case_id.in_(case_ids),
                OUTBOX.c.kind == DeliveryKind.THREAD,
                OUTBOX.c.status == OutboxStatus.SKIPPED,
            )
            .values(**fresh)
        ).rowcount
    return again, threads
