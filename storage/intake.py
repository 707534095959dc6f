"""Storing a batch of survey responses in one transaction: conflict-safe upserts, one case each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import (
    Account,
    Activity,
    CaseStatus,
    Customer,
    EscalationStep,
    FollowUpCase,
    OutboxMessage,
    SurveyResponse,
)

ACCOUNT = Account.__table__
CUSTOMER = Customer.__table__
RESPONSE = SurveyResponse.__table__
CASE = FollowUpCase.__table__
STEP = EscalationStep.__table__
OUTBOX = OutboxMessage.__table__
ACTIVITY = Activity.__table__


@dataclass(frozen=True)
class AccountData:
    id: str
    name: str
    arr: float | None = None
    owner: str | None = None
    plan: str | None = None
    renewal_date: date | None = None


@dataclass(frozen=True)
class CustomerData:
    id: str
    account_id: str
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ResponseData:
    response_id: str
    score: int
    customer: CustomerData
    account: AccountData
    submitted_at: datetime
    received_at: datetime
    comment: str | None = None
    survey: str | None = None
    touchpoints: list[dict[str, Any]] = field(default_factory=list)
    resurvey_of: str | None = None
    webhook_id: str | None = None


@dataclass(frozen=True)
class StepDraft:
    kind: str
    seq: int
    notify: str
    due_at: datetime
    reassign: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class CaseDraft:
    """What the policy decided for a new response."""

    segment: str
    priority: int
    arr: float | None
    reasons: list[str]
    suggest_email_first: bool
    contact_due_at: datetime
    resolution_due_at: datetime
    policy: dict[str, Any]
    steps: list[StepDraft]


@dataclass(frozen=True)
class Stored:
    """The answer for one response: its case, and whether this delivery created it."""

    response_id: str
    case_id: int
    segment: str
    created: bool


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@cache
def _account_upsert(dialect: str) -> Any:
    """Insert an account, or update it keeping stored values for fields left out."""
    stmt = _insert(dialect, ACCOUNT)
    keep = ("arr", "owner", "plan", "renewal_date")
    return stmt.on_conflict_do_update(
        index_elements=[ACCOUNT.c.id],
        set_={
            "name": stmt.excluded.name,
            "updated_at": stmt.excluded.updated_at,
            **{col: sa.func.coalesce(stmt.excluded[col], ACCOUNT.c[col]) for col in keep},
        },
    )


@cache
def _customer_upsert(dialect: str) -> Any:
    """Insert a customer, or update it; a customer may move to another account."""
    stmt = _insert(dialect, CUSTOMER)
    return stmt.on_conflict_do_update(
        index_elements=[CUSTOMER.c.id],
        set_={
            "account_id": stmt.excluded.account_id,
            "name": stmt.excluded.name,
            "updated_at": stmt.excluded.updated_at,
            "email": sa.func.coalesce(stmt.excluded.email, CUSTOMER.c.email),
            "phone": sa.func.coalesce(stmt.excluded.phone, CUSTOMER.c.phone),
        },
    )


@cache
def _response_insert(dialect: str) -> Any:
    """Insert a response unless its response_id is stored already."""
    return (
        _insert(dialect, RESPONSE)
        .on_conflict_do_nothing(index_elements=[RESPONSE.c.response_id])
        .returning(RESPONSE.c.response_id)
    )


def _last_by_id(items: Iterable[Any]) -> list[Any]:
    """One item per id, the last one seen winning, in id order (a fixed lock order)."""
    return [item for _, item in sorted({item.id: item for item in items}.items())]


def upsert_accounts(
    conn: sa.Connection, accounts: Iterable[AccountData], *, now: datetime
) -> dict[str, float | None]:
    """Insert or update accounts; fields a response leaves out keep their stored value."""
    rows = [
        {
            "id": a.id,
            "name": a.name,
            "arr": a.arr,
            "owner": a.owner,
            "plan": a.plan,
            "renewal_date": a.renewal_date,
            "created_at": now,
            "updated_at": now,
        }
        for a in _last_by_id(accounts)
    ]
    if not rows:
        return {}
    conn.execute(_account_upsert(conn.dialect.name), rows)
    query = sa.select(ACCOUNT.c.id, ACCOUNT.c.arr).where(ACCOUNT.c.id.in_([r["id"] for r in rows]))
    return {row.id: row.arr for row in conn.execute(query)}


def upsert_customers(
    conn: sa.Connection, customers: Iterable[CustomerData], *, now: datetime
) -> None:
    """Insert or update customers; a customer may move to another account."""
    rows = [
        {
            "id": c.id,
            "account_id": c.account_id,
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "created_at": now,
            "updated_at": now,
        }
        for c in _last_by_id(customers)
    ]
    if not rows:
        return
    conn.execute(_customer_upsert(conn.dialect.name), rows)


def existing_cases(conn: sa.Connection, response_ids: Sequence[str]) -> dict[str, Stored]:
    """The cases already stored for these response ids."""
    if not response_ids:
        return {}
    query = sa.select(CASE.c.response_id, CASE.c.id, CASE.c.segment).where(
        CASE.c.response_id.in_(response_ids)
    )
    return {
        row.response_id: Stored(row.response_id, row.id, row.segment, created=False)
        for row in conn.execute(query)
    }


def insert_responses(
    conn: sa.Connection,
    items: Sequence[tuple[ResponseData, CaseDraft]],
    *,
    now: datetime,
) -> dict[str, Stored]:
    """Store new responses with their case, steps, activity and outbox; repeats change nothing.

    Accounts and customers must already be upserted in the same transaction.
    """
    unique: dict[str, tuple[ResponseData, CaseDraft]] = {}
    for response, draft in items:
        unique.setdefault(response.response_id, (response, draft))
    if not unique:
        return {}
    rows = [
        {
            "response_id": r.response_id,
            "webhook_id": r.webhook_id,
            "customer_id": r.customer.id,
            "account_id": r.account.id,
            "score": r.score,
            "comment": r.comment,
            "survey": r.survey,
            "submitted_at": r.submitted_at,
            "received_at": r.received_at,
            "touchpoints": r.touchpoints,
            "resurvey_of": r.resurvey_of,
        }
        for r, _ in unique.values()
    ]
    inserted = [row.response_id for row in conn.execute(_response_insert(conn.dialect.name), rows)]
    results = existing_cases(conn, [rid for rid in unique if rid not in set(inserted)])
    if not inserted:
        return results

    case_rows = []
    for rid in inserted:
        r, d = unique[rid]
        case_rows.append(
            {
                "response_id": rid,
                "account_id": r.account.id,
                "customer_id": r.customer.id,
                "segment": d.segment,
                "score": r.score,
                "status": CaseStatus.OPEN.value,
                "reasons": d.reasons,
                "suggest_email_first": d.suggest_email_first,
                "owner_ref": r.account.owner,
                "received_at": r.received_at,
                "contact_due_at": d.contact_due_at,
                "resolution_due_at": d.resolution_due_at,
                "policy": d.policy,
                "created_at": now,
                "updated_at": now,
            }
        )
    returned = conn.execute(sa.insert(CASE).returning(CASE.c.id, CASE.c.response_id), case_rows)
    case_ids = {row.response_id: row.id for row in returned}

    steps, outbox, activity = [], [], []
    for rid, case_id in case_ids.items():
        r, d = unique[rid]
        results[rid] = Stored(rid, case_id, d.segment, created=True)
        activity.append(
            {
                "case_id": case_id,
                "at": now,
                "actor": "system",
                "action": "received",
                "detail": {"response_id": rid, "segment": d.segment, "reasons": d.reasons},
            }
        )
        outbox.append(_outbox_row(f"card:{case_id}", case_id, "card", {}, d, now))
        for step in d.steps:
            immediate = step.kind == "alert"
            steps.append(
                {
                    "case_id": case_id,
                    "kind": step.kind,
                    "seq": step.seq,
                    "notify": step.notify,
                    "reassign": step.reassign,
                    "reason": step.reason,
                    "due_at": step.due_at,
                    "fired_at": now if immediate else None,
                }
            )
            if immediate:
                payload = {"notify": step.notify, "reason": step.reason}
                key = f"alert:{case_id}:{step.seq}"
                outbox.append(_outbox_row(key, case_id, "alert", payload, d, now))
    if steps:
        conn.execute(sa.insert(STEP), steps)
    conn.execute(sa.insert(OUTBOX), outbox)
    conn.execute(sa.insert(ACTIVITY), activity)
    return results


def _outbox_row(
    key: str,
    case_id: int,
    kind: str,
    payload: dict[str, Any],
    draft: CaseDraft,
    now: datetime,
) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "case_id": case_id,
        "kind": kind,
        "payload": payload,
        "priority": draft.priority,
        "arr": draft.arr or 0.0,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def arr_at_rank(conn: sa.Connection, rank: int) -> float | None:
    """The ARR of the `rank`-th highest-ARR account (1-based), or None."""
    query = (
        sa.select(ACCOUNT.c.arr)
        .where(ACCOUNT.c.arr.is_not(None))
        .order_by(ACCOUNT.c.arr.desc())
        .offset(max(rank - 1, 0))
        .limit(1)
    )
    return conn.execute(query).scalar()


def count_accounts_with_arr(conn: sa.Connection) -> int:
    """How many accounts have a known ARR."""
    query = sa.select(sa.func.count()).select_from(ACCOUNT).where(ACCOUNT.c.arr.is_not(None))
    return conn.execute(query).scalar_one()
