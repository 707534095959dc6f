"""Storing a batch of survey responses in one transaction: conflict-safe upserts, one case each."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.details import ReceivedDetail
from bot.domain.vocabulary import (
    SYSTEM_ACTOR,
    Action,
    CaseStatus,
    DeliveryKind,
    OutboxStatus,
    StepKind,
)
from storage.models import (
    Account,
    Activity,
    Customer,
    EscalationStep,
    FollowUpCase,
    OutboxMessage,
    SurveyResponse,
    UTCDateTime,
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
    channel: str | None = None


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
    card_channel: str | None = None
    owner_user_id: str | None = None


@dataclass(frozen=True)
class Stored:
    """The answer for one response: its case, and whether this delivery created it."""

    response_id: str
    case_id: int
    segment: str
    created: bool
    channels: tuple[str | None, ...] = ()


class Bulk:
    """Multi-row statements straight to the driver: one round trip and no per-row ORM work.

    The intake writes thousands of small rows a second; one `INSERT ... VALUES (...), (...)`
    per table keeps the writer's cost per response low. Column names may carry a kind:
    `name:t` (aware datetime), `name:d` (date) or `name:j` (JSON).
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self.mark = "%s" if self.postgres else "?"
        self._times: dict[datetime, str] = {}
        self._jsons: dict[int, str] = {}

    def _time(self, value: datetime | None) -> Any:
        if value is None or self.postgres:
            return value
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = UTCDateTime.to_sqlite(value)
        return text

    def _date(self, value: date | None) -> Any:
        return value if value is None or self.postgres else value.isoformat()

    def _json(self, value: Any) -> str:
        # The same object (a case's frozen policy, shared per segment) is encoded once; every
        # row holds its values until the statement runs, so ids cannot be reused meanwhile.
        text = self._jsons.get(id(value))
        if text is None:
            text = self._jsons[id(value)] = json.dumps(value, separators=(",", ":"))
        return text

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], suffix: str = ""
    ) -> sa.CursorResult[Any]:
        names, kinds = zip(*(c.partition(":")[::2] for c in columns), strict=True)
        convert = {"t": self._time, "d": self._date, "j": self._json}
        converters = [(i, convert[k]) for i, k in enumerate(kinds) if k]
        params: list[Any] = []
        for row in rows:
            values = list(row)
            for i, fn in converters:
                values[i] = fn(values[i])
            params.extend(values)
        group = "(" + ", ".join([self.mark] * len(names)) + ")"
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES " + ", ".join([group] * len(rows))
        return self.conn.exec_driver_sql(sql + suffix, tuple(params))

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append plain rows (no conflicts, nothing returned): COPY on PostgreSQL, else INSERT."""
        if not rows:
            return
        if not self.postgres:
            for start in range(0, len(rows), 500):
                self.insert(table, columns, rows[start : start + 500])
            return
        names, kinds = zip(*(c.partition(":")[::2] for c in columns), strict=True)
        json_columns = [i for i, kind in enumerate(kinds) if kind == "j"]
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                values = list(row)
                for i in json_columns:
                    values[i] = self._json(values[i])
                copy.write_row(values)


def _last_by_id(items: Iterable[Any]) -> list[Any]:
    """One item per id, the last one seen winning, in id order (a fixed lock order)."""
    return [item for _, item in sorted({item.id: item for item in items}.items())]


ACCOUNT_UPSERT = """ ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    updated_at = excluded.updated_at,
    arr = COALESCE(excluded.arr, account.arr),
    owner = COALESCE(excluded.owner, account.owner),
    plan = COALESCE(excluded.plan, account.plan),
    renewal_date = COALESCE(excluded.renewal_date, account.renewal_date)"""

CUSTOMER_UPSERT = """ ON CONFLICT (id) DO UPDATE SET
    account_id = excluded.account_id,
    name = excluded.name,
    updated_at = excluded.updated_at,
    email = COALESCE(excluded.email, customer.email),
    phone = COALESCE(excluded.phone, customer.phone)"""


def upsert_accounts(
    conn: sa.Connection, accounts: Iterable[AccountData], *, now: datetime
) -> dict[str, float | None]:
    """Insert or update accounts and return their ARR; fields left out keep their value."""
    rows = [
        (a.id, a.name, a.arr, a.owner, a.plan, a.renewal_date, now, now)
        for a in _last_by_id(accounts)
    ]
    if not rows:
        return {}
    columns = (
        "id",
        "name",
        "arr",
        "owner",
        "plan",
        "renewal_date:d",
        "created_at:t",
        "updated_at:t",
    )
    returned = Bulk(conn).insert("account", columns, rows, ACCOUNT_UPSERT + " RETURNING id, arr")
    return {account_id: arr for account_id, arr in returned}


def upsert_customers(
    conn: sa.Connection, customers: Iterable[CustomerData], *, now: datetime
) -> None:
    """Insert or update customers; a customer may move to another account."""
    rows = [
        (c.id, c.account_id, c.name, c.email, c.phone, now, now) for c in _last_by_id(customers)
    ]
    if rows:
        columns = ("id", "account_id", "name", "email", "phone", "created_at:t", "updated_at:t")
        Bulk(conn).insert("customer", columns, rows, CUSTOMER_UPSERT)


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
)
STEP_COLUMNS = ("case_id", "kind", "seq", "notify", "reassign", "reason", "due_at:t", "fired_at:t")
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
        )
        for r, _ in unique.values()
    ]
    suffix = " ON CONFLICT (response_id) DO NOTHING RETURNING response_id"
    inserted = [row[0] for row in bulk.insert("survey_response", RESPONSE_COLUMNS, rows, suffix)]
    results = existing_cases(conn, [rid for rid in unique if rid not in set(inserted)])
    if not inserted:
        return results

    case_rows = []
    for rid in inserted:
        r, d = unique[rid]
        case_rows.append(
            (
                rid,
                r.account.id,
                r.customer.id,
                d.segment,
                r.score,
                CaseStatus.OPEN.value,
                d.reasons,
                d.suggest_email_first,
                r.account.owner,
                d.owner_user_id,
                r.received_at,
                d.contact_due_at,
                d.resolution_due_at,
                d.policy,
                now,
                now,
            )
        )
    returned = bulk.insert("follow_up_case", CASE_COLUMNS, case_rows, " RETURNING id, response_id")
    case_ids = {response_id: case_id for case_id, response_id in returned}

    steps, outbox, activity = [], [], []
    for rid, case_id in case_ids.items():
        r, d = unique[rid]
        channels = (d.card_channel, *(s.channel for s in d.steps if s.kind == StepKind.ALERT))
        results[rid] = Stored(rid, case_id, d.segment, created=True, channels=channels)
        detail: ReceivedDetail = {"response_id": rid, "segment": d.segment, "reasons": d.reasons}
        activity.append((case_id, now, SYSTEM_ACTOR, Action.RECEIVED, detail))
        outbox.append(
            outbox_row(
                f"card:{case_id}",
                case_id,
                DeliveryKind.CARD,
                {},
                arr=d.arr,
                now=now,
                channel=d.card_channel,
                priority=d.priority,
            )
        )
        for step in d.steps:
            immediate = step.kind == StepKind.ALERT
            steps.append(
                (
                    case_id,
                    step.kind,
                    step.seq,
                    step.notify,
                    step.reassign,
                    step.reason,
                    step.due_at,
                    now if immediate else None,
                )
            )
            if immediate:
                payload = {"notify": step.notify, "reason": step.reason}
                key = f"alert:{case_id}:{step.seq}"
                outbox.append(
                    outbox_row(
                        key,
                        case_id,
                        DeliveryKind.ALERT,
                        payload,
                        arr=d.arr,
                        now=now,
                        channel=step.channel,
                        priority=d.priority,
                    )
                )
    if steps:
        bulk.insert("escalation_step", STEP_COLUMNS, steps)
    bulk.insert("outbox", OUTBOX_COLUMNS, outbox)
    bulk.insert("activity", ACTIVITY_COLUMNS, activity)
    link_recoveries(conn, [unique[rid][0] for rid in case_ids], now=now)
    return results


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
        sa.select(CASE.c.id, CASE.c.response_id, CASE.c.customer_id, CASE.c.resolved_at)
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
        match = next(
            (
                c
                for c in candidates
                if c.id not in taken
                and (
                    c.response_id == response.resurvey_of
                    if response.resurvey_of
                    else c.customer_id == response.customer.id
                    and c.resolved_at is not None
                    and c.resolved_at < response.received_at
                    and c.response_id != response.response_id
                )
            ),
            None,
        )
        if match is None:
            continue
        taken.add(match.id)
        conn.execute(
            sa.update(CASE)
            .where(CASE.c.id == match.id, CASE.c.recovery_score.is_(None))
            .values(
                recovery_score=response.score,
                recovery_response_id=response.response_id,
                recovered_at=response.received_at,
                updated_at=now,
            )
        )


def outbox_row(
    key: str,
    case_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    arr: float | None,
    now: datetime,
    channel: str | None = None,
    priority: int = 0,
) -> tuple[Any, ...]:
    """A pending outbox row, in `OUTBOX_COLUMNS` order."""
    return (
        key,
        case_id,
        kind,
        payload,
        priority,
        arr or 0.0,
        OutboxStatus.PENDING,
        0,
        now,
        now,
        channel,
    )


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
