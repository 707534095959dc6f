"""Touchpoints from product, support and billing feeds, and the latest before an answer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.models import Touchpoint
from storage.sql import insert_missing, writing

TOUCHPOINT = Touchpoint.__table__
SHOWN = 3


@dataclass(frozen=True)
class TouchpointRecord:
    """One event from a feed, for an account or for a person (by email)."""

    at: datetime
    kind: str
    summary: str = ""
    account_id: str | None = None
    email: str | None = None

    def dedupe_key(self) -> str:
        """The same event sent twice hashes the same."""
        parts = (self.account_id or "", (self.email or "").lower(), self.at.isoformat(), self.kind)
        return hashlib.sha256("\x1f".join((*parts, self.summary)).encode()).hexdigest()


def record_touchpoints(
    engine: sa.Engine, records: Sequence[TouchpointRecord], *, now: datetime
) -> int:
    """Store a feed's events; how many were new (events seen before add nothing)."""
    rows = {
        r.dedupe_key(): {
            "dedupe_key": r.dedupe_key(),
            "account_id": r.account_id,
            "email": r.email.lower() if r.email else None,
            "at": r.at,
            "kind": r.kind,
            "summary": r.summary,
            "received_at": now,
        }
        for r in records
    }
    if not rows:
        return 0
    with writing(engine) as conn:
        inserted = insert_missing(
            conn,
            TOUCHPOINT,
            [rows[k] for k in sorted(rows)],
            key=("dedupe_key",),
            returning=TOUCHPOINT.c.id,
        )
    return len(inserted)


def latest_before(
    conn: sa.Connection, *, account_id: str | None, email: str | None, before: datetime
) -> list[dict[str, str]]:
    """The account's and the person's latest feed events up to `before`, newest first."""
    who = []
    if account_id:
        who.append(TOUCHPOINT.c.account_id == account_id)
    if email:
        who.append(TOUCHPOINT.c.email == email.lower())
    if not who:
        return []
    query = (
        sa.select(TOUCHPOINT.c.at, TOUCHPOINT.c.kind, TOUCHPOINT.c.summary)
        .where(sa.or_(*who), TOUCHPOINT.c.at <= before)
        .order_by(TOUCHPOINT.c.at.desc(), TOUCHPOINT.c.id.desc())
        .limit(SHOWN)
    )
    return [
        {"at": at.isoformat(), "kind": kind, "summary": summary}
        for at, kind, summary in conn.execute(query)
    ]


def _when(item: Mapping[str, Any]) -> str:
    """An item's time as normalised ISO text, or "" when it has none that reads as one."""
    at = item.get("at")
    try:
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    except ValueError:
        return ""
    return moment.isoformat()


def merge_latest(*sources: Sequence[Any], limit: int | None = SHOWN) -> list[dict[str, Any]]:
    """The newest touchpoints of several lists, without repeats; those without a readable time
    come last. Items that are not mappings are left out."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for items in sources:
        for item in items:
            if not isinstance(item, Mapping):
                continue
            at = _when(item)
            key = (at, str(item.get("kind", "")), str(item.get("summary", "")))
            seen.setdefault(key, {**item, "at": at or item.get("at")})
    ordered = sorted(seen.items(), key=lambda pair: pair[0][0], reverse=True)
    merged = [item for _, item in ordered]
    return merged if limit is None else merged[:limit]
