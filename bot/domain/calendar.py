"""Business days in one time zone, and deadline arithmetic over them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holiday_lib

from bot.domain.durations import DAY_NAMES, Duration


@dataclass(frozen=True)
class Calendar:
    """Business days in one time zone, and deadline arithmetic over them."""

    tz: tzinfo
    business_days: frozenset[int]
    holidays: frozenset[date]
    holiday_calendar: str | None = None
    _public: dict[int, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.business_days:
            raise ValueError("a calendar needs at least one business day")

    @classmethod
    def from_rules(cls, rules: Any) -> Calendar:
        """The calendar the rules describe."""
        return cls(
            ZoneInfo(rules.timezone), rules.business_days, rules.holidays, rules.holiday_calendar
        )

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> Calendar:
        """The calendar recorded in a case's policy snapshot."""
        return cls(
            ZoneInfo(policy["timezone"]),
            frozenset(DAY_NAMES.index(name) for name in policy["business_days"]),
            frozenset(date.fromisoformat(d) for d in policy.get("holidays", [])),
            policy.get("holiday_calendar"),
        )

    def _is_public_holiday(self, day: date) -> bool:
        if self.holiday_calendar is None:
            return False
        if day.year not in self._public:
            self._public[day.year] = holiday_lib.country_holidays(
                self.holiday_calendar, years=day.year
            )
        return day in self._public[day.year]

    def is_business_day(self, day: date) -> bool:
        """Whether day is a working day: a business weekday that is no holiday."""
        return (
            day.weekday() in self.business_days
            and day not in self.holidays
            and not self._is_public_holiday(day)
        )

    def _next_business_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add(self, start: datetime, duration: Duration) -> datetime:
        """The UTC instant duration after start.

        Business days keep the local wall-clock time, or count from 00:00 of the next business
        day when start falls on a non-business day.
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be a timezone-aware datetime")
        if not duration.business:
            return start.astimezone(UTC) + duration.as_timedelta()
        local = start.astimezone(self.tz)
        day, wall = local.date(), local.time()
        if not self.is_business_day(day):
            day, wall = self._next_business_day(day), time(0)
        for _ in range(duration.amount):
            day = self._next_business_day(day)
        return datetime.combine(day, wall, tzinfo=self.tz).astimezone(UTC)

    def business_day_before(self, moment: datetime) -> datetime:
        """The UTC instant one business day before `moment`, at the same local wall-clock time."""
        local = moment.astimezone(self.tz)
        day = local.date() - timedelta(days=1)
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return datetime.combine(day, local.time(), tzinfo=self.tz).astimezone(UTC)
