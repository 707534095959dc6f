"""What the program cost over a period: a flat monthly cost, or a cost per calendar month."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

DAYS_PER_MONTH = 30.4375
MONTHLY_COST_KEY = "kpi.monthly_cost"


@dataclass(frozen=True)
class Cost:
    """The program's cost over a period, or why it is not known."""

    amount: float | None
    missing: str | None = None


def months_between(start: datetime, end: datetime) -> float:
    """The period's length in average months, counting at least one day."""
    days = max((end - start).total_seconds() / 86_400, 1.0)
    return days / DAYS_PER_MONTH


def _month_start(year: int, month: int, tz: tzinfo) -> datetime:
    year, index = divmod(year * 12 + month - 1, 12)
    return datetime(year, index + 1, 1, tzinfo=tz).astimezone(UTC)


def program_cost(
    monthly: float | Sequence[tuple[str, float]], start: datetime, end: datetime, tz: tzinfo
) -> Cost:
    """The cost of [start, end): a flat monthly cost pro rata, or each month's share of its cost.

    With a table, every calendar month (in `tz`) the period touches must have a cost.
    """
    if not isinstance(monthly, Sequence):
        return Cost(float(monthly) * months_between(start, end))
    table = dict(monthly)
    local = start.astimezone(tz)
    year, month = local.year, local.month
    total, missing = 0.0, []
    while (first := _month_start(year, month, tz)) < end:
        following = _month_start(year, month + 1, tz)
        overlap = (min(end, following) - max(start, first)).total_seconds()
        key = f"{year:04d}-{month:02d}"
        if key not in table:
            missing.append(key)
        else:
            total += table[key] * overlap / (following - first).total_seconds()
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if missing:
        return Cost(None, f"no cost for {', '.join(missing)} in `{MONTHLY_COST_KEY}`")
    return Cost(total)
