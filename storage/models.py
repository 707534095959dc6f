"""Tables: accounts, customers, responses, follow-up cases, activity, escalation steps, outbox,
and the themes fixed with the customers told."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.domain.vocabulary import NATIVE_SOURCE, CaseStatus, OutboxStatus, Priority
from storage.sql import JSONType, UTCDateTime  # the migrations name them from here too


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=sa.Column(JSONType, nullable=False))


class Account(SQLModel, table=True):
    """A customer company; the owner is an email or a Slack user id, as the survey sent it."""

    __tablename__ = "account"

    id: str = Field(primary_key=True, max_length=200)
    name: str = Field(max_length=500)
    arr: float | None = Field(default=None, index=True)
    owner: str | None = Field(default=None, max_length=320)
    plan: str | None = Field(default=None, max_length=200)
    renewal_date: date | None = None
    created_at: datetime = _time()
    updated_at: datetime = _time()


class Customer(SQLModel, table=True):
    """A person who answers surveys, within one account."""

    __tablename__ = "customer"
    # A platform's answer finds its customer, and so its account, by email, in any case.
    __table_args__ = (sa.Index("ix_customer_email_lower", sa.func.lower(sa.column("email"))),)

    id: str = Field(primary_key=True, max_length=200)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=200)
    name: str = Field(max_length=500)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=100)
    created_at: datetime = _time()
    updated_at: datetime = _time()


class SurveyResponse(SQLModel, table=True):
    """One NPS answer as received; `response_id` is the platform's idempotency key."""

    __tablename__ = "survey_response"
    # Covers the NPS counts of a period as well as lookups by time.
    __table_args__ = (sa.Index("ix_response_received_score", "received_at", "score"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: str = Field(unique=True, max_length=200)
    webhook_id: str | None = Field(default=None, max_length=200)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=200)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=200)
    score: int
    comment: str | None = Field(default=None, sa_type=sa.Text)
    survey: str | None = Field(default=None, max_length=200)
    submitted_at: datetime = _time()
    received_at: datetime = _time()
    touchpoints: list[dict[str, Any]] = _json(list)
    resurvey_of: str | None = Field(default=None, max_length=200)
    # The configured survey source that delivered it (`native` for the built-in JSON shape).
    source: str = Field(default=NATIVE_SOURCE, max_length=50)
    test: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Outside `[pilot]`: stored, with no card and no timers, and counted in no report.
    outside_pilot: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class FollowUpCase(SQLModel, table=True):
    """The follow-up a response calls for: owner, deadlines, state and the frozen policy."""

    __tablename__ = "follow_up_case"
    __table_args__ = (
        sa.Index("ix_case_status_due", "status", "contact_due_at"),
        # The timer sweeps read only the few rows still waiting for something.
        sa.Index(
            "ix_case_breach_watch",
            "contact_due_at",
            sqlite_where=sa.text("overdue_at IS NULL AND first_contact_at IS NULL"),
            postgresql_where=sa.text("overdue_at IS NULL AND first_contact_at IS NULL"),
        ),
        sa.Index(
            "ix_case_follow_up_watch",
            "next_follow_up_on",
            sqlite_where=sa.text("next_follow_up_on IS NOT NULL"),
            postgresql_where=sa.text("next_follow_up_on IS NOT NULL"),
        ),
        sa.Index(
            "ix_case_resurvey_watch",
            "resurvey_on",
            sqlite_where=sa.text("resurvey_requested_at IS NULL AND resurvey_on IS NOT NULL"),
            postgresql_where=sa.text("resurvey_requested_at IS NULL AND resurvey_on IS NOT NULL"),
        ),
        sa.Index("ix_case_customer_status", "customer_id", "status"),
        sa.Index(
            "ix_case_resolution_watch",
            "resolution_due_at",
            sqlite_where=sa.text("resolution_overdue_at IS NULL AND resolved_at IS NULL"),
            postgresql_where=sa.text("resolution_overdue_at IS NULL AND resolved_at IS NULL"),
        ),
        # KPIs, the rollup and the digest's counts read a period's cases by received time.
        sa.Index("ix_case_received", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    response_id: str = Field(foreign_key="survey_response.response_id", unique=True, max_length=200)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=200)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=200)
    segment: str = Field(max_length=20)
    score: int
    status: str = Field(default=CaseStatus.OPEN, max_length=20)
    reasons: list[str] = _json(list)
    suggest_email_first: bool = False
    owner_ref: str | None = Field(default=None, max_length=320)
    owner_user_id: str | None = Field(default=None, max_length=50)
    received_at: datetime = _time()
    contact_due_at: datetime = _time()
    resolution_due_at: datetime = _time()
    policy: dict[str, Any] = _json(dict)
    claimed_by: str | None = Field(default=None, max_length=50)
    claimed_at: datetime | None = _time(nullable=True)
    first_contact_at: datetime | None = _time(nullable=True)
    resolved_at: datetime | None = _time(nullable=True)
    card_channel: str | None = Field(default=None, max_length=50)
    card_ts: str | None = Field(default=None, max_length=50)
    created_at: datetime = _time()
    updated_at: datetime = _time()
    next_follow_up_on: date | None = None
    root_cause: str | None = Field(default=None, max_length=100)
    root_cause_notes: str | None = Field(default=None, sa_type=sa.Text)
    action_items: str | None = Field(default=None, sa_type=sa.Text)
    resolution_summary: str | None = Field(default=None, sa_type=sa.Text)
    customer_satisfied: bool | None = None
    resurvey_on: date | None = None
    contact_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_contact_at: datetime | None = _time(nullable=True)
    overdue_at: datetime | None = _time(nullable=True)
    follow_up_reminded_on: date | None = None
    resurvey_requested_at: datetime | None = _time(nullable=True)
    recovery_score: int | None = None
    recovery_response_id: str | None = Field(default=None, max_length=200)
    recovered_at: datetime | None = _time(nullable=True)
    priority: str = Field(
        default=Priority.HIGH, max_length=20, sa_column_kwargs={"server_default": "high"}
    )
    tier: str | None = Field(default=None, max_length=100)
    # Why a `[[routing.by_touchpoint]]` rule chose the owner: the touchpoint or the word.
    routed_by: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    resolution_reminded_at: datetime | None = _time(nullable=True)
    resolution_overdue_at: datetime | None = _time(nullable=True)
    # A test response's case: marked TEST on its card, left out of every report.
    test: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Outside `[pilot]`: stored, with no card and no timers, and counted in no report.
    outside_pilot: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Activity(SQLModel, table=True):
    """Every state change of a case: who, what and when."""

    __tablename__ = "activity"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="follow_up_case.id", index=True)
    at: datetime = _time()
    actor: str = Field(max_length=50)
    action: str = Field(max_length=50)
    detail: dict[str, Any] = _json(dict)


