"""Report periods from what a user types: "", "7d", "30d", "90d", "YYYY-MM" or "YYYY-Qn".

Months and quarters are calendar ones in the team's time zone; every period comes back as a
half-open UTC interval [start, end), so its length is real elapsed time even across DST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

ACCEPTED = (
    'a period is one of: "" (the last 30 days), "7d", "30d", "90d", '
    '"YYYY-MM" (a calendar month, e.g. 2026-03) or "YYYY-Qn" (a quarter, e.g. 2026-Q1)'
)
DEFAULT_DAYS = 30
ROLLING_DAYS = frozenset({7, 30, 90})
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_ROLLING = re.compile(r"(\d+)d", re.ASCII)
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_QUARTER = re.compile(r"(\d{4})-q([1-4])", re.ASCII)


class PeriodError(ValueError):
    """The text is not a period; the message lists the accepted forms."""


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) in UTC, with how to name it to people."""

    start: datetime
    end: datetime
    label: str


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _local_midnight(year: int, month: int, tz: tzinfo) -> datetime:
    """The first instant of the month's first day in `tz`, in UTC."""
    # In a DST gap at midnight, fold=0 takes the offset before the jump, which is the instant
    # the day actually starts; at a repeated midnight it takes the first of the two.
    return datetime(year, month, 1, tzinfo=tz).astimezone(UTC)


def _months(year: int, first: int, count: int, tz: tzinfo, label: str) -> Period:
    """`count` calendar months from `first` of `year` in `tz`."""
    index = year * 12 + first - 1 + count
    end_year, end_month = divmod(index, 12)
    try:
        start = _local_midnight(year, first, tz)
        end = _local_midnight(end_year, end_month + 1, tz)
    except (ValueError, OverflowError):
        raise PeriodError(f"{label} is out of range: {ACCEPTED}") from None
    return Period(start, end, label)


def month(year: int, month_number: int, tz: tzinfo) -> Period:
    """The calendar month in `tz`."""
    return _months(year, month_number, 1, tz, f"{MONTH_NAMES[month_number - 1]} {year}")


def quarter(year: int, number: int, tz: tzinfo) -> Period:
    """The calendar quarter (1-4) in `tz`."""
    return _months(year, 3 * (number - 1) + 1, 3, tz, f"Q{number} {year}")


def last_days(days: int, *, now: datetime) -> Period:
    """The `days` days ending at `now`."""
    _require_aware(now)
    end = now.astimezone(UTC)
    return Period(end - timedelta(days=days), end, f"last {days} days")


def last_month(now: datetime, tz: tzinfo) -> Period:
    """The calendar month before the one `now` falls in, in `tz`."""
    _require_aware(now)
    local = now.astimezone(tz)
    year, previous = divmod(local.year * 12 + local.month - 2, 12)
    return month(year, previous + 1, tz)


def last_quarters(now: datetime, tz: tzinfo, count: int) -> list[Period]:
    """The `count` whole calendar quarters in `tz` before the one `now` falls in, oldest first."""
    _require_aware(now)
    local = now.astimezone(tz)
    current = local.year * 4 + (local.month - 1) // 3
    return [quarter(index // 4, index % 4 + 1, tz) for index in range(current - count, current)]


def previous_period(period: Period, tz: tzinfo) -> Period:
    """The calendar month before a calendar month in `tz`; else as long a period just before."""
    local = period.start.astimezone(tz)
    if local.day == 1 and local.time() == datetime.min.time():
        this = month(local.year, local.month, tz)
        if this.end == period.end:
            return last_month(period.start, tz)
    length = period.end - period.start
    return Period(period.start - length, period.start, f"the {length.days} days before")


def parse_period(text: str, *, now: datetime, tz: tzinfo) -> Period:
    """The period `text` names, relative to `now` and in `tz`; PeriodError if it names none."""
    _require_aware(now)
    cleaned = text.strip().lower()
    if not cleaned:
        return last_days(DEFAULT_DAYS, now=now)
    if match := _ROLLING.fullmatch(cleaned):
        days = int(match.group(1))
        if days in ROLLING_DAYS:
            return last_days(days, now=now)
    elif match := _MONTH.fullmatch(cleaned):
        year, number = int(match.group(1)), int(match.group(2))
        if 1 <= number <= 12 and year >= 1:
            return month(year, number, tz)
    elif match := _QUARTER.fullmatch(cleaned):
        year = int(match.group(1))
        if year >= 1:
            return quarter(year, int(match.group(2)), tz)
    raise PeriodError(f"not a period: {ACCEPTED}")
