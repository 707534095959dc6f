"""How a case changes: lock it, decide, compare-and-set, then record the activity and deliveries.

Every change to a follow-up case runs through `apply_change` in one transaction, so double
clicks and Slack's retries are harmless: the update lands only if nothing the decision read has
moved meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import INTERACTIVE_PRIORITY, Action, CaseStatus, DeliveryKind, StepKind
from storage.activity import insert_activities
from storage.models import Account, EscalationStep, FollowUpCase
from storage.outbox_rows import OutboxRow, card_feedback, insert_outbox, outbox_row
from storage.sql import writing

CASE = FollowUpCase.__table__
ACCOUNT = Account.__table__
STEP = EscalationStep.__table__

# The columns every decision reads; the update only lands if none of them moved meanwhile.
_DECIDED_ON = ("status", "claimed_by", "owner_user_id", "root_cause", "contact_count")
_ATTEMPTS = 5


@dataclass(frozen=True)
class Change:
    """The outcome of a change: the case as it now stands, and the activity row it wrote."""

    ok: bool
    reason: str | None
    case: FollowUpCase | None
    activity_id: int | None


@dataclass(frozen=True)
class Extra:
    """An outbox row a change owes beyond the card update and the thread reply."""

    kind: DeliveryKind
    key: str
    channel: str | None = None
    template: str | None = None


@dataclass(frozen=True)
class Plan:
    """What a decision changes on the case, what its activity says, and what else it sends."""

    values: dict[str, Any]
    detail: dict[str, Any]
    extras: tuple[Extra, ...] = ()


Decide = Callable[[FollowUpCase], "Plan | str"]
"""Reads the locked case and returns the plan, or the reason it is refused."""

NOT_ALLOWED = "not_allowed"
_PERMIT: ContextVar[Callable[[FollowUpCase], bool] | None] = ContextVar("permit", default=None)


@contextmanager
def only_if(permit: Callable[[FollowUpCase], bool]) -> Iterator[None]:
    """Changes made inside ask `permit` about the case as locked, before anything else: who may
    act is decided on the row the change is made to, not on an earlier read of it."""
    token = _PERMIT.set(permit)
    try:
        yield
    finally:
        _PERMIT.reset(token)


def case_from_row(row: sa.Row[Any]) -> FollowUpCase:
    """The case a row holding every case column describes."""
    return FollowUpCase.model_validate({c.name: row._mapping[c.name] for c in CASE.c})


def apply_change(
    engine: sa.Engine, case_id: int, *, actor: str, action: Action, now: datetime, decide: Decide
) -> Change:
    """Lock the case, decide, and write the change, its activity and its outbox rows at once."""
    with writing(engine) as conn:
        decided = _update(conn, case_id, action=action, now=now, decide=decide)
        if isinstance(decided, Change):
            return decided
        case, plan, arr = decided
        if _ends_ladder(plan.values):
            _stop_ladder(conn, case_id, now=now)
        [activity_id] = insert_activities(conn, [(case_id, now, actor, action, plan.detail)])
        insert_outbox(conn, _deliveries(case, plan, activity_id, arr=arr, now=now))
    return Change(True, None, case, activity_id)


def _unchanged(case: FollowUpCase) -> sa.ColumnElement[bool]:
    return sa.and_(
        *(CASE.c[name].is_not_distinct_from(getattr(case, name)) for name in _DECIDED_ON)
    )


def _update(
    conn: sa.Connection, case_id: int, *, action: Action, now: datetime, decide: Decide
) -> tuple[FollowUpCase, Plan, float | None] | Change:
    """Decide on the locked case and update it unless it moved meanwhile; a refusal as Change.

    The result is the case as updated, the plan it followed and its account's ARR.
    """
    locked = (
        sa.select(CASE, ACCOUNT.c.arr.label("account_arr"))
        .join(ACCOUNT, ACCOUNT.c.id == CASE.c.account_id)
        .where(CASE.c.id == case_id)
        .with_for_update(of=CASE)
    )
    for _ in range(_ATTEMPTS):
        seen = conn.execute(locked).first()
        if seen is None:
            return Change(False, "not_found", None, None)
        case = case_from_row(seen)
        permit = _PERMIT.get()
        plan = decide(case) if permit is None or permit(case) else NOT_ALLOWED
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
            return case_from_row(updated), plan, seen.account_arr
    raise RuntimeError(f"case {case_id} kept changing during {action}")


def _deliveries(
    case: FollowUpCase, plan: Plan, activity_id: int, *, arr: float | None, now: datetime
) -> list[OutboxRow]:
    """The card update and thread line every change owes, then the plan's own deliveries."""
    assert case.id is not None
    rows = card_feedback(case.id, activity_id, channel=case.card_channel, arr=arr, now=now)
    for extra in plan.extras:
        payload: dict[str, Any] = {"activity_id": activity_id}
        if extra.template is not None:
            payload["template"] = extra.template
        rows.append(
            outbox_row(
                f"{extra.key}:{activity_id}",
                case.id,
                extra.kind,
                payload,
                arr=arr,
                now=now,
                channel=extra.channel,
                priority=INTERACTIVE_PRIORITY,
            )
        )
    return rows


def _ends_ladder(values: dict[str, Any]) -> bool:
    """Whether a change means someone has picked the case up (claim, contact or resolution)."""
    return bool(
        values.get("claimed_by")
        or values.get("first_contact_at")
        or values.get("status") == CaseStatus.RESOLVED
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
