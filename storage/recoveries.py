"""Re-survey answers linked to the resolved case they answer: the case's recovery score, an
activity row, the card re-rendered and a DM to the owner and the CX lead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bot.domain.details import RecoveredDetail
from bot.domain.vocabulary import SYSTEM_ACTOR, Action, CaseStatus, DeliveryKind, Segment
from storage.activity import insert_activities
from storage.models import Account, FollowUpCase
from storage.outbox_rows import OutboxRow, card_feedback, insert_outbox, outbox_row

if TYPE_CHECKING:
    from storage.intake import ResponseData

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
TOLD = ("owner", "cx_lead")
"""Who hears of a Detractor's recovery: the case owner and the CX lead."""


def link_recoveries(
    conn: sa.Connection, responses: Sequence[ResponseData], *, now: datetime
) -> None:
    """Link re-survey answers to the resolved case they answer: its recovery score.

    A response names the one it re-surveys (`resurvey_of`); otherwise the same customer's next
    response after a resolution counts. One query per group finds the candidates.
    """
    if not responses:
        return
    customers = {r.customer.id for r in responses}
    named = {r.resurvey_of for r in responses if r.resurvey_of}
    query = (
        sa.select(
            CASE.c.id,
            CASE.c.response_id,
            CASE.c.customer_id,
            CASE.c.resolved_at,
            CASE.c.score,
            CASE.c.segment,
            CASE.c.card_channel,
            ACCOUNT.c.arr,
        )
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.recovery_score.is_(None),
            sa.or_(
                CASE.c.response_id.in_(named),
                sa.and_(CASE.c.customer_id.in_(customers), CASE.c.status == CaseStatus.RESOLVED),
            ),
        )
        .order_by(CASE.c.resolved_at.desc())
    )
    candidates = conn.execute(query).all()
    if not candidates:
        return
    taken: set[int] = set()
    for response in sorted(responses, key=lambda r: r.received_at):
        match = next((c for c in candidates if c.id not in taken and _answers(response, c)), None)
        if match is None:
            continue
        taken.add(match.id)
        landed = conn.execute(
            sa.update(CASE)
            .where(CASE.c.id == match.id, CASE.c.recovery_score.is_(None))
            .values(
                recovery_score=response.score,
                recovery_response_id=response.response_id,
                recovered_at=response.received_at,
                updated_at=now,
            )
            .returning(CASE.c.id)
        ).first()
        if landed is not None:
            _announce(conn, match, response, now=now)


def _announce(
    conn: sa.Connection, case: sa.Row[Any], response: ResponseData, *, now: datetime
) -> None:
    """The activity row of a recovery, the card update and thread line, and for a Detractor
    the DMs to the owner and the CX lead."""
    detail: RecoveredDetail = {
        "response_id": response.response_id,
        "score": case.score,
        "recovery_score": response.score,
    }
    activity = (case.id, now, SYSTEM_ACTOR, Action.RECOVERED, dict(detail))
    [activity_id] = insert_activities(conn, [activity])
    rows: list[OutboxRow] = card_feedback(
        case.id, activity_id, channel=case.card_channel, arr=case.arr, now=now
    )
    rows += [
        outbox_row(
            f"recovery:{case.id}:{notify}:{activity_id}",
            case.id,
            DeliveryKind.RECOVERY,
            {"activity_id": activity_id, "notify": notify},
            arr=case.arr,
            now=now,
        )
        for notify in (TOLD if case.segment == Segment.DETRACTOR else ())
    ]
    insert_outbox(conn, rows)


def _answers(response: ResponseData, case: sa.Row[Any]) -> bool:
    """Whether `response` is the re-survey of `case`: named, or the customer's next answer."""
    if response.resurvey_of:
        return case.response_id == response.resurvey_of
    return (
        case.customer_id == response.customer.id
        and case.resolved_at is not None
        and case.resolved_at < response.received_at
        and case.response_id != response.response_id
    )
