"""Changes to a follow-up case, each a compare-and-set in one transaction, and the case reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.details import (
    ContactDetail,
    NudgedDetail,
    ReassignedDetail,
    ResolvedDetail,
    RootCauseDetail,
)
from bot.domain.vocabulary import (
    Action,
    CaseStatus,
    ContactMethod,
    ContactOutcome,
    DeliveryKind,
    Handoff,
)
from storage.changes import Change, Extra, Plan, apply_change, case_from_row
from storage.models import Activity, FollowUpCase
from storage.open_cases import OpenCase, open_cases

CASE = FollowUpCase.__table__
ACTIVITY = Activity.__table__

ROOT_CAUSE_MAX = 100

OPEN = CaseStatus.OPEN.value
CLAIMED = CaseStatus.CLAIMED.value
CONTACTED = CaseStatus.CONTACTED.value
RESOLVED = CaseStatus.RESOLVED.value


def _activity(row: sa.Row[Any]) -> Activity:
    return Activity.model_validate(dict(row._mapping))


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def claim(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Take an open, unclaimed case; anyone later is refused with "already_claimed"."""

    def decide(case: FollowUpCase) -> Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        if case.status != OPEN or case.claimed_by is not None:
            return "already_claimed"
        return Plan({"status": CLAIMED, "claimed_by": actor, "claimed_at": now}, {})

    return apply_change(engine, case_id, actor=actor, action=Action.CLAIMED, now=now, decide=decide)


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

    def decide(case: FollowUpCase) -> Plan | str:
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
        return Plan(values, detail)

    return apply_change(
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
    extras: tuple[Extra, ...] = ()
    if escalation == Handoff.PRODUCT:
        extras = (Extra(DeliveryKind.TICKET, "ticket"),)
    elif escalation == Handoff.SUPPORT:
        extras = (Extra(DeliveryKind.SUPPORT_REVIEW, "review"),)

    def decide(case: FollowUpCase) -> Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        values: dict[str, Any] = {
            "root_cause": cause,
            "root_cause_notes": notes,
            "action_items": action_items,
        }
        if next_follow_up is not None:
            values["next_follow_up_on"] = next_follow_up
        return Plan(values, detail, extras)

    return apply_change(
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

    def decide(case: FollowUpCase) -> Plan | str:
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
        return Plan(values, detail)

    return apply_change(
        engine, case_id, actor=actor, action=Action.RESOLVED, now=now, decide=decide
    )


def mark_done(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Close a Passive or Promoter case ("Done") without a contact or root cause."""

    def decide(case: FollowUpCase) -> Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        return Plan({"status": RESOLVED, "resolved_at": now}, {})

    return apply_change(engine, case_id, actor=actor, action=Action.DONE, now=now, decide=decide)


def reassign(
    engine: sa.Engine, case_id: int, *, actor: str, new_owner: str, now: datetime
) -> Change:
    """Give the case to another Slack user; a claim nobody acted on is released."""

    def decide(case: FollowUpCase) -> Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        if case.owner_user_id == new_owner:
            return "same_owner"
        values: dict[str, Any] = {"owner_user_id": new_owner, "owner_ref": new_owner}
        if case.status == CLAIMED:
            values.update(status=OPEN, claimed_by=None, claimed_at=None)
        detail: ReassignedDetail = {"from": case.owner_user_id or case.owner_ref, "to": new_owner}
        return Plan(values, detail, (Extra(DeliveryKind.DM, "dm", new_owner, "reassigned"),))

    return apply_change(
        engine, case_id, actor=actor, action=Action.REASSIGNED, now=now, decide=decide
    )


def nudge(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """A manager asks the owner to follow up now; the owner gets a DM."""

    def decide(case: FollowUpCase) -> Plan | str:
        if case.status == RESOLVED:
            return "resolved"
        owner = case.owner_user_id
        nudged: NudgedDetail = {"to": owner}
        return Plan({}, dict(nudged), (Extra(DeliveryKind.NUDGE, "nudge", owner),))

    return apply_change(engine, case_id, actor=actor, action=Action.NUDGED, now=now, decide=decide)


def get_case(engine: sa.Engine, case_id: int) -> FollowUpCase | None:
    """The case with this id, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(CASE).where(CASE.c.id == case_id)).first()
    return None if row is None else case_from_row(row)


def activity_for(engine: sa.Engine, activity_id: int) -> Activity | None:
    """The activity row with this id, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(ACTIVITY).where(ACTIVITY.c.id == activity_id)).first()
    return None if row is None else _activity(row)


def case_activity(engine: sa.Engine, case_id: int) -> list[Activity]:
    """The case's activity, oldest first."""
    query = (
        sa.select(ACTIVITY)
        .where(ACTIVITY.c.case_id == case_id)
        .order_by(ACTIVITY.c.at, ACTIVITY.c.id)
    )
    with engine.connect() as conn:
        return [_activity(row) for row in conn.execute(query)]


def open_cases_for(
    engine: sa.Engine, user_id: str, *, now: datetime, limit: int = 25
) -> list[OpenCase]:
    """Unresolved cases `user_id` owns or claimed: overdue first, then by ARR, then oldest."""
    return open_cases(
        engine, now=now, owners=[user_id], claimed_too=True, overdue_first=True, limit=limit
    )
