"""Responses a survey platform only named, queued until nps-bot has read them from its API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.models import InboundFetch
from storage.sql import insert_missing, skip_locked, writing

FETCH = InboundFetch.__table__
PENDING, DONE, FAILED = "pending", "done", "failed"
# A fetch in flight holds its row this long; a process that dies frees it by then.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Fetch:
    """A queued read-back: which source, which response, and what the platform said of it."""

    id: int
    source: str
    external_id: str
    ref: dict[str, Any]
    attempts: int


def enqueue(
    engine: sa.Engine, *, source: str, external_id: str, ref: dict[str, Any], now: datetime
) -> bool:
    """Queue a read-back, durably; False when this response was queued before."""
    row = {
        "source": source,
        "external_id": external_id,
        "ref": ref,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }
    with writing(engine) as conn:
        key = ("source", "external_id")
        return bool(insert_missing(conn, FETCH, [row], key=key, returning=FETCH.c.id))


def claim_due(engine: sa.Engine, *, now: datetime, limit: int = 20) -> list[Fetch]:
    """Take the read-backs that are due, leasing each so that one worker fetches it."""
    due = (
        sa.select(FETCH)
        .where(FETCH.c.status == PENDING, FETCH.c.next_attempt_at <= now)
        .order_by(FETCH.c.next_attempt_at, FETCH.c.id)
        .limit(limit)
    )
    with writing(engine) as conn:
        rows = conn.execute(skip_locked(due, of=FETCH)).all()
        if not rows:
            return []
        conn.execute(
            sa.update(FETCH)
            .where(FETCH.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + LEASE, attempts=FETCH.c.attempts + 1)
        )
    return [Fetch(r.id, r.source, r.external_id, dict(r.ref), r.attempts + 1) for r in rows]


def _finish(engine: sa.Engine, fetch_id: int, **values: Any) -> None:
    with writing(engine) as conn:
        conn.execute(
            sa.update(FETCH)
            .where(FETCH.c.id == fetch_id, FETCH.c.status == PENDING)
            .values(**values)
        )


def done(engine: sa.Engine, fetch_id: int, *, now: datetime) -> None:
    """The response arrived and was stored."""
    _finish(engine, fetch_id, status=DONE, done_at=now, last_error=None)


def retry(engine: sa.Engine, fetch_id: int, *, at: datetime, error: str) -> None:
    """Try again at `at`; the error is kept for /healthz."""
    _finish(engine, fetch_id, next_attempt_at=at, last_error=error[:200])


def fail(engine: sa.Engine, fetch_id: int, *, error: str, now: datetime) -> None:
    """Stop: the platform refuses for good (a rejected token is fixed by an operator)."""
    _finish(engine, fetch_id, status=FAILED, last_error=error[:200], done_at=now)


def retry_failed(engine: sa.Engine, *, source: str | None, now: datetime) -> int:
    """Put failed read-backs back in the queue (after a token was fixed); how many."""
    stmt = sa.update(FETCH).where(FETCH.c.status == FAILED)
    if source is not None:
        stmt = stmt.where(FETCH.c.source == source)
    stmt = stmt.values(status=PENDING, next_attempt_at=now, attempts=0, done_at=None)
    with writing(engine) as conn:
        return conn.execute(stmt).rowcount


@dataclass(frozen=True)
class SourceQueue:
    """A source's read-backs for /healthz: waiting, failing (retried with an error) and failed."""

    pending: int
    failing: int
    failed: int
    oldest_pending_seconds: int | None
    last_error: str | None


def queue_state(engine: sa.Engine, *, now: datetime) -> dict[str, SourceQueue]:
    """Each source's read-back queue, for /healthz."""
    open_rows = (
        sa.select(
            FETCH.c.source,
            FETCH.c.status,
            sa.func.count(),
            sa.func.min(FETCH.c.received_at),
            sa.func.sum(sa.case((FETCH.c.last_error.is_not(None), 1), else_=0)),
            sa.func.max(FETCH.c.last_error),
        )
        .where(FETCH.c.status.in_([PENDING, FAILED]))
        .group_by(FETCH.c.source, FETCH.c.status)
    )
    state: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for source, status, count, oldest, erring, error in conn.execute(open_rows):
            entry = state.setdefault(source, {"pending": 0, "failing": 0, "failed": 0})
            if status == PENDING:
                entry.update(pending=count, failing=int(erring or 0), oldest=oldest)
                entry["error"] = entry.get("error") or error
            else:
                entry.update(failed=count, error=error)
    return {
        source: SourceQueue(
            pending=e["pending"],
            failing=e["failing"],
            failed=e["failed"],
            oldest_pending_seconds=(
                int((now - e["oldest"]).total_seconds()) if e.get("oldest") else None
            ),
            last_error=e.get("error"),
        )
        for source, e in state.items()
    }
