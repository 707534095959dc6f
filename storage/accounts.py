"""The account directory: accounts and their email domains as the CRM has them, and matching a
respondent to an account by customer email or email domain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from storage.intake import AccountData, AccountFacts, CustomerData
from storage.models import Account, AccountDomain, Customer
from storage.sql import Bulk, upsert, writing

ACCOUNT = Account.__table__
DOMAIN = AccountDomain.__table__
CUSTOMER = Customer.__table__
BATCH = 500


@dataclass(frozen=True)
class AccountRecord:
    """One account as the directory (a CRM export or a reverse-ETL push) describes it."""

    account_id: str
    name: str
    arr: float | None = None
    plan: str | None = None
    renewal_date: date | None = None
    owner: str | None = None
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectoryResult:
    """What loading a directory did."""

    read: int
    created: int
    updated: int


@dataclass(frozen=True)
class Match:
    """The account a respondent belongs to, and their customer row when one is known."""

    account_id: str
    customer_id: str | None
    how: str  # "customer" (a known customer's email) or "domain"


def _account_row(record: AccountRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": record.account_id,
        "name": record.name,
        "arr": record.arr,
        "owner": record.owner,
        "plan": record.plan,
        "renewal_date": record.renewal_date,
        "created_at": now,
        "updated_at": now,
    }


def _write_batch(conn: sa.Connection, batch: Sequence[AccountRecord], now: datetime) -> int:
    """Upsert one batch of accounts and their domains; how many accounts were new."""
    by_id = {r.account_id: r for r in batch}  # the last line for an account wins
    ids = sorted(by_id)  # a fixed lock order, so concurrent loads never deadlock
    known = set(conn.execute(sa.select(ACCOUNT.c.id).where(ACCOUNT.c.id.in_(ids))).scalars())
    upsert(
        conn,
        ACCOUNT,
        [_account_row(by_id[i], now) for i in ids],
        key=("id",),
        update=("name", "arr", "owner", "plan", "renewal_date", "updated_at"),
        keep_when_null=("arr", "owner", "plan", "renewal_date"),
    )
    with_domains = [i for i in ids if by_id[i].domains]
    if with_domains:
        # The directory says which domains an account has: it replaces what was there.
        conn.execute(sa.delete(DOMAIN).where(DOMAIN.c.account_id.in_(with_domains)))
        rows = {d: i for i in with_domains for d in by_id[i].domains}
        upsert(
            conn,
            DOMAIN,
            [{"domain": d, "account_id": i} for d, i in sorted(rows.items())],
            key=("domain",),
            update=("account_id",),
        )
    return len(set(ids) - known)


def load_directory(
    engine: sa.Engine,
    records: Sequence[AccountRecord],
    *,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> DirectoryResult:
    """Load accounts in batches; loading the same records again changes nothing."""
    created = 0
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        with writing(engine) as conn:
            created += _write_batch(conn, batch, now)
        if progress is not None:
            progress(start + len(batch))
    distinct = len({r.account_id for r in records})
    return DirectoryResult(read=len(records), created=created, updated=distinct - created)


def domain_of(email: str) -> str:
    """The lower-case domain of an email address."""
    return email.rsplit("@", 1)[-1].strip().lower()


# Built once: the writer looks emails up in every batch of platform answers.
_EMAIL = sa.func.lower(CUSTOMER.c.email)
CUSTOMERS_BY_EMAIL = (
    sa.select(_EMAIL, CUSTOMER.c.id, CUSTOMER.c.account_id)
    .where(_EMAIL.in_(sa.bindparam("emails", expanding=True)))
    .order_by(CUSTOMER.c.id)
)
ACCOUNTS_BY_DOMAIN = sa.select(DOMAIN.c.domain, DOMAIN.c.account_id).where(
    DOMAIN.c.domain.in_(sa.bindparam("domains", expanding=True))
)


def match_emails(conn: sa.Connection, emails: Iterable[str]) -> dict[str, Match]:
    """The account of each email: a known customer's first, else the directory's domain."""
    wanted = sorted({e.strip().lower() for e in emails if e and "@" in e})
    if not wanted:
        return {}
    found: dict[str, Match] = {}
    for address, customer_id, account_id in conn.execute(CUSTOMERS_BY_EMAIL, {"emails": wanted}):
        found.setdefault(address, Match(account_id, customer_id, "customer"))
    domains = sorted({domain_of(e) for e in wanted if e not in found})
    if domains:
        by_domain = dict(conn.execute(ACCOUNTS_BY_DOMAIN, {"domains": domains}).all())
        for address in wanted:
            if address not in found and domain_of(address) in by_domain:
                found[address] = Match(by_domain[domain_of(address)], None, "domain")
    return found


def account_domains(engine: sa.Engine, account_id: str) -> list[str]:
    """The email domains the directory gives an account, sorted."""
    query = sa.select(DOMAIN.c.domain).where(DOMAIN.c.account_id == account_id)
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def _last_by_id(items: Iterable[Any]) -> list[Any]:
    """One item per id, the last one seen winning, in id order (a fixed lock order)."""
    return [item for _, item in sorted({item.id: item for item in items}.items())]


# --- accounts and customers as responses name them ----------------------------------------


ACCOUNT_UPSERT = """ ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    updated_at = excluded.updated_at,
    arr = COALESCE(excluded.arr, account.arr),
    owner = COALESCE(excluded.owner, account.owner),
    plan = COALESCE(excluded.plan, account.plan),
    renewal_date = COALESCE(excluded.renewal_date, account.renewal_date)"""


# A row a response only names is created once; an existing one is left as it is. Like the
# upserts, a driver-level multi-row INSERT: the writer runs one per batch.
INSERT_MISSING = " ON CONFLICT (id) DO NOTHING"
ACCOUNT_FACTS = sa.select(ACCOUNT.c.id, ACCOUNT.c.arr, ACCOUNT.c.owner).where(
    ACCOUNT.c.id.in_(sa.bindparam("ids", expanding=True))
)

CUSTOMER_UPSERT = """ ON CONFLICT (id) DO UPDATE SET
    account_id = excluded.account_id,
    name = excluded.name,
    updated_at = excluded.updated_at,
    email = COALESCE(excluded.email, customer.email),
    phone = COALESCE(excluded.phone, customer.phone)"""


def upsert_accounts(
    conn: sa.Connection, accounts: Iterable[AccountData], *, now: datetime
) -> AccountFacts:
    """Insert or update accounts and return their ARR and owner; fields left out keep theirs."""
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
    suffix = ACCOUNT_UPSERT + " RETURNING id, arr, owner"
    returned = Bulk(conn).insert("account", columns, rows, suffix)
    return {account_id: (arr, owner) for account_id, arr, owner in returned}


def ensure_accounts(
    conn: sa.Connection, accounts: Iterable[AccountData], *, now: datetime
) -> AccountFacts:
    """Accounts a response only names: created when unknown, never changed; their facts."""
    wanted = _last_by_id(accounts)
    if not wanted:
        return {}
    rows = [(a.id, a.name, now, now) for a in wanted]
    columns = ("id", "name", "created_at:t", "updated_at:t")
    Bulk(conn).insert("account", columns, rows, INSERT_MISSING)
    facts = conn.execute(ACCOUNT_FACTS, {"ids": [a.id for a in wanted]})
    return {account_id: (arr, owner) for account_id, arr, owner in facts}


def ensure_customers(
    conn: sa.Connection, customers: Iterable[CustomerData], *, now: datetime
) -> None:
    """Respondents a platform names: created when unknown; a known customer keeps their row."""
    rows = [(c.id, c.account_id, c.name, c.email, now, now) for c in _last_by_id(customers)]
    if rows:
        columns = ("id", "account_id", "name", "email", "created_at:t", "updated_at:t")
        Bulk(conn).insert("customer", columns, rows, INSERT_MISSING)


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
