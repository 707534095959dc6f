"""Account churn and renewal events, from the billing webhook or an import; each stored once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

import sqlalchemy as sa

from storage.sql import Bulk, writing

CHURNED = "churned"
RENEWED = "renewed"
EVENTS = frozenset({CHURNED, RENEWED})
SOURCES = frozenset({"webhook", "import"})
ACCOUNT_ID_MAX = 200
EVENT_COLUMNS = ("account_id", "event", "at:t", "arr", "source", "created_at:t")


@dataclass(frozen=True)
class AccountEventRow:
    """A churn or renewal to record."""

    account_id: str
    event: str
    at: datetime
    arr: float | None = None


@dataclass(frozen=True)
class ImportResult:
    """Lines read, events stored, and events already stored before."""

    read: int
    created: int
    duplicates: int


def _check_event(row: AccountEventRow) -> None:
    if not row.account_id or len(row.account_id) > ACCOUNT_ID_MAX:
        raise ValueError(f"an account id takes 1 to {ACCOUNT_ID_MAX} characters")
    if row.event not in EVENTS:
        raise ValueError(f"unknown account event: {row.event!r}")
    if row.at.tzinfo is None:
        raise ValueError("an account event needs an aware time")
    if row.arr is not None and not (math.isfinite(row.arr) and row.arr >= 0):
        raise ValueError("ARR must be a finite number, zero or more")


def _store_events(
    conn: sa.Connection, rows: Sequence[AccountEventRow], *, source: str, now: datetime
) -> int:
    """Insert events (and a bare account for any unknown id); return how many were new."""
    if source not in SOURCES:
        raise ValueError(f"unknown event source: {source!r}")
    for row in rows:
        _check_event(row)
    bulk = Bulk(conn)
    accounts = sorted({row.account_id for row in rows})  # a fixed lock order
    bulk.insert(
        "account",
        ("id", "name", "created_at:t", "updated_at:t"),
        [(account_id, account_id, now, now) for account_id in accounts],
        " ON CONFLICT (id) DO NOTHING",
    )
    values = [(r.account_id, r.event, r.at, r.arr, source, now) for r in rows]
    suffix = " ON CONFLICT (account_id, event, at) DO NOTHING RETURNING id"
    return len(bulk.insert("account_event", EVENT_COLUMNS, values, suffix).all())


def record_account_event(
    engine: sa.Engine,
    *,
    account_id: str,
    event: str,
    at: datetime,
    arr: float | None,
    source: str,
    now: datetime,
) -> bool:
    """Record that an account churned or renewed; False if that event was already recorded."""
    row = AccountEventRow(account_id, event, at, arr)
    with writing(engine) as conn:
        return _store_events(conn, [row], source=source, now=now) == 1


def _batches(rows: Iterable[AccountEventRow], size: int) -> Iterator[list[AccountEventRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def import_account_events(
    engine: sa.Engine,
    rows: Iterable[AccountEventRow],
    *,
    now: datetime,
    batch: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store imported events, one transaction per batch; lines already stored change nothing.

    `progress` is told how many rows have been read after each batch.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    read = created = 0
    for chunk in _batches(rows, batch):
        with writing(engine) as conn:
            created += _store_events(conn, chunk, source="import", now=now)
        read += len(chunk)
        if progress is not None:
            progress(read)
    return ImportResult(read=read, created=created, duplicates=read - created)
