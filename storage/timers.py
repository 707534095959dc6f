"""The timers' state changes: each due step, breach, reminder and re-survey is claimed once.

Every sweep claims its work with a compare-and-set `UPDATE ... WHERE <not yet done>` inside one
transaction, together with the outbox rows it owes, so a step fires exactly once however many
replicas sweep and however often a sweep is retried. On PostgreSQL, rows another replica is
working on are skipped (`FOR UPDATE SKIP LOCKED`) instead of waited for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.domain.details import EscalatedDetail, OverdueDetail
from bot.domain.vocabulary import (
    INTERACTIVE_PRIORITY,
    SYSTEM_ACTOR,
    Action,
    CaseStatus,
    DeliveryKind,
    StepKind,
)
from storage.db import begin_immediate
from storage.intake import ACTIVITY_COLUMNS, OUTBOX_COLUMNS, Bulk, outbox_row
from storage.models import (
    Account,
    Activity,
    EscalationStep,
    FollowUpCase,
    JobRun,
)
from storage.outbox import WEBHOOK_CHANNEL

STEP = EscalationStep.__table__
CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
ACTIVITY = Activity.__table__
JOB_RUN = JobRun.__table__


@dataclass(frozen=True)
class Fired:
    """A ladder step that fired: who was told, whether the case moved, how late it was."""

    step_id: int
    case_id: int
    notify: str
    target: str | None
    reassigned: bool
    late_by: timedelta


def _among(conn: sa.Connection, column: sa.Column[Any], ids: Sequence[int]) -> Any:
    """`column IN ids`; one array parameter on PostgreSQL instead of a thousand."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(ids), type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(ids)


def _lock_clause(conn: sa.Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=CASE)
    return query


def _card_feedback(
    case_id: int, activity_id: int, channel: str | None, arr: float | None, now: datetime
) -> list[tuple[Any, ...]]:
    """The card update and the thread line every visible change owes."""
    common = {"arr": arr, "now": now, "channel": channel, "priority": -1}
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


def _activities(
    conn: sa.Connection,
    rows: Sequence[tuple[Any, ...]],
    key: Callable[[int, dict[str, Any]], Any],
) -> dict[Any, int]:
    """Insert activity rows in bulk; their ids by `key(case_id, detail)`."""
    if not rows:
        return {}
    if conn.dialect.name == "postgresql":
        # Take the ids from the sequence first, then COPY: the fastest bulk path.
        ids = (
            conn.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence('activity', 'id'))"
                    " FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            )
            .scalars()
            .all()
        )
        Bulk(conn).copy(
            "activity", ("id", *ACTIVITY_COLUMNS), [(i, *r) for i, r in zip(ids, rows, strict=True)]
        )
        return {key(row[0], row[4]): i for i, row in zip(ids, rows, strict=True)}
    found: dict[Any, int] = {}
    for start in range(0, len(rows), 500):
        returned = Bulk(conn).insert(
            "activity",
            ACTIVITY_COLUMNS,
            rows[start : start + 500],
            " RETURNING id, case_id, detail",
        )
        # RETURNING does not promise the rows' order: match each id back by its content.
        for activity_id, case_id, detail in returned:
            detail = json.loads(detail) if isinstance(detail, str) else detail
            found[key(case_id, detail)] = activity_id
    return found


