"""The outbox's health for `/healthz`: degraded while delivery is paused or mail piles up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import OutboxStatus
from storage import outbox as store
from storage.outbox_admin import oldest_waiting

MAX_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class DeliveryState:
    """What a worker knows that the database does not: a pause and the last error it met."""

    paused: str | None = None
    paused_since: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class OutboxHealth:
    """Counts, the oldest wait, the pause and the last error code; `degraded` when stuck."""

    degraded: bool
    pending: int
    failed: int
    oldest_pending_seconds: int | None
    paused: str | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "failed": self.failed,
            "oldest_pending_seconds": self.oldest_pending_seconds,
            "paused": self.paused,
            "last_error": self.last_error,
        }


def outbox_health(
    engine: sa.Engine,
    state: DeliveryState | None,
    *,
    now: datetime,
    max_wait: timedelta = MAX_WAIT,
) -> OutboxHealth:
    """Degraded when delivery is paused or the oldest pending delivery waited over `max_wait`."""
    state = state or DeliveryState()
    counts = store.counts(engine)
    oldest = oldest_waiting(engine)
    age = max(now - oldest, timedelta(0)) if oldest is not None else None
    degraded = state.paused is not None or (age is not None and age > max_wait)
    return OutboxHealth(
        degraded=degraded,
        pending=counts.get(OutboxStatus.PENDING, 0) + counts.get(OutboxStatus.SENDING, 0),
        failed=counts.get(OutboxStatus.FAILED, 0),
        oldest_pending_seconds=int(age.total_seconds()) if age is not None else None,
        paused=state.paused,
        last_error=state.last_error,
    )
