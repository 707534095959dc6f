"""Field types only the rules file uses: time zone, days, dates, clock times, menus, recipients."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import suppress
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_lib
from pydantic import AfterValidator, PlainSerializer, PlainValidator, TypeAdapter

from bot.config.fields import (
    BLANK_IS_NONE,
    Text,
    Word,
    listed,
    problem,
    raise_problems,
    shown,
)
from bot.domain.durations import DAY_NAMES
from bot.domain.patterns import is_person

ROLES = ("manager", "cx_lead", "vp_customer_success", "support_lead")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise problem(f"{shown(name)} is not a known IANA time zone") from None
    return name


TimeZoneName = Annotated[Text, AfterValidator(_time_zone)]
"""An IANA time zone name such as "Europe/Copenhagen"."""


def _weekday(value: object) -> int:
    if not isinstance(value, str):
        raise problem("expected a string")
    name = value.strip().lower()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in FULL_DAY_NAMES:
        return FULL_DAY_NAMES.index(name)
    raise problem(f"{shown(value)} is not a day name ({', '.join(DAY_NAMES)})")


_DAY_NAMES = TypeAdapter(tuple[Annotated[int, PlainValidator(_weekday)], ...])


def _business_days(value: object) -> frozenset[int]:
    """Day names as a file lists them, or weekday numbers (Monday is 0) in a set built by code."""
    if isinstance(value, set | frozenset) and all(type(d) is int and 0 <= d < 7 for d in value):
        days = frozenset(value)
    elif isinstance(value, list | tuple):
        days = frozenset(_DAY_NAMES.validate_python(value))
    else:
        raise problem("expected a list of day names")
    if not days:
        raise problem("at least one business day is required")
    return days


BusinessDays = Annotated[
    frozenset[int],
    PlainValidator(_business_days),
    PlainSerializer(lambda days: [DAY_NAMES[d] for d in sorted(days)]),
]
"""The weekdays that count as business days (Monday is 0), written as day names."""


def _holiday(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise problem("expected an ISO date string (YYYY-MM-DD)")
    text = value.strip()
    if _ISO_DATE.match(text):
        with suppress(ValueError):
            return dt.date.fromisoformat(text)
    raise problem(f"{shown(value)} is not an ISO date (YYYY-MM-DD)")


Holidays = Annotated[
    frozenset[Annotated[dt.date, PlainValidator(_holiday)]],
    listed("ISO dates"),
    PlainSerializer(lambda dates: [d.isoformat() for d in sorted(dates)]),
]
"""Extra days off, written as ISO dates (TOML dates are read too)."""


@cache
def _countries() -> frozenset[str]:
    return frozenset(holiday_lib.list_supported_countries())


def _country(code: str | None) -> str | None:
    if code is not None and code.upper() not in _countries():
        raise problem(f"{shown(code)} is not a country code the holidays package knows")
    return code.upper() if code else None


HolidayCalendar = Annotated[Text | None, BLANK_IS_NONE, AfterValidator(_country)]
"""A country code of the holidays package, upper-cased; None when blank."""


def _clock(value: object) -> dt.time:
    if isinstance(value, dt.time) and not (value.second or value.microsecond or value.tzinfo):
        return value
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise problem(f'{shown(value)} is not a 24-hour time such as "09:00"')
    return dt.time(int(match[1]), int(match[2]))


ClockTime = Annotated[
    dt.time,
    PlainValidator(_clock),
    PlainSerializer(lambda time: time.strftime("%H:%M"), return_type=str),
]
"""A local time of day in whole minutes, written "HH:MM" (a TOML time is read too)."""


def _fits_option(cause: str) -> str:
    if len(cause) > MAX_OPTION_TEXT:
        raise problem(f"longer than {MAX_OPTION_TEXT} characters (Slack's limit)")
    return cause


def _menu(causes: tuple[str, ...]) -> tuple[str, ...]:
    if not causes:
        raise problem("at least one root cause is required")
    if len(causes) > MAX_OPTIONS:
        raise problem(f"at most {MAX_OPTIONS} root causes fit in a Slack menu")
    seen: set[str] = set()
    repeats = []
    for i, cause in enumerate(causes):
        if cause.casefold() in seen:
            repeats.append(((i,), f"{shown(cause)} is listed twice"))
        seen.add(cause.casefold())
    raise_problems(repeats)
    return causes


RootCauses = Annotated[
    tuple[Annotated[Word, AfterValidator(_fits_option)], ...],
    listed("root causes"),
    AfterValidator(_menu),
]
"""The options of a Slack menu: 1 to 100, each at most 75 characters, unique ignoring case."""


def _recipient(text: str) -> str:
    if text in ROLES or is_person(text):
        return text
    raise problem(f"{shown(text)} is not a role ({', '.join(ROLES)}), a Slack user id or an email")


Notify = Annotated[Text, AfterValidator(_recipient)]
"""A role (manager, cx_lead, ...), a Slack user id or an email."""
