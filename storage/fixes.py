"""Themes marked fixed, the customers who raised them, and who has been told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.db import begin_immediate
from storage.models import Account, Customer, FollowUpCase, OutboxMessage, ThemeFix, ThemeTold

FIX = ThemeFix.__table__
TOLD = ThemeTold.__table__
CASE = FollowUpCase.__table__
CUSTOMER = Customer.__table__
ACCOUNT = Account.__table__
OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class Fix:
    """A theme marked fixed."""

    id: int
    theme: str
    what_changed: str
    shipped_on: date
    by: str
    at: datetime


@dataclass(frozen=True)
class ToldRow:
    """A customer who raised a fixed theme, and whether they have been told."""

    customer_id: str
    name: str
    email: str | None
    account_id: str
    account_name: str
    account_owner: str | None
    told: bool


def _fix(row: Any) -> Fix:
    return Fix(row.id, row.theme, row.what_changed, row.shipped_on, row.by, row.at)


def get_fix(engine: sa.Engine, fix_id: int) -> Fix | None:
    """One fix by id."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(FIX).where(FIX.c.id == fix_id)).first()
    return _fix(row) if row is not None else None


def latest_fix(engine: sa.Engine, theme: str) -> Fix | None:
    """The theme's latest fix, the theme's name compared ignoring case."""
    query = (
        sa.select(FIX)
        .where(sa.func.lower(FIX.c.theme) == theme.lower())
        .order_by(FIX.c.at.desc(), FIX.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _fix(row) if row is not None else None


def _since(conn: sa.Connection, fix: Fix) -> datetime | None:
    """When the theme was fixed before this fix, if it was."""
    query = sa.select(sa.func.max(FIX.c.at)).where(
        sa.func.lower(FIX.c.theme) == fix.theme.lower(), FIX.c.at < fix.at, FIX.c.id != fix.id
    )
    return conn.execute(query).scalar()


def customers_to_tell(
    engine: sa.Engine, fix: Fix, *, conn: sa.Connection | None = None
) -> list[ToldRow]:
    """Customers with a case of the fix's theme since the theme's previous fix, told or not."""
    if conn is None:
        with engine.connect() as own:
            return customers_to_tell(engine, fix, conn=own)
    since = _since(conn, fix)
    raised = sa.and_(
        sa.func.lower(CASE.c.root_cause) == fix.theme.lower(), CASE.c.received_at <= fix.at
    )
    if since is not None:
        raised = sa.and_(raised, CASE.c.received_at > since)
    told = (
        sa.select(TOLD.c.customer_id)
        .where(TOLD.c.fix_id == fix.id, TOLD.c.customer_id == CUSTOMER.c.id)
        .exists()
    )
    query = (
        sa.select(
            CUSTOMER.c.id,
            CUSTOMER.c.name,
            CUSTOMER.c.email,
            ACCOUNT.c.id.label("account_id"),
            ACCOUNT.c.name.label("account_name"),
            ACCOUNT.c.owner,
            told.label("told"),
        )
        .where(CUSTOMER.c.id.in_(sa.select(CASE.c.customer_id).where(raised)))
        .join(ACCOUNT, ACCOUNT.c.id == CUSTOMER.c.account_id)
        .order_by(ACCOUNT.c.name, CUSTOMER.c.name, CUSTOMER.c.id)
    )
    return [
        ToldRow(r.id, r.name, r.email, r.account_id, r.account_name, r.owner, bool(r.told))
        for r in conn.execute(query)
    ]


def _delivery(key: str, kind: DeliveryKind, payload: dict[str, Any], now: datetime) -> dict:
    return {
        "dedupe_key": key,
        "case_id": None,
        "kind": kind,
        "payload": payload,
        "priority": 0,
        "arr": 0.0,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "channel": None,
    }


def record_fix(
    engine: sa.Engine,
    *,
    theme: str,
    what_changed: str,
    shipped_on: date,
    actor: str,
    cx_lead: str | None,
    now: datetime,
) -> int:
    """Store a fix and queue, in one transaction, the CX lead's draft and one DM per owner."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            fix_id = conn.execute(
                sa.insert(FIX)
                .values(theme=theme, what_changed=what_changed, shipped_on=shipped_on)
                .values(by=actor, at=now)
                .returning(FIX.c.id)
            ).scalar_one()
            fix = Fix(fix_id, theme, what_changed, shipped_on, actor, now)
            rows = []
            if cx_lead:
                payload = {"fix_id": fix_id, "to": cx_lead}
                rows.append(_delivery(f"fix:{fix_id}:draft", DeliveryKind.FIX_DRAFT, payload, now))
            owners = sorted({r.account_owner for r in customers_to_tell(engine, fix, conn=conn)})
            for number, owner in enumerate(o for o in owners if o):
                payload = {"fix_id": fix_id, "to": owner}
                key = f"fix:{fix_id}:tell:{number}"
                rows.append(_delivery(key, DeliveryKind.FIX_TELL, payload, now))
            if rows:
                conn.execute(sa.insert(OUTBOX), rows)
    return fix_id


def mark_told(
    engine: sa.Engine, fix_id: int, customer_ids: list[str], *, actor: str, now: datetime
) -> int:
    """Mark customers told about a fix; a customer already told stays as first marked."""
    if not customer_ids:
        return 0
    rows = [{"fix_id": fix_id, "customer_id": c, "by": actor, "at": now} for c in customer_ids]
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(TOLD).values(rows).on_conflict_do_nothing()
            return conn.execute(stmt).rowcount


def told_counts(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """Per theme (its name casefolded), its latest fix's customers told and to tell."""
    with engine.connect() as conn:
        themes = conn.execute(sa.select(FIX.c.theme).distinct()).scalars().all()
    counts: dict[str, tuple[int, int]] = {}
    for theme in sorted(set(t.casefold() for t in themes)):
        fix = latest_fix(engine, theme)
        if fix is not None:
            rows = customers_to_tell(engine, fix)
            counts[theme] = (sum(r.told for r in rows), len(rows))
    return counts


TOLD_COLUMNS = ("customer_id", "name", "email", "account", "told")


def export_told(engine: sa.Engine, theme: str) -> list[dict[str, str]]:
    """The customers told or to tell about the theme's latest fix, for a mailing tool; no
    comments."""
    fix = latest_fix(engine, theme)
    if fix is None:
        return []
    return [
        {
            "customer_id": r.customer_id,
            "name": r.name,
            "email": r.email or "",
            "account": r.account_name,
            "told": "yes" if r.told else "no",
        }
        for r in customers_to_tell(engine, fix)
    ]
