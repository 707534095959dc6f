"""Storing a batch of survey responses in one transaction: conflict-safe upserts, one case each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.details import ReceivedDetail
from bot.domain.patterns import is_user_id
from bot.domain.vocabulary import (
    NATIVE_SOURCE,
    PRIORITY_RANK,
    SYSTEM_ACTOR,
    Action,
    CaseStatus,
    DeliveryKind,
    Priority,
    StepKind,
)
from storage.activity import ActivityRow, insert_activities
from storage.models import Account, Customer, FollowUpCase
from storage.outbox_rows import OutboxRow, insert_outbox, outbox_row
from storage.recoveries import link_recoveries
from storage.sql import Bulk

ACCOUNT = Account.__table__
CUSTOMER = Customer.__table__
CASE = FollowUpCase.__table__

AccountFacts = dict[str, tuple[float | None, str | None]]
"""Each account's ARR and owner, as stored."""


@dataclass(frozen=True)
class AccountData:
    """An account as a survey response describes it; None leaves a field as stored."""

    id: str
    name: str
    arr: float | None = None
    owner: str | None = None
    plan: str | None = None
    renewal_date: date | None = None


@dataclass(frozen=True)
class CustomerData:
    """The person who answered, as the survey response describes them."""

    id: str
    account_id: str
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ResponseData:
    """One survey response to store, with its customer and account."""

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
    source: str = NATIVE_SOURCE
    # False for a platform's answer: its customer and account are matched by email when stored.
    placed: bool = True
    # A repeated delivery may carry a change (a later comment) that updates the response.
    amend: bool = False
    # A test response: its card says TEST and it counts in no report.
    test: bool = False


@dataclass(frozen=True)
class StepDraft:
    """An escalation step the policy planned: a ladder rung, or an alert sent at once."""

    kind: StepKind
    seq: int
    notify: str
    due_at: datetime
    reassign: bool = False
    reason: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class CaseDraft:
    """What the policy decided for a new response."""

    segment: str
    priority: Priority
    arr: float | None
    reasons: list[str]
    suggest_email_first: bool
    contact_due_at: datetime
    resolution_due_at: datetime
    policy: dict[str, Any]
    steps: list[StepDraft]
    card_channel: str | None = None
    owner_user_id: str | None = None
    owner_ref: str | None = None
    tier: str | None = None
    routed_by: dict[str, Any] | None = None
    account_owner: str | None = None
    """The account owner a routed case's owner replaces: told where the card went."""
    outside_pilot: bool = False
    """Outside `[pilot]`: stored, with no card and no timers, and counted in no report."""


@dataclass(frozen=True)
class Stored:
    """The answer for one response: its case, and whether this delivery created it."""

    response_id: str
    case_id: int
    segment: str
    created: bool
    channels: tuple[str | None, ...] = ()


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


RESPONSE_COLUMNS = (
    "response_id",
    "webhook_id",
    "customer_id",
    "account_id",
    "score",
    "comment",
    "survey",
    "submitted_at:t",
    "received_at:t",
    "touchpoints:j",
    "resurvey_of",
    "source",
    "test",
    "outside_pilot",
)
CASE_COLUMNS = (
    "response_id",
    "account_id",
    "customer_id",
    "segment",
    "score",
    "status",
    "reasons:j",
    "suggest_email_first",
    "owner_ref",
    "owner_user_id",
    "received_at:t",
    "contact_due_at:t",
    "resolution_due_at:t",
    "policy:j",
    "created_at:t",
    "updated_at:t",
    "priority",
    "tier",
    "routed_by:j",
    "test",
    "outside_pilot",
)
STEP_COLUMNS = ("case_id", "kind", "seq", "notify", "reassign", "reason", "due_at:t", "fired_at:t")


