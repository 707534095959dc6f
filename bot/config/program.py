"""The rules for the program's figures and its outer loop: KPI inputs, themes and the review."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, PlainSerializer, PlainValidator
from pydantic.dataclasses import dataclass

from bot.config.fields import (
    ClockDuration,
    OptionalChannel,
    Person,
    Text,
    Word,
    listed,
    problem,
)
from bot.domain.durations import Duration, parse_duration

TABLE = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

_MONTH_KEY = re.compile(r"\d{4}-(0[1-9]|1[0-2])", re.ASCII)

MonthCosts = tuple[tuple[str, float], ...]
"""A program cost per calendar month, as ("YYYY-MM", cost) pairs in month order."""


def _cost(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise problem("expected a number")
    if not math.isfinite(value):
        raise problem("expected a finite number")
    if value < 0:
        raise problem("must not be negative")
    return float(value)


def _monthly_cost(value: object) -> float | MonthCosts:
    """A number, or a table of month ("YYYY-MM") to number."""
    if isinstance(value, Mapping):
        pairs = value.items()
    elif isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        pairs = value
    else:
        return _cost(value)
    table = []
    for month, cost in pairs:
        if not isinstance(month, str) or not _MONTH_KEY.fullmatch(month):
            raise problem(f"{month!r} is not a month (YYYY-MM)")
        table.append((month, _cost(cost)))
    return tuple(sorted(table))


def _cost_out(value: float | MonthCosts) -> Any:
    return dict(value) if isinstance(value, tuple) else value


MonthlyCost = Annotated[
    float | MonthCosts, PlainValidator(_monthly_cost), PlainSerializer(_cost_out)
]
"""The program's monthly cost: one number, or a table by month ({"2026-10" = 4000, ...})."""


def _window(value: object) -> tuple[Duration, Duration]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise problem('expected two durations, such as ["30d", "90d"]')
    low, high = (_one_duration(v) for v in value)
    if high.as_timedelta() <= low.as_timedelta():
        raise problem(f"{high} must be longer than {low}")
    return low, high


def _one_duration(value: object) -> Duration:
    if isinstance(value, Duration):
        return value
    try:
        duration = parse_duration(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise problem(str(exc)) from None
    if duration.business:
        raise problem(f"{str(duration)!r}: business days are not allowed here")
    return duration


Window = Annotated[
    tuple[Duration, Duration],
    PlainValidator(_window),
    PlainSerializer(lambda pair: [str(d) for d in pair]),
]
"""From one duration to a longer one after a response, written ["30d", "90d"]."""


@dataclass(frozen=True, config=TABLE)
class Kpi:
    """Inputs to the program's figures: its cost and the windows outcomes are counted in."""

    monthly_cost: MonthlyCost = 0.0
    recovery_window: Window = (Duration(30, "d"), Duration(90, "d"))
    churn_window: ClockDuration = Duration(90, "d")


@dataclass(frozen=True, config=TABLE)
class Theme:
    """A root-cause theme with the functional owner who has the mandate to fix it."""

    name: Word
    owner: Person
    mandate: Text = ""


Themes = Annotated[tuple[Theme, ...], listed("theme tables")]


@dataclass(frozen=True, config=TABLE)
class Review:
    """Where the monthly root-cause review is posted (blank: the digest channel)."""

    channel: OptionalChannel = None
