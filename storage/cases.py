"""Changes to a follow-up case, each a compare-and-set in one transaction, and the case reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.domain.details import (
    ContactDetail,
    NudgedDetail,
    ReassignedDetail,
    ResolvedDetail,
    RootCauseDetail,
)
from bot.domain.vocabulary import (
    INTERACTIVE_PRIORITY,
    Action,
    CaseStatus,
    ContactMethod,
    ContactOutcome,
    DeliveryKind,
    Handoff,
    OutboxStatus,
    StepKind,
)
from storage.db import begin_immediate
from storage.models import Account, Activity, Customer, EscalationStep, FollowUpCase, OutboxMessage

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
CUSTOMER = Customer.__table__
ACTIVITY = Activity.__table__
OUTBOX = OutboxMessage.__table__
STEP = EscalationStep.__table__

ROOT_CAUSE_MAX = 100

# The columns every decision below reads; the update only lands if none of them moved meanwhile.
_DECIDED_ON = ("status", "claimed_by", "owner_user_id", "root_cause", "contact_count")
_ATTEMPTS = 5

OPEN = CaseStatus.OPEN.value
CLAIMED = CaseStatus.CLAIMED.value
CONTACTED = CaseStatus.CONTACTED.value
RESOLVED = CaseStatus.RESOLVED.value


@dataclass(frozen=True)
class Change:
    """The outcome of a change: the case as it now stands, and the activity row it wrote."""

    ok: bool
    reason: str | None
    case: FollowUpCase | None
    activity_id: int | None


@dataclass(frozen=True)
class _Extra:
    """An outbox row a change owes beyond the card update and the thread reply."""

    kind: str
    key: str
    channel: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class _Plan:
    values: dict[str, Any]
    detail: dict[str, Any]
    extras: tuple[_Extra, ...] = ()


Decide = Callable[[FollowUpCase], "_Plan | str"]


def _case(row: sa.Row[Any]) -> FollowUpCase:
    return FollowUpCase.model_validate({c.name: row._mapping[c.name] for c in CASE.c})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _unchanged(case: FollowUpCase) -> sa.ColumnElement[bool]:
    return sa.and_(
        *(CASE.c[name].is_not_distinct_from(getattr(case, name)) for name in _DECIDED_ON)
    )


def _outbox_row(
    *,
    key: str,
    case: FollowUpCase,
    kind: str,
    payload: dict[str, Any],
    arr: float | None,
    channel: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "case_id": case.id,
        "kind": kind,
        "payload": payload,
        "priority": INTERACTIVE_PRIORITY,
        "arr": arr or 0.0,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "channel": channel,
    }


def _apply(
    engine: sa.Engine, case_id: int, *, actor: str, action: str, now: datetime, decide: Decide
) -> Change:
    """Lock the case, decide, and write the change, its activity and its outbox rows at once."""
    locked = (
        sa.select(CASE, ACCOUNT.c.arr.label("account_arr"))
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(CASE.c.id == case_id)
        .with_for_update(of=CASE)
    )
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            for _ in range(_ATTEMPTS):
                seen = conn.execute(locked).first()
                if seen is None:
                    return Change(False, "not_found", None, None)
                case = _case(seen)
                plan = decide(case)
                if isinstance(plan, str):
                    return Change(False, plan, case, None)
                stmt = (
                    sa.update(CASE)
                    .where(CASE.c.id == case_id, _unchanged(case))
                    .values(**plan.values, updated_at=now)
                    .returning(*CASE.c)
                )
                updated = conn.execute(stmt).first()
                if updated is not None:
                    break
            else:
                raise RuntimeError(f"case {case_id} kept changing during {action}")
            fresh = _case(updated)
            if _ends_ladder(plan.values):
                _stop_ladder(conn, case_id, now=now)
            activity_id = conn.execute(
                sa.insert(ACTIVITY)
                .values(case_id=case_id, at=now, actor=actor, action=action, detail=plan.detail)
                .returning(ACTIVITY.c.id)
            ).scalar_one()
            arr = seen.account_arr
            rows = [
                _outbox_row(
                    key=f"update:{case_id}:{activity_id}",
                    case=fresh,
                    kind=DeliveryKind.CARD_UPDATE,
                    payload={},
                    arr=arr,
                    channel=fresh.card_channel,
                    now=now,
                ),
                _outbox_row(
                    key=f"thread:{activity_id}",
                    case=fresh,
                    kind=DeliveryKind.THREAD,
                    payload={"activity_id": activity_id},
                    arr=arr,
                    channel=fresh.card_channel,
                    now=now,
                ),
            ]
            for extra in plan.extras:
                payload: dict[str, Any] = {"activity_id": activity_id}
                if extra.template is not None:
                    payload["template"] = extra.template
                rows.append(
                    _outbox_row(
                        key=f"{extra.key}:{activity_id}",
                        case=fresh,
                        kind=extra.kind,
                        payload=payload,
                        arr=arr,
                        channel=extra.channel,
                        now=now,
                    )
                )
            conn.execute(sa.insert(OUTBOX), rows)
    return Change(True, None, fresh, activity_id)


def _ends_ladder(values: dict[str, Any]) -> bool:
    """Whether a change means someone has picked the case up (claim, contact or resolution)."""
    return bool(
        values.get("claimed_by")
        or values.get("first_contact_at")
        or values.get("status") == RESOLVED
    )


def _stop_ladder(conn: sa.Connection, case_id: int, *, now: datetime) -> None:
    """Cancel the case's escalation ladder steps that have not fired yet."""
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


