"""A response delivered again with a change (a comment that came later, an edited score): the
stored answer is updated and its case re-planned, in the intake writer's transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.details import AnswerUpdatedDetail
from bot.domain.vocabulary import (
    PRIORITY_RANK,
    SYSTEM_ACTOR,
    Action,
    CaseStatus,
    DeliveryKind,
    Priority,
    StepKind,
)
from storage.activity import insert_activities
from storage.models import (
    Account,
    Activity,
    EscalationStep,
    FollowUpCase,
    OutboxMessage,
    SurveyResponse,
)
from storage.outbox_rows import OutboxRow, card_feedback, insert_outbox, outbox_row

RESPONSE = SurveyResponse.__table__
CASE = FollowUpCase.__table__
STEP = EscalationStep.__table__
OUTBOX = OutboxMessage.__table__
ACTIVITY = Activity.__table__
ACCOUNT = Account.__table__


@dataclass(frozen=True)
class Replan:
    """A response's new answer and what the policy now decides for it."""

    response_id: str
    score: int
    comment: str | None
    segment: str
    priority: Priority
    reasons: list[str]
    suggest_email_first: bool
    contact_due_at: datetime
    resolution_due_at: datetime
    policy: dict[str, Any]
    ladder: list[tuple[int, str, datetime, bool]] = field(default_factory=list)
    alerts: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(notify, reason, known channel) of each immediate alert the answer calls for."""
    tier: str | None = None


def _case_values(seen: Any, plan: Replan) -> dict[str, Any]:
    """What changes on the case: reasons always; deadlines and segment only while untouched."""
    values: dict[str, Any] = {
        "reasons": plan.reasons,
        "suggest_email_first": plan.suggest_email_first,
        "score": plan.score,
    }
    untouched = seen.claimed_by is None and seen.first_contact_at is None
    if plan.segment == seen.segment:
        values["contact_due_at"] = min(seen.contact_due_at, plan.contact_due_at)
        if PRIORITY_RANK[plan.priority] < PRIORITY_RANK[Priority(seen.priority)]:
            values.update(priority=plan.priority, tier=plan.tier)
    elif untouched:
        values.update(
            priority=plan.priority,
            tier=plan.tier,
            segment=plan.segment,
            contact_due_at=plan.contact_due_at,
            resolution_due_at=plan.resolution_due_at,
            policy=plan.policy,
        )
    return values


def _new_ladder(conn: sa.Connection, case_id: int, plan: Replan, now: datetime) -> None:
    """A changed segment gets the new segment's ladder; unfired old steps are cancelled."""
    conn.execute(
        sa.update(STEP)
        .where(
            STEP.c.case_id == case_id,
            STEP.c.kind == StepKind.LADDER,
            STEP.c.fired_at.is_(None),
            STEP.c.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
    )
    last = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(STEP.c.seq), 0)).where(
            STEP.c.case_id == case_id, STEP.c.kind == StepKind.LADDER
        )
    ).scalar_one()
    rows = [
        {
            "case_id": case_id,
            "kind": StepKind.LADDER,
            "seq": last + i,
            "notify": notify,
            "reassign": reassign,
            "due_at": due_at,
        }
        for i, (_, notify, due_at, reassign) in enumerate(plan.ladder, start=1)
    ]
    if rows:
        conn.execute(sa.insert(STEP), rows)


def _new_alerts(conn: sa.Connection, seen: Any, plan: Replan, now: datetime) -> list[OutboxRow]:
    """Alerts for reasons the case did not have yet: fired now, each once."""
    known = conn.execute(
        sa.select(STEP.c.reason, STEP.c.seq).where(
            STEP.c.case_id == seen.id, STEP.c.kind == StepKind.ALERT
        )
    ).all()
    had = {reason for reason, _ in known}
    seq = max((s for _, s in known), default=0)
    outbox = []
    for notify, reason, channel in plan.alerts:
        if reason in had:
            continue
        seq += 1
        conn.execute(
            sa.insert(STEP).values(
                case_id=seen.id,
                kind=StepKind.ALERT,
                seq=seq,
                notify=notify,
                reassign=False,
                reason=reason,
                due_at=now,
                fired_at=now,
            )
        )
        outbox.append(
            outbox_row(
                f"alert:{seen.id}:{seq}",
                seen.id,
                DeliveryKind.ALERT,
                {"notify": notify, "reason": reason},
                arr=seen.arr,
                now=now,
                channel=channel,
                priority=PRIORITY_RANK[plan.priority],
            )
        )
    return outbox


def _lookup(conn: sa.Connection, response_ids: list[str]) -> dict[str, Any]:
    account = ACCOUNT
    query = (
        sa.select(
            RESPONSE.c.response_id,
            RESPONSE.c.score.label("stored_score"),
            RESPONSE.c.comment.label("stored_comment"),
            CASE.c.id,
            CASE.c.status,
            CASE.c.segment,
            CASE.c.priority,
            CASE.c.claimed_by,
            CASE.c.first_contact_at,
            CASE.c.contact_due_at,
            CASE.c.card_channel,
            account.c.arr,
        )
        .join(CASE, CASE.c.response_id == RESPONSE.c.response_id)
        .join(account, account.c.id == CASE.c.account_id)
        .where(RESPONSE.c.response_id.in_(response_ids))
        .order_by(CASE.c.id)
        .with_for_update(of=CASE)
    )
    return {row.response_id: row for row in conn.execute(query)}


def _changed_fields(plan: Replan, seen: Any, comment: str | None) -> list[str]:
    pairs = (("score", plan.score, seen.stored_score), ("comment", comment, seen.stored_comment))
    return [name for name, new, old in pairs if new != old]


def _apply(
    conn: sa.Connection, seen: Any, plan: Replan, comment: str | None, now: datetime
) -> None:
    """Update one response and its case; its activity row and the deliveries it owes."""
    conn.execute(
        sa.update(RESPONSE)
        .where(RESPONSE.c.response_id == plan.response_id)
        .values(score=plan.score, comment=comment)
    )
    outbox: list[OutboxRow] = []
    if seen.status != CaseStatus.RESOLVED:
        values = _case_values(seen, plan)
        conn.execute(sa.update(CASE).where(CASE.c.id == seen.id).values(**values, updated_at=now))
        if values.get("segment", seen.segment) != seen.segment:
            _new_ladder(conn, seen.id, plan, now)
        outbox += _new_alerts(conn, seen, plan, now)
    detail: AnswerUpdatedDetail = {"fields": _changed_fields(plan, seen, comment)}
    [activity_id] = insert_activities(
        conn, [(seen.id, now, SYSTEM_ACTOR, Action.ANSWER_UPDATED, detail)]
    )
    outbox += card_feedback(seen.id, activity_id, channel=seen.card_channel, arr=seen.arr, now=now)
    insert_outbox(conn, outbox)


def amend(conn: sa.Connection, plans: list[Replan], *, now: datetime) -> dict[str, int]:
    """Apply each changed answer; the case ids of the responses that changed."""
    seen_by_id = _lookup(conn, [p.response_id for p in plans]) if plans else {}
    changed: dict[str, int] = {}
    for plan in plans:
        seen = seen_by_id.get(plan.response_id)
        if seen is None:
            continue
        comment = plan.comment or seen.stored_comment  # a delivery without one keeps it
        if plan.score == seen.stored_score and comment == seen.stored_comment:
            continue
        _apply(conn, seen, plan, comment, now)
        changed[plan.response_id] = seen.id
    return changed