class EscalationStep(SQLModel, table=True):
    """A timed (ladder) or immediate (alert) escalation of a case, fired at most once."""

    __tablename__ = "escalation_step"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind", "seq", name="uq_step_case_kind_seq"),
        sa.Index(
            "ix_step_due_unfired",
            "due_at",
            sqlite_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
            postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="follow_up_case.id", index=True)
    kind: str = Field(max_length=20)
    seq: int
    notify: str = Field(max_length=320)
    reassign: bool = False
    reason: str | None = Field(default=None, max_length=50)
    due_at: datetime = _time()
    fired_at: datetime | None = _time(nullable=True)
    cancelled_at: datetime | None = _time(nullable=True)


class OutboxMessage(SQLModel, table=True):
    """A Slack delivery owed: rendered from stored state when sent, recorded once sent."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_queue", "status", "priority", "arr", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    case_id: int | None = Field(default=None, foreign_key="follow_up_case.id", index=True)
    kind: str = Field(max_length=30)
    payload: dict[str, Any] = _json(dict)
    priority: int = 0
    arr: float = 0.0
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _time()
    last_error: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=50)
    ts: str | None = Field(default=None, max_length=50)
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)
    # While `sending`: the worker holding the row (host/pid/nonce), NULL once nobody does; when
    # the send began; how often Slack could not be asked whether the message went through.
    lease_owner: str | None = Field(default=None, max_length=120)
    sending_at: datetime | None = _time(nullable=True)
    checks: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class SlackUser(SQLModel, table=True):
    """Cache of `users.lookupByEmail`: an email and the Slack user id it resolved to."""

    __tablename__ = "slack_user"

    email: str = Field(primary_key=True, max_length=320)
    user_id: str | None = Field(default=None, max_length=50)
    looked_up_at: datetime = _time()


class JobRun(SQLModel, table=True):
    """A daily job that ran: one row per job and day, so replicas run it once between them."""

    __tablename__ = "job_run"

    job: str = Field(primary_key=True, max_length=50)
    day: date = Field(primary_key=True)
    ran_at: datetime = _time()


class AccountEvent(SQLModel, table=True):
    """An account churned or renewed, as billing reported it; a repeated report adds nothing."""

    __tablename__ = "account_event"
    __table_args__ = (
        # Also the account_id index: the churn and renewal look-ups read it per account.
        sa.UniqueConstraint("account_id", "event", "at", name="uq_account_event"),
        sa.CheckConstraint("event IN ('churned', 'renewed')", name="ck_account_event_event"),
        sa.CheckConstraint("source IN ('webhook', 'import')", name="ck_account_event_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=200)
    event: str = Field(max_length=20)
    at: datetime = _time()
    arr: float | None = None
    source: str = Field(max_length=20)
    created_at: datetime = _time()


class AccountDomain(SQLModel, table=True):
    """An email domain and the account whose people write from it (the account directory)."""

    __tablename__ = "account_domain"

    domain: str = Field(primary_key=True, max_length=253)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=200)


class Touchpoint(SQLModel, table=True):
    """A product, support or billing event for an account or a person, from a feed."""

    __tablename__ = "touchpoint"
    __table_args__ = (
        sa.Index("ix_touchpoint_account_at", "account_id", "at"),
        sa.Index("ix_touchpoint_email_at", "email", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # A feed may send the same event twice: the hash of what it says keeps one row.
    dedupe_key: str = Field(unique=True, max_length=64)
    # No foreign key: a feed may speak of an account before the directory knows it.
    account_id: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    at: datetime = _time()
    kind: str = Field(max_length=50)
    summary: str = Field(default="", sa_type=sa.Text)
    received_at: datetime = _time()


class InboundFetch(SQLModel, table=True):
    """A response a survey platform only named: read back from its API until it arrives."""

    __tablename__ = "inbound_fetch"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_inbound_fetch"),
        sa.Index("ix_inbound_fetch_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=50)
    external_id: str = Field(max_length=200)
    ref: dict[str, Any] = _json(dict)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _time()
    last_error: str | None = Field(default=None, max_length=200)
    received_at: datetime = _time()
    done_at: datetime | None = _time(nullable=True)


class ThemeFix(SQLModel, table=True):
    """A root-cause theme marked fixed: what changed, when it shipped, who said so and when."""

    __tablename__ = "theme_fix"
    __table_args__ = (sa.Index("ix_theme_fix_theme_at", "theme", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    theme: str = Field(max_length=100)
    what_changed: str = Field(sa_type=sa.Text)
    shipped_on: date
    by: str = Field(max_length=50)
    at: datetime = _time()


class ThemeTold(SQLModel, table=True):
    """A customer told about a fix: once per fix and customer, whoever clicked first."""

    __tablename__ = "theme_told"

    fix_id: int = Field(foreign_key="theme_fix.id", primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=200)
    by: str = Field(max_length=50)
    at: datetime = _time()
