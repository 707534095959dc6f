"""The resolution deadline's timers: a reminder a business day before it, the manager told after.

Both claim their cases compare-and-set through `claim_due`, so each fires once per case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import CaseStatus, DeliveryKind, Segment
from storage.models import Account, FollowUpCase
from storage.outbox_rows import OutboxRow, insert_outbox, outbox_row
from storage.sql import among, writing
from storage.timers import claim_due

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
LOOKAHEAD = timedelta(days=14)
"""How far ahead of a deadline to look for reminders: one business day back is never further."""

RemindAt = Callable[[Mapping[str, Any], datetime], datetime]


def _watched(*where: Any) -> sa.Select[Any]:
    """Contacted, unresolved Detractor cases with their deadline, owner and account."""
    return (
        sa.select(
            CASE.c.id,
            CASE.c.policy,
            CASE.c.resolution_due_at,
            CASE.c.owner_user_id,
            CASE.c.card_channel,
            ACCOUNT.c.arr,
        )
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.segment == Segment.DETRACTOR,
            CASE.c.status != CaseStatus.RESOLVED,
            CASE.c.first_contact_at.is_not(None),
            *where,
        )
        .order_by(CASE.c.resolution_due_at, CASE.c.id)
    )


def remind_resolutions(
    engine: sa.Engine, *, now: datetime, remind_at: RemindAt, limit: int = 1000
) -> list[int]:
    """DM owners whose resolution deadline is a business day away (or nearer), once per case."""
    waiting = CASE.c.resolution_reminded_at.is_(None)
    soon = _watched(waiting, CASE.c.resolution_due_at <= now + LOOKAHEAD).limit(limit)
    with engine.connect() as conn:
        due = [r.id for r in conn.execute(soon) if remind_at(r.policy, r.resolution_due_at) <= now]
    if not due:
        return []
    with writing(engine) as conn:
        mine = soon.where(among(conn, CASE.c.id, due))
        chosen = claim_due(
            conn, mine, table=CASE, unclaimed=waiting, values={"resolution_reminded_at": now}
        )
        rows = [_dm(r, DeliveryKind.RESOLUTION_REMINDER, now, r.owner_user_id) for r in chosen]
        insert_outbox(conn, rows)
    return [r.id for r in chosen]


def note_resolution_overdue(engine: sa.Engine, *, now: datetime, limit: int = 1000) -> list[int]:
    """Tell the manager of each case whose resolution deadline passed; its card then says so."""
    waiting = CASE.c.resolution_overdue_at.is_(None)
    due = _watched(waiting, CASE.c.resolution_due_at <= now).limit(limit)
    with writing(engine) as conn:
        chosen = claim_due(
            conn, due, table=CASE, unclaimed=waiting, values={"resolution_overdue_at": now}
        )
        rows: list[OutboxRow] = []
        for r in chosen:
            rows.append(_dm(r, DeliveryKind.RESOLUTION_OVERDUE, now, None))
            rows.append(
                outbox_row(
                    f"update:{r.id}:resolution_overdue",
                    r.id,
                    DeliveryKind.CARD_UPDATE,
                    {},
                    arr=r.arr,
                    now=now,
                    channel=r.card_channel,
                )
            )
        insert_outbox(conn, rows)
    return [r.id for r in chosen]


def _dm(row: sa.Row[Any], kind: DeliveryKind, now: datetime, to: str | None) -> OutboxRow:
    return outbox_row(f"{kind.value}:{row.id}", row.id, kind, {}, arr=row.arr, now=now, channel=to)
