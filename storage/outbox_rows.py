"""The outbox rows a state change owes: built here for the intake, case changes and the timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import INTERACTIVE_PRIORITY, DeliveryKind, OutboxStatus
from storage.sql import Bulk

OUTBOX_COLUMNS = (
    "dedupe_key",
    "case_id",
    "kind",
    "payload:j",
    "priority",
    "arr",
    "status",
    "attempts",
    "next_attempt_at:t",
    "created_at:t",
    "channel",
)

OutboxRow = tuple[Any, ...]


def outbox_row(
    key: str,
    case_id: int,
    kind: DeliveryKind,
    payload: dict[str, Any],
    *,
    arr: float | None,
    now: datetime,
    channel: str | None = None,
    priority: int = 0,
) -> OutboxRow:
    """A delivery due now, in `OUTBOX_COLUMNS` order; `key` makes it happen once."""
    return (
        key,
        case_id,
        kind,
        payload,
        priority,
        arr or 0.0,
        OutboxStatus.PENDING,
        0,
        now,
        now,
        channel,
    )


def card_feedback(
    case_id: int, activity_id: int, *, channel: str | None, arr: float | None, now: datetime
) -> list[OutboxRow]:
    """The card update and the thread line a visible change owes, ahead of any new card."""
    common: dict[str, Any] = {
        "arr": arr,
        "now": now,
        "channel": channel,
        "priority": INTERACTIVE_PRIORITY,
    }
    return [
        outbox_row(
            f"update:{case_id}:{activity_id}", case_id, DeliveryKind.CARD_UPDATE, {}, **common
        ),
        outbox_row(
            f"thread:{activity_id}",
            case_id,
            DeliveryKind.THREAD,
            {"activity_id": activity_id},
            **common,
        ),
    ]


def insert_outbox(conn: sa.Connection, rows: Sequence[OutboxRow]) -> None:
    """Queue the rows in the caller's transaction."""
    Bulk(conn).copy("outbox", OUTBOX_COLUMNS, rows)