def claim(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Take an open, unclaimed case; anyone later is refused with "already_claimed"."""

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        if case.status != OPEN or case.claimed_by is not None:
            return "already_claimed"
        return _Plan({"status": CLAIMED, "claimed_by": actor, "claimed_at": now}, {})

    return _apply(engine, case_id, actor=actor, action=Action.CLAIMED, now=now, decide=decide)


def log_contact(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    how: str,
    outcome: str,
    notes: str | None,
    next_follow_up: date | None,
    now: datetime,
) -> Change:
    """Record a contact attempt; reaching the customer makes the case "contacted"."""
    if how not in set(ContactMethod):
        raise ValueError(f"unknown contact method: {how!r}")
    if outcome not in set(ContactOutcome):
        raise ValueError(f"unknown contact outcome: {outcome!r}")
    detail: ContactDetail = {
        "how": how,
        "outcome": outcome,
        "notes": notes,
        "next_follow_up": _iso(next_follow_up),
    }

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        values: dict[str, Any] = {"contact_count": case.contact_count + 1, "last_contact_at": now}
        if next_follow_up is not None:
            values["next_follow_up_on"] = next_follow_up
        if case.claimed_by is None:
            values.update(claimed_by=actor, claimed_at=now)
        if outcome == ContactOutcome.REACHED:
            values["status"] = CONTACTED
            if case.first_contact_at is None:
                values["first_contact_at"] = now
        elif case.status == OPEN:
            values["status"] = CLAIMED
        return _Plan(values, detail)

    return _apply(
        engine, case_id, actor=actor, action=Action.CONTACT_LOGGED, now=now, decide=decide
    )


def log_root_cause(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    cause: str,
    notes: str | None,
    action_items: str | None,
    next_follow_up: date | None,
    escalation: str | None,
    now: datetime,
) -> Change:
    """Record why the customer is unhappy and what comes next, escalating when asked."""
    cause = cause.strip()
    if not cause or len(cause) > ROOT_CAUSE_MAX:
        raise ValueError(f"a root cause takes 1 to {ROOT_CAUSE_MAX} characters")
    if escalation is not None and escalation not in set(Handoff):
        raise ValueError(f"unknown escalation: {escalation!r}")
    detail: RootCauseDetail = {
        "cause": cause,
        "notes": notes,
        "action_items": action_items,
        "next_follow_up": _iso(next_follow_up),
        "escalation": escalation,
    }
    extras: tuple[_Extra, ...] = ()
    if escalation == Handoff.PRODUCT:
        extras = (_Extra(DeliveryKind.TICKET, "ticket"),)
    elif escalation == Handoff.SUPPORT:
        extras = (_Extra(DeliveryKind.SUPPORT_REVIEW, "review"),)

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        values: dict[str, Any] = {
            "root_cause": cause,
            "root_cause_notes": notes,
            "action_items": action_items,
        }
        if next_follow_up is not None:
            values["next_follow_up_on"] = next_follow_up
        return _Plan(values, detail, extras)

    return _apply(
        engine, case_id, actor=actor, action=Action.ROOT_CAUSE_LOGGED, now=now, decide=decide
    )


def resolve(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    summary: str,
    satisfied: bool | None,
    root_cause: str | None,
    resurvey_on: date | None,
    now: datetime,
) -> Change:
    """Close a case with its outcome; a root cause must be on the case or given here."""
    root_cause = (root_cause or "").strip() or None
    if root_cause is not None and len(root_cause) > ROOT_CAUSE_MAX:
        raise ValueError(f"a root cause takes 1 to {ROOT_CAUSE_MAX} characters")
    detail: ResolvedDetail = {
        "summary": summary,
        "satisfied": satisfied,
        "root_cause": root_cause,
        "resurvey_on": _iso(resurvey_on),
    }

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        if root_cause is None and not case.root_cause:
            return "root_cause_required"
        values: dict[str, Any] = {
            "status": RESOLVED,
            "resolved_at": now,
            "resolution_summary": summary,
            "customer_satisfied": satisfied,
            "resurvey_on": resurvey_on,
        }
        if root_cause is not None:
            values["root_cause"] = root_cause
        return _Plan(values, detail)

    return _apply(engine, case_id, actor=actor, action=Action.RESOLVED, now=now, decide=decide)


def mark_done(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Close a Passive or Promoter case ("Done") without a contact or root cause."""

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        return _Plan({"status": RESOLVED, "resolved_at": now}, {})

    return _apply(engine, case_id, actor=actor, action=Action.DONE, now=now, decide=decide)


def reassign(
    engine: sa.Engine, case_id: int, *, actor: str, new_owner: str, now: datetime
) -> Change:
    """Give the case to another Slack user; a claim nobody acted on is released."""

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        if case.owner_user_id == new_owner:
            return "same_owner"
        values: dict[str, Any] = {"owner_user_id": new_owner, "owner_ref": new_owner}
        if case.status == CLAIMED:
            values.update(status=OPEN, claimed_by=None, claimed_at=None)
        detail: ReassignedDetail = {"from": case.owner_user_id or case.owner_ref, "to": new_owner}
        return _Plan(values, detail, (_Extra(DeliveryKind.DM, "dm", new_owner, "reassigned"),))

    return _apply(engine, case_id, actor=actor, action=Action.REASSIGNED, now=now, decide=decide)


def nudge(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """A manager asks the owner to follow up now; the owner gets a DM."""

    def decide(case: FollowUpCase) -> _Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        owner = case.owner_user_id
        nudged: NudgedDetail = {"to": owner}
        return _Plan({}, dict(nudged), (_Extra(DeliveryKind.NUDGE, "nudge", owner),))

    return _apply(engine, case_id, actor=actor, action=Action.NUDGED, now=now, decide=decide)


def get_case(engine: sa.Engine, case_id: int) -> FollowUpCase | None:
    """The case with this id, or None."""
    with Session(engine) as session:
        return session.get(FollowUpCase, case_id)


def activity_for(engine: sa.Engine, activity_id: int) -> Activity | None:
    """The activity row with this id, or None."""
    with Session(engine) as session:
        return session.get(Activity, activity_id)


def case_activity(engine: sa.Engine, case_id: int) -> list[Activity]:
    """The case's activity, oldest first."""
    query = select(Activity).where(Activity.case_id == case_id).order_by(Activity.at, Activity.id)
    with Session(engine) as session:
        return list(session.exec(query).all())


@dataclass(frozen=True)
class HomeRow:
    """One line of a person's open cases."""

    case_id: int
    segment: str
    score: int
    status: str
    customer_name: str
    account_name: str
    arr: float | None
    contact_due_at: datetime
    overdue: bool
    card_channel: str | None
    card_ts: str | None


def open_cases_for(
    engine: sa.Engine, user_id: str, *, now: datetime, limit: int = 25
) -> list[HomeRow]:
    """Unresolved cases `user_id` owns or claimed: overdue first, then by ARR, then oldest."""
    overdue = sa.and_(CASE.c.contact_due_at < now, CASE.c.first_contact_at.is_(None))
    overdue_rank = sa.case((overdue, 0), else_=1).label("overdue_rank")
    query = (
        sa.select(
            CASE.c.id,
            CASE.c.segment,
            CASE.c.score,
            CASE.c.status,
            CASE.c.contact_due_at,
            CASE.c.card_channel,
            CASE.c.card_ts,
            CUSTOMER.c.name.label("customer_name"),
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.arr,
            overdue_rank,
        )
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .join(CUSTOMER, CUSTOMER.c.id == CASE.c.customer_id)
        .where(
            CASE.c.status != RESOLVED,
            sa.or_(CASE.c.owner_user_id == user_id, CASE.c.claimed_by == user_id),
        )
        .order_by(
            overdue_rank,
            ACCOUNT.c.arr.desc().nulls_last(),
            CASE.c.received_at,
            CASE.c.id,
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            HomeRow(
                case_id=row.id,
                segment=row.segment,
                score=row.score,
                status=row.status,
                customer_name=row.customer_name,
                account_name=row.account_name,
                arr=row.arr,
                contact_due_at=row.contact_due_at,
                overdue=row.overdue_rank == 0,
                card_channel=row.card_channel,
                card_ts=row.card_ts,
            )
            for row in conn.execute(query)
        ]