def _insert_outbox(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    Bulk(conn).copy("outbox", OUTBOX_COLUMNS, rows)


def fire_due_steps(
    engine: sa.Engine,
    *,
    now: datetime,
    target: Callable[[str, str | None, str | None], str | None],
    late_after: timedelta,
    limit: int = 1000,
) -> list[Fired]:
    """Fire the ladder steps that are due, once each; cancel those whose case was acted on.

    `target(notify, owner_ref, owner_user_id)` names the Slack user a step goes to.
    """
    due = (
        sa.select(
            STEP.c.id,
            STEP.c.case_id,
            STEP.c.notify,
            STEP.c.reassign,
            STEP.c.due_at,
            CASE.c.status,
            CASE.c.claimed_by,
            CASE.c.first_contact_at,
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
    fired: list[Fired] = []
    # Who each step goes to may need Slack (an email to resolve): decide it before taking the
    # write lock, then fire under the lock only what is still unfired.
    with engine.connect() as conn:
        preview = conn.execute(due).all()
    if not preview:
        return []
    targets = {
        r.id: target(r.notify, r.owner_ref, r.owner_user_id)
        for r in preview
        if not (r.status == CaseStatus.RESOLVED or r.claimed_by or r.first_contact_at)
    }
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            mine = due.where(_among(conn, STEP.c.id, [r.id for r in preview]))
            rows = conn.execute(_lock_clause(conn, mine)).all()
            acted = [
                r.id
                for r in rows
                if r.status == CaseStatus.RESOLVED or r.claimed_by or r.first_contact_at
            ]
            if acted:
                conn.execute(
                    sa.update(STEP)
                    .where(_among(conn, STEP.c.id, acted), STEP.c.fired_at.is_(None))
                    .values(cancelled_at=now)
                )
            live = [r for r in rows if r.id not in set(acted)]
            if not live:
                return []
            won = set(
                conn.execute(
                    sa.update(STEP)
                    .where(
                        _among(conn, STEP.c.id, [r.id for r in live]),
                        STEP.c.fired_at.is_(None),
                        STEP.c.cancelled_at.is_(None),
                    )
                    .values(fired_at=now)
                    .returning(STEP.c.id)
                ).scalars()
            )
            chosen = [r for r in live if r.id in won]
            activities, details = [], {}
            for r in chosen:
                who = targets.get(r.id)
                reassign = bool(r.reassign and who and who != r.owner_user_id)
                late = max(now - r.due_at, timedelta(0))
                details[r.id] = (who, reassign, late)
                detail: EscalatedDetail = {
                    "step_id": r.id,
                    "notify": r.notify,
                    "role": r.notify.replace("_", " "),
                    "to": who,
                    "reassigned": reassign,
                    "from": r.owner_user_id or r.owner_ref,
                    "late_seconds": int(late.total_seconds()) if late > late_after else 0,
                }
                activities.append((r.case_id, now, SYSTEM_ACTOR, Action.ESCALATED, detail))
            reassigned = {r.case_id: details[r.id][0] for r in chosen if details[r.id][1]}
            for case_id, who in reassigned.items():
                conn.execute(
                    sa.update(CASE)
                    .where(CASE.c.id == case_id)
                    .values(owner_user_id=who, owner_ref=who, updated_at=now)
                )
            ids = _activities(conn, activities, lambda case_id, detail: detail["step_id"])
            outbox: list[tuple[Any, ...]] = []
            for r in chosen:
                who, reassign, late = details[r.id]
                activity_id = ids[r.id]
                payload = {"activity_id": activity_id}
                outbox.append(
                    outbox_row(
                        f"escalation:{r.id}",
                        r.case_id,
                        DeliveryKind.ESCALATION,
                        payload,
                        arr=r.arr,
                        now=now,
                        channel=who,
                        priority=INTERACTIVE_PRIORITY,
                    )
                )
                # The thread always says who was told; the card changes only with its owner.
                feedback = _card_feedback(r.case_id, activity_id, r.card_channel, r.arr, now)
                outbox += feedback if reassign else feedback[1:]
                fired.append(Fired(r.id, r.case_id, r.notify, who, reassign, late))
            _insert_outbox(conn, outbox)
    return fired


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
        )
        .order_by(CASE.c.contact_due_at)
        .limit(limit)
    )
    noted: list[int] = []
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            rows = conn.execute(_lock_clause(conn, due)).all()
            if not rows:
                return []
            won = set(
                conn.execute(
                    sa.update(CASE)
                    .where(
                        _among(conn, CASE.c.id, [r.id for r in rows]), CASE.c.overdue_at.is_(None)
                    )
                    .values(overdue_at=now)
                    .returning(CASE.c.id)
                ).scalars()
            )
            chosen = [r for r in rows if r.id in won]
            activities = [
                (r.id, now, SYSTEM_ACTOR, Action.OVERDUE, _overdue(r.contact_due_at))
                for r in chosen
            ]
            ids = _activities(conn, activities, lambda case_id, detail: case_id)
            outbox: list[tuple[Any, ...]] = []
            for r in chosen:
                outbox += _card_feedback(r.id, ids[r.id], r.card_channel, r.arr, now)
                noted.append(r.id)
            _insert_outbox(conn, outbox)
    return noted


def send_reminders(
    engine: sa.Engine, *, today: date, now: datetime, limit: int = 1000
) -> list[int]:
    """Remind owners of the follow-ups they set for today (or missed while the bot was down)."""
    due = (
        sa.select(CASE.c.id, CASE.c.next_follow_up_on, CASE.c.owner_user_id, ACCOUNT.c.arr)
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(
            CASE.c.next_follow_up_on <= today,
            sa.or_(
                CASE.c.follow_up_reminded_on.is_(None),
                CASE.c.follow_up_reminded_on < CASE.c.next_follow_up_on,
            ),
            CASE.c.status != CaseStatus.RESOLVED,
        )
        .limit(limit)
    )
    sent: list[int] = []
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            rows = conn.execute(_lock_clause(conn, due)).all()
            outbox = []
            for r in rows:
                claimed = conn.execute(
                    sa.update(CASE)
                    .where(
                        CASE.c.id == r.id,
                        sa.or_(
                            CASE.c.follow_up_reminded_on.is_(None),
                            CASE.c.follow_up_reminded_on < r.next_follow_up_on,
                        ),
                    )
                    .values(follow_up_reminded_on=r.next_follow_up_on)
                ).rowcount
                if not claimed:
                    continue
                day = r.next_follow_up_on.isoformat()
                payload = {"template": "follow_up", "on": day}
                key = f"reminder:{r.id}:{day}"
                outbox.append(
                    outbox_row(
                        key,
                        r.id,
                        DeliveryKind.REMINDER,
                        payload,
                        arr=r.arr,
                        now=now,
                        channel=r.owner_user_id,
                    )
                )
                sent.append(r.id)
            _insert_outbox(conn, outbox)
    return sent


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
    asked: list[int] = []
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            rows = conn.execute(_lock_clause(conn, due)).all()
            if not rows:
                return []
            won = set(
                conn.execute(
                    sa.update(CASE)
                    .where(
                        _among(conn, CASE.c.id, [r.id for r in rows]),
                        CASE.c.resurvey_requested_at.is_(None),
                    )
                    .values(resurvey_requested_at=now)
                    .returning(CASE.c.id)
                ).scalars()
            )
            outbox = []
            for r in rows:
                if r.id not in won:
                    continue
                common = {"arr": r.arr, "now": now}
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
                    key = f"resurvey_webhook:{r.id}"
                    outbox.append(
                        outbox_row(
                            key,
                            r.id,
                            DeliveryKind.RESURVEY_WEBHOOK,
                            {},
                            channel=WEBHOOK_CHANNEL,
                            **common,
                        )
                    )
                asked.append(r.id)
            _insert_outbox(conn, outbox)
    return asked


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
    stmt = Bulk  # noqa: F841  (kept for symmetry with the inserts above)
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            sql = " ON CONFLICT (job, day) DO NOTHING RETURNING job"
            result = Bulk(conn).insert(
                "job_run", ("job", "day:d", "ran_at:t"), [(job, day, now)], sql
            )
            return result.first() is not None
