"""The timers' state changes: each due step, breach, reminder and re-survey is claimed once.

Every sweep claims its work through `claim_due`: a compare-and-set `UPDATE ... WHERE <not yet
done>` inside one transaction, together with the outbox rows it owes, so a step fires exactly
once however many replicas sweep and however often a sweep is retried. On PostgreSQL, rows
another replica is working on are skipped (`FOR UPDATE SKIP LOCKED`) instead of waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.details import EscalatedDetail, OverdueDetail
from bot.domain.vocabulary import (
    INTERACTIVE_PRIORITY,
    SYSTEM_ACTOR,
    Action,
    CaseStatus,
    DeliveryKind,
    StepKind,
)
from storage.activity import insert_activities
from storage.models import Account, EscalationStep, FollowUpCase
from storage.outbox import WEBHOOK_CHANNEL
from storage.outbox_rows import OutboxRow, card_feedback, insert_outbox, outbox_row
from storage.sql import Bulk, among, skip_locked, writing

STEP = EscalationStep.__table__
CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__

Target = Callable[[str, str | None, str | None], str | None]


@dataclass(frozen=True)
class Fired:
    """A ladder step that fired: who was told, whether the case moved, how late it was."""

    step_id: int
    case_id: int
    notify: str
    target: str | None
    reassigned: bool
    late_by: timedelta


def claim_due(
    conn: sa.Connection,
    due: sa.Select[Any],
    *,
    table: sa.Table,
    unclaimed: sa.ColumnElement[bool],
    values: Mapping[str, Any],
) -> list[sa.Row[Any]]:
    """Lock the due rows, skipping cases another replica holds, and claim those still unclaimed.

    `due` selects `table`'s id as `id` (joined to the case); the claim sets `values` where
    `unclaimed` still holds. The rows this call won come back, in `due`'s order.
    """
    rows = conn.execute(skip_locked(due, of=CASE)).all()
    if not rows:
        return []
    claim = (
        sa.update(table)
        .where(among(conn, table.c.id, [r.id for r in rows]), unclaimed)
        .values(**values)
        .returning(table.c.id)
    )
    won = set(conn.execute(claim).scalars())
    return [r for r in rows if r.id in won]


def _acted_on() -> sa.ColumnElement[bool]:
    """Someone has picked the case up (claimed, contacted or resolved it)."""
    return sa.or_(
        CASE.c.status == CaseStatus.RESOLVED,
        CASE.c.claimed_by.is_not(None),
        CASE.c.first_contact_at.is_not(None),
    )


def _due_steps(now: datetime, limit: int) -> sa.Select[Any]:
    """Unfired, uncancelled ladder steps due by `now`, oldest first, with their case."""
    return (
        sa.select(
            STEP.c.id,
            STEP.c.case_id,
            STEP.c.notify,
            STEP.c.reassign,
            STEP.c.due_at,
            _acted_on().label("acted"),
            CASE.c.owner_ref,
            CASE.c.owner_user_id,
            CASE.c.card_channel,
            ACCOUNT.c.arr,
        )
        .join(CASE, CASE.c.id == STEP.c.case_id)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            STEP.c.kind == StepKind.LADDER,
            STEP.c.fired_at.is_(None),
            STEP.c.cancelled_at.is_(None),
            STEP.c.due_at <= now,
        )
        .order_by(STEP.c.due_at, STEP.c.id)
        .limit(limit)
    )


def fire_due_steps(
    engine: sa.Engine, *, now: datetime, target: Target, late_after: timedelta, limit: int = 1000
) -> list[Fired]:
    """Fire the ladder steps that are due, once each; cancel those whose case was acted on.

    `target(notify, owner_ref, owner_user_id)` names the Slack user a step goes to.
    """
    due = _due_steps(now, limit)
    # Who each step goes to may need Slack (an email to resolve): decide it before taking the
    # write lock, then fire under the lock only what is still unfired.
    with engine.connect() as conn:
        preview = conn.execute(due).all()
    if not preview:
        return []
    targets = {r.id: target(r.notify, r.owner_ref, r.owner_user_id) for r in preview if not r.acted}
    acted = _acted_on()
    unfired = sa.and_(STEP.c.fired_at.is_(None), STEP.c.cancelled_at.is_(None))
    with writing(engine) as conn:
        mine = due.where(among(conn, STEP.c.id, [r.id for r in preview]))
        claim_due(
            conn, mine.where(acted), table=STEP, unclaimed=unfired, values={"cancelled_at": now}
        )
        chosen = claim_due(
            conn, mine.where(~acted), table=STEP, unclaimed=unfired, values={"fired_at": now}
        )
        fired = [_fired(r, targets.get(r.id), now=now) for r in chosen]
        for f in fired:
            if f.reassigned:
                conn.execute(
                    sa.update(CASE)
                    .where(CASE.c.id == f.case_id)
                    .values(owner_user_id=f.target, owner_ref=f.target, updated_at=now)
                )
        details = [_escalated(r, f, late_after) for r, f in zip(chosen, fired, strict=True)]
        ids = insert_activities(
            conn,
            [
                (r.case_id, now, SYSTEM_ACTOR, Action.ESCALATED, d)
                for r, d in zip(chosen, details, strict=True)
            ],
        )
        outbox: list[OutboxRow] = []
        for r, f, activity_id in zip(chosen, fired, ids, strict=True):
            outbox += _escalation_deliveries(r, f, activity_id, now=now)
        insert_outbox(conn, outbox)
    return fired


def _fired(row: sa.Row[Any], who: str | None, *, now: datetime) -> Fired:
    """The step as fired: it moves the case only to someone new when it reassigns."""
    reassign = bool(row.reassign and who and who != row.owner_user_id)
    return Fired(
        row.id, row.case_id, row.notify, who, reassign, max(now - row.due_at, timedelta(0))
    )


def _escalated(row: sa.Row[Any], fired: Fired, late_after: timedelta) -> EscalatedDetail:
    """What the activity says about a fired step; lateness only beyond `late_after`."""
    late = fired.late_by
    return {
        "step_id": row.id,
        "notify": row.notify,
        "role": row.notify.replace("_", " "),
        "to": fired.target,
        "reassigned": fired.reassigned,
        "from": row.owner_user_id or row.owner_ref,
        "late_seconds": int(late.total_seconds()) if late > late_after else 0,
    }


def _escalation_deliveries(
    row: sa.Row[Any], fired: Fired, activity_id: int, *, now: datetime
) -> list[OutboxRow]:
    """The DM to whoever is told; the thread always says so, the card changes with its owner."""
    dm = outbox_row(
        f"escalation:{row.id}",
        row.case_id,
        DeliveryKind.ESCALATION,
        {"activity_id": activity_id},
        arr=row.arr,
        now=now,
        channel=fired.target,
        priority=INTERACTIVE_PRIORITY,
    )
    feedback = card_feedback(
        row.case_id, activity_id, channel=row.card_channel, arr=row.arr, now=now
    )
    return [dm, *(feedback if fired.reassigned else feedback[1:])]


def _overdue(due: datetime) -> OverdueDetail:
    return {"due": due.isoformat()}


def note_breaches(engine: sa.Engine, *, now: datetime, limit: int = 1000) -> list[int]:
    """Mark cases whose contact deadline passed uncontacted; their cards then show overdue."""
    due = (
        sa.select(CASE.c.id, CASE.c.card_channel, ACCOUNT.c.arr, CASE.c.contact_due_at)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.overdue_at.is_(None),
            CASE.c.first_contact_at.is_(None),
            CASE.c.contact_due_at <= now,
            CASE.c.status != CaseStatus.RESOLVED,
            CASE.c.outside_pilot.is_(False),  # no card to mark, nobody to chase
        )
        .order_by(CASE.c.contact_due_at)
        .limit(limit)
    )
    with writing(engine) as conn:
        chosen = claim_due(
            conn, due, table=CASE, unclaimed=CASE.c.overdue_at.is_(None), values={"overdue_at": now}
        )
        ids = insert_activities(
            conn,
            [(r.id, now, SYSTEM_ACTOR, Action.OVERDUE, _overdue(r.contact_due_at)) for r in chosen],
        )
        outbox: list[OutboxRow] = []
        for r, activity_id in zip(chosen, ids, strict=True):
            outbox += card_feedback(r.id, activity_id, channel=r.card_channel, arr=r.arr, now=now)
        insert_outbox(conn, outbox)
    return [r.id for r in chosen]


def send_reminders(
    engine: sa.Engine, *, today: date, now: datetime, limit: int = 1000
) -> list[int]:
    """Remind owners of the follow-ups they set for today (or missed while the bot was down)."""
    not_reminded = sa.or_(
        CASE.c.follow_up_reminded_on.is_(None),
        CASE.c.follow_up_reminded_on < CASE.c.next_follow_up_on,
    )
    due = (
        sa.select(CASE.c.id, CASE.c.next_follow_up_on, CASE.c.owner_user_id, ACCOUNT.c.arr)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.next_follow_up_on <= today,
            not_reminded,
            CASE.c.status != CaseStatus.RESOLVED,
        )
        .limit(limit)
    )
    with writing(engine) as conn:
        chosen = claim_due(
            conn,
            due,
            table=CASE,
            unclaimed=not_reminded,
            values={"follow_up_reminded_on": CASE.c.next_follow_up_on},
        )
        outbox = []
        for r in chosen:
            day = r.next_follow_up_on.isoformat()
            payload = {"template": "follow_up", "on": day}
            outbox.append(
                outbox_row(
                    f"reminder:{r.id}:{day}",
                    r.id,
                    DeliveryKind.REMINDER,
                    payload,
                    arr=r.arr,
                    now=now,
                    channel=r.owner_user_id,
                )
            )
        insert_outbox(conn, outbox)
    return [r.id for r in chosen]


def request_resurveys(
    engine: sa.Engine, *, today: date, now: datetime, webhook: bool, limit: int = 1000
) -> list[int]:
    """Ask owners to re-survey resolved customers whose date has come; also the platform."""
    due = (
        sa.select(CASE.c.id, CASE.c.owner_user_id, ACCOUNT.c.arr)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.status == CaseStatus.RESOLVED,
            CASE.c.resurvey_on <= today,
            CASE.c.resurvey_requested_at.is_(None),
        )
        .limit(limit)
    )
    with writing(engine) as conn:
        chosen = claim_due(
            conn,
            due,
            table=CASE,
            unclaimed=CASE.c.resurvey_requested_at.is_(None),
            values={"resurvey_requested_at": now},
        )
        outbox = []
        for r in chosen:
            common: dict[str, Any] = {"arr": r.arr, "now": now}
            outbox.append(
                outbox_row(
                    f"resurvey:{r.id}",
                    r.id,
                    DeliveryKind.RESURVEY,
                    {},
                    channel=r.owner_user_id,
                    **common,
                )
            )
            if webhook:
                outbox.append(
                    outbox_row(
                        f"resurvey_webhook:{r.id}",
                        r.id,
                        DeliveryKind.RESURVEY_WEBHOOK,
                        {},
                        channel=WEBHOOK_CHANNEL,
                        **common,
                    )
                )
        insert_outbox(conn, outbox)
    return [r.id for r in chosen]


def oldest_overdue_step(engine: sa.Engine, *, now: datetime, grace: timedelta) -> datetime | None:
    """The due time of the oldest ladder step still unfired `grace` after it was due."""
    query = sa.select(sa.func.min(STEP.c.due_at)).where(
        STEP.c.fired_at.is_(None),
        STEP.c.cancelled_at.is_(None),
        STEP.c.due_at <= now - grace,
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def claim_daily_job(engine: sa.Engine, job: str, day: date, *, now: datetime) -> bool:
    """True for the one replica that gets to run `job` on `day`; False for everyone else."""
    with writing(engine) as conn:
        sql = " ON CONFLICT (job, day) DO NOTHING RETURNING job"
        result = Bulk(conn).insert("job_run", ("job", "day:d", "ran_at:t"), [(job, day, now)], sql)
        return result.first() is not None
