"""The owner's state changes on a case, each one compare-and-set in a single transaction.

A change updates the case, records who did what in the activity log and queues what Slack must
be told (the card re-rendered, a line in its thread, a DM or a ticket) in the same transaction.
A refused change writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from storage.db import begin_immediate
from storage.intake import Bulk
from storage.models import Account, Activity, Customer, EscalationStep, FollowUpCase

CASE = FollowUpCase.__table__
STEP = EscalationStep.__table__

CONTACT_HOW = frozenset({"phone", "email", "video", "meeting"})
CONTACT_OUTCOME = frozenset({"reached", "voicemail", "no_answer"})
ESCALATIONS = frozenset({None, "product", "support"})

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
ACTIVITY_COLUMNS = ("case_id", "at:t", "actor", "action", "detail:j")
INTERACTIVE = -1  # feedback on a click goes out before new cards


@dataclass(frozen=True)
class Change:
    """The outcome of a state change: the case as it now is, or why nothing changed."""

    ok: bool
    reason: str | None
    case: FollowUpCase | None
    activity_id: int | None = None


@dataclass(frozen=True)
class Extra:
    """One more message a change owes besides the card update and the thread line."""

    kind: str
    key: str
    channel: str | None = None
    payload: dict[str, Any] | None = None


Mutate = Callable[[FollowUpCase], "str | tuple[dict[str, Any], dict[str, Any], list[Extra]]"]


def _change(
    engine: sa.Engine, case_id: int, *, actor: str, action: str, now: datetime, mutate: Mutate
) -> Change:
    """Lock the case, let `mutate` decide (a refusal reason, or new values and extras), apply."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin(), Session(bind=conn) as session:
            query = select(FollowUpCase).where(FollowUpCase.id == case_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            case = session.exec(query).first()
            if case is None:
                return Change(False, "not_found", None)
            decided = mutate(case)
            if isinstance(decided, str):
                session.expunge(case)
                return Change(False, decided, case)
            values, detail, extras = decided
            values["updated_at"] = now
            conn.execute(sa.update(CASE).where(CASE.c.id == case_id).values(**values))
            if (
                values.get("claimed_by")
                or values.get("first_contact_at")
                or (values.get("status") == "resolved")
            ):
                _stop_ladder(conn, case_id, now=now)
            bulk = Bulk(conn)
            activity_id = bulk.insert(
                "activity",
                ACTIVITY_COLUMNS,
                [(case_id, now, actor, action, detail)],
                " RETURNING id",
            ).scalar_one()
            arr = session.get(Account, case.account_id).arr  # type: ignore[union-attr]
            channel = case.card_channel
            rows = [
                _outbox(
                    f"update:{case_id}:{activity_id}", case_id, "card_update", {}, arr, now, channel
                ),
                _outbox(
                    f"thread:{activity_id}",
                    case_id,
                    "thread",
                    {"activity_id": activity_id},
                    arr,
                    now,
                    channel,
                ),
            ]
            for extra in extras:
                payload = {"activity_id": activity_id, **(extra.payload or {})}
                rows.append(
                    _outbox(
                        f"{extra.key}:{activity_id}",
                        case_id,
                        extra.kind,
                        payload,
                        arr,
                        now,
                        extra.channel,
                    )
                )
            bulk.insert("outbox", OUTBOX_COLUMNS, rows)
            session.expunge(case)
        fresh = get_case(engine, case_id)
    return Change(True, None, fresh, activity_id)


def _outbox(
    key: str,
    case_id: int,
    kind: str,
    payload: dict[str, Any],
    arr: float | None,
    now: datetime,
    channel: str | None,
) -> tuple[Any, ...]:
    return (key, case_id, kind, payload, INTERACTIVE, arr or 0.0, "pending", 0, now, now, channel)


def _stop_ladder(conn: sa.Connection, case_id: int, *, now: datetime) -> None:
    """A claim, a contact or a resolution ends the escalation ladder."""
    conn.execute(
        sa.update(STEP)
        .where(
            STEP.c.case_id == case_id,
            STEP.c.kind == "ladder",
            STEP.c.fired_at.is_(None),
            STEP.c.cancelled_at.is_(None),
        )
        .values(cancelled_at=now)
    )


def claim(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Claim an open, unclaimed case; the first claim wins and a repeat changes nothing."""

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        if case.status != "open" or case.claimed_by:
            return "already_claimed"
        return {"status": "claimed", "claimed_by": actor, "claimed_at": now}, {}, []

    return _change(engine, case_id, actor=actor, action="claimed", now=now, mutate=mutate)


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
    """Record a contact attempt; a reached customer is the first contact for the SLA."""
    if how not in CONTACT_HOW or outcome not in CONTACT_OUTCOME:
        raise ValueError(f"unknown contact {how!r}/{outcome!r}")

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        values: dict[str, Any] = {
            "contact_count": (case.contact_count or 0) + 1,
            "last_contact_at": now,
        }
        if next_follow_up:
            values["next_follow_up_on"] = next_follow_up
        if not case.claimed_by:
            values |= {"claimed_by": actor, "claimed_at": now}
            if case.status == "open":
                values["status"] = "claimed"
        if outcome == "reached":
            if case.first_contact_at is None:
                values["first_contact_at"] = now
            values["status"] = "contacted"
        detail = {"how": how, "outcome": outcome, "notes": notes}
        if next_follow_up:
            detail["next_follow_up"] = next_follow_up.isoformat()
        return values, detail, []

    return _change(engine, case_id, actor=actor, action="contact_logged", now=now, mutate=mutate)


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
    """Record the root cause, the agreed actions and any cross-functional escalation."""
    if escalation not in ESCALATIONS:
        raise ValueError(f"unknown escalation {escalation!r}")

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        values: dict[str, Any] = {
            "root_cause": cause,
            "root_cause_notes": notes,
            "action_items": action_items,
        }
        if next_follow_up:
            values["next_follow_up_on"] = next_follow_up
        extras = []
        if escalation == "product":
            extras.append(Extra("ticket", "ticket"))
        elif escalation == "support":
            extras.append(Extra("support_review", "review"))
        detail = {
            "cause": cause,
            "notes": notes,
            "action_items": action_items,
            "escalation": escalation,
        }
        if next_follow_up:
            detail["next_follow_up"] = next_follow_up.isoformat()
        return values, detail, extras

    return _change(engine, case_id, actor=actor, action="root_cause_logged", now=now, mutate=mutate)


def resolve(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    summary: str,
    satisfied: bool,
    root_cause: str | None,
    resurvey_on: date | None,
    now: datetime,
) -> Change:
    """Close a case; a root cause is required, logged before or given now."""

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        cause = root_cause or case.root_cause
        if not cause:
            return "root_cause_required"
        values = {
            "status": "resolved",
            "resolved_at": now,
            "resolution_summary": summary,
            "customer_satisfied": satisfied,
            "root_cause": cause,
            "resurvey_on": resurvey_on,
        }
        detail = {
            "summary": summary,
            "satisfied": satisfied,
            "cause": cause,
            "resurvey_on": resurvey_on.isoformat() if resurvey_on else None,
        }
        return values, detail, []

    return _change(engine, case_id, actor=actor, action="resolved", now=now, mutate=mutate)


def mark_done(engine: sa.Engine, case_id: int, *, actor: str, now: datetime) -> Change:
    """Close a Passive or Promoter case whose email or thank-you went out."""

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        return {"status": "resolved", "resolved_at": now}, {}, []

    return _change(engine, case_id, actor=actor, action="done", now=now, mutate=mutate)


def reassign(
    engine: sa.Engine, case_id: int, *, actor: str, new_owner: str, now: datetime
) -> Change:
    """Give the case to another owner, who is sent the card's link."""

    def mutate(case: FollowUpCase) -> Any:
        if case.status == "resolved":
            return "resolved"
        if new_owner == case.owner_user_id:
            return "same_owner"
        values: dict[str, Any] = {"owner_user_id": new_owner, "owner_ref": new_owner}
        if case.status == "claimed":
            values |= {"status": "open", "claimed_by": None, "claimed_at": None}
        detail = {"from": case.owner_user_id or case.owner_ref, "to": new_owner}
        dm = Extra("dm", "dm", channel=new_owner, payload={"template": "reassigned"})
        return values, detail, [dm]

    return _change(engine, case_id, actor=actor, action="reassigned", now=now, mutate=mutate)


def get_case(engine: sa.Engine, case_id: int) -> FollowUpCase | None:
    """A case as stored now, detached from any session."""
    with Session(engine, expire_on_commit=False) as session:
        case = session.get(FollowUpCase, case_id)
        if case is not None:
            session.expunge(case)
        return case


def activity_for(engine: sa.Engine, activity_id: int) -> Activity | None:
    """One activity row."""
    with Session(engine) as session:
        row = session.get(Activity, activity_id)
        if row is not None:
            session.expunge(row)
        return row


def case_activity(engine: sa.Engine, case_id: int) -> list[Activity]:
    """A case's activity log, oldest first."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(Activity).where(Activity.case_id == case_id).order_by(Activity.id)
            ).all()
        )
        session.expunge_all()
        return rows


@dataclass(frozen=True)
class HomeRow:
    """One line of App Home."""

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
    """A user's open cases (owned or claimed): overdue first, then by ARR, then oldest."""
    account, customer = Account.__table__, Customer.__table__
    overdue = sa.and_(CASE.c.first_contact_at.is_(None), CASE.c.contact_due_at < now)
    query = (
        sa.select(
            CASE.c.id,
            CASE.c.segment,
            CASE.c.score,
            CASE.c.status,
            customer.c.name.label("customer_name"),
            account.c.name.label("account_name"),
            account.c.arr,
            CASE.c.contact_due_at,
            sa.case((overdue, 1), else_=0).label("overdue"),
            CASE.c.card_channel,
            CASE.c.card_ts,
        )
        .join(account, account.c.id == CASE.c.account_id)
        .join(customer, customer.c.id == CASE.c.customer_id)
        .where(
            CASE.c.status != "resolved",
            sa.or_(CASE.c.owner_user_id == user_id, CASE.c.claimed_by == user_id),
        )
        .order_by(
            sa.desc("overdue"),
            sa.func.coalesce(account.c.arr, 0).desc(),
            CASE.c.received_at,
        )
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            HomeRow(
                r.id,
                r.segment,
                r.score,
                r.status,
                r.customer_name,
                r.account_name,
                r.arr,
                r.contact_due_at,
                bool(r.overdue),
                r.card_channel,
                r.card_ts,
            )
            for r in conn.execute(query)
        ]