def insert_responses(
    conn: sa.Connection,
    items: Sequence[tuple[ResponseData, CaseDraft]],
    *,
    now: datetime,
) -> dict[str, Stored]:
    """Store new responses with their case, steps, activity and outbox; repeats change nothing.

    Accounts and customers must already be upserted in the same transaction. A response id
    another writer stored first (a concurrent replica) comes back as an existing case.
    """
    unique: dict[str, tuple[ResponseData, CaseDraft]] = {}
    for response, draft in items:
        unique.setdefault(response.response_id, (response, draft))
    if not unique:
        return {}
    bulk = Bulk(conn)
    inserted = _insert_new_responses(bulk, list(unique.values()))
    new = set(inserted)
    results = existing_cases(conn, [rid for rid in unique if rid not in new])
    if not inserted:
        return results
    case_ids = _insert_cases(bulk, [unique[rid] for rid in inserted], now=now)
    steps: list[tuple[Any, ...]] = []
    outbox: list[OutboxRow] = []
    activity: list[ActivityRow] = []
    for rid, case_id in case_ids.items():
        draft = unique[rid][1]
        channels = (
            draft.card_channel,
            *(s.channel for s in draft.steps if s.kind == StepKind.ALERT),
        )
        results[rid] = Stored(rid, case_id, draft.segment, created=True, channels=channels)
        detail: ReceivedDetail = {
            "response_id": rid,
            "segment": draft.segment,
            "reasons": draft.reasons,
        }
        activity.append((case_id, now, SYSTEM_ACTOR, Action.RECEIVED, detail))
        steps += [_step_row(case_id, step, now=now) for step in draft.steps]
        outbox += _deliveries(case_id, draft, now=now)
    if steps:
        bulk.insert("escalation_step", STEP_COLUMNS, steps)
    insert_outbox(conn, outbox)
    insert_activities(conn, activity)
    link_recoveries(conn, [unique[rid][0] for rid in case_ids], now=now)
    return results


def _insert_new_responses(bulk: Bulk, items: Sequence[tuple[ResponseData, CaseDraft]]) -> list[str]:
    """Insert the responses not stored yet; the ids of those this call stored."""
    rows = [
        (
            r.response_id,
            r.webhook_id,
            r.customer.id,
            r.account.id,
            r.score,
            r.comment,
            r.survey,
            r.submitted_at,
            r.received_at,
            r.touchpoints,
            r.resurvey_of,
            r.source,
            r.test,
            d.outside_pilot,
        )
        for r, d in items
    ]
    suffix = " ON CONFLICT (response_id) DO NOTHING RETURNING response_id"
    return [row[0] for row in bulk.insert("survey_response", RESPONSE_COLUMNS, rows, suffix)]


def _insert_cases(
    bulk: Bulk, items: Sequence[tuple[ResponseData, CaseDraft]], *, now: datetime
) -> dict[str, int]:
    """One open case per new response; their ids by response id."""
    rows = [
        (
            r.response_id,
            r.account.id,
            r.customer.id,
            d.segment,
            r.score,
            CaseStatus.OPEN.value,
            d.reasons,
            d.suggest_email_first,
            d.owner_ref,
            d.owner_user_id,
            r.received_at,
            d.contact_due_at,
            d.resolution_due_at,
            d.policy,
            now,
            now,
            d.priority,
            d.tier,
            d.routed_by,
            r.test,
            d.outside_pilot,
        )
        for r, d in items
    ]
    returned = bulk.insert("follow_up_case", CASE_COLUMNS, rows, " RETURNING id, response_id")
    return {response_id: case_id for case_id, response_id in returned}


def _step_row(case_id: int, step: StepDraft, *, now: datetime) -> tuple[Any, ...]:
    """An escalation step in `STEP_COLUMNS` order; an alert fires as it is stored."""
    fired_at = now if step.kind == StepKind.ALERT else None
    return (
        case_id,
        step.kind,
        step.seq,
        step.notify,
        step.reassign,
        step.reason,
        step.due_at,
        fired_at,
    )


def _deliveries(case_id: int, draft: CaseDraft, *, now: datetime) -> list[OutboxRow]:
    """The new case's card, then its alerts, and the note to the account owner it bypassed."""
    if draft.outside_pilot:
        return []
    common: dict[str, Any] = {
        "arr": draft.arr,
        "now": now,
        "priority": PRIORITY_RANK[draft.priority],
    }
    rows = [
        outbox_row(
            f"card:{case_id}",
            case_id,
            DeliveryKind.CARD,
            {},
            channel=draft.card_channel,
            **common,
        )
    ]
    for step in draft.steps:
        if step.kind == StepKind.ALERT:
            rows.append(
                outbox_row(
                    f"alert:{case_id}:{step.seq}",
                    case_id,
                    DeliveryKind.ALERT,
                    {"notify": step.notify, "reason": step.reason},
                    channel=step.channel,
                    **common,
                )
            )
    if draft.routed_by is not None and draft.account_owner:
        payload = {"to": draft.account_owner}
        to = draft.account_owner if is_user_id(draft.account_owner) else None
        rows.append(
            outbox_row(
                f"routed:{case_id}", case_id, DeliveryKind.ROUTED, payload, channel=to, **common
            )
        )
    return rows


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
