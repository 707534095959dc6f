"""Durations as the rules write them: 90s, 15m, 24h, 7d, or 5bd for business days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

DURATION_HINT = "use 90s, 15m, 24h, 7d or 5bd"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION = re.compile(r"^(\d+)(bd|s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Duration:
    """A positive amount of seconds, minutes, hours, days or business days."""

    amount: int
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in (*_UNIT_SECONDS, "bd"):
            raise ValueError(f"{self.unit!r} is not a duration unit (s, m, h, d or bd)")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(f"{self.amount!r}: the amount must be a positive integer")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def business(self) -> bool:
        """Whether the duration counts business days."""
        return self.unit == "bd"

    def as_timedelta(self) -> timedelta:
        """The fixed length of a clock duration; business days have none."""
        if self.business:
            raise ValueError(f"{self} counts business days and has no fixed length")
        return timedelta(seconds=self.amount * _UNIT_SECONDS[self.unit])


def parse_duration(text: str) -> Duration:
    """Parses "90s", "15m", "24h", "7d" or "5bd" into a Duration."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration ({DURATION_HINT})")
    amount = int(match.group(1))
    if amount < 1:
        raise ValueError(f"{text!r} is not a duration (the amount must be a positive integer)")
    return Duration(amount, match.group(2))
