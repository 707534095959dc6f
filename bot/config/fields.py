"""Annotated pydantic field types shared by configuration and payload models, and their errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.domain.durations import DURATION_HINT, Duration, parse_duration
from bot.domain.patterns import is_channel_id, is_email, is_person

Loc = tuple[str | int, ...]

TOP_LEVEL = "(top level)"
"""The key named when the whole document is wrong."""

REASONS: Mapping[str, str] = {
    "missing": "required",
    "missing_argument": "required",
    "extra_forbidden": "unknown key",
    "unexpected_keyword_argument": "unknown key",
    "dataclass_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "string_type": "expected a string",
    "string_too_short": "must not be empty",
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "int_type": "expected a whole number",
    "finite_number": "expected a finite number",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "set_type": "expected a list",
    "frozen_set_type": "expected a list",
}
"""Short reasons for pydantic's own error types, in the words of a TOML file."""


# --- problems ---------------------------------------------------------------------------------


def problem(reason: str) -> PydanticCustomError:
    """A validation error whose message is `reason`, word for word."""
    return PydanticCustomError("invalid", "{reason}", {"reason": reason})


def raise_problems(found: Iterable[tuple[Loc, str]]) -> None:
    """Raise one error per (location, reason), located inside the value being validated."""
    details = [InitErrorDetails(type=problem(reason), loc=loc, input=None) for loc, reason in found]
    if details:
        raise ValidationError.from_exception_data("problems", details)


def shown(value: object, limit: int = 60) -> str:
    """The repr of a value for an error message, cut short so no message carries a long input."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


def dotted(loc: Loc) -> str:
    """A location as a dotted key: `people.owners[1].user`."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key or TOP_LEVEL


def problems(exc: ValidationError, reasons: Mapping[str, str] = REASONS) -> list[tuple[str, str]]:
    """Every error of a validation as (dotted key, short reason), never with the input."""
    found = {
        (dotted(error["loc"]), reasons.get(error["type"]) or error["msg"]): None
        for error in exc.errors(include_url=False, include_input=False)
    }
    return list(found)


# --- plain values -----------------------------------------------------------------------------


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _blank_is_missing(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise problem("required")
    return value


BLANK_IS_NONE = BeforeValidator(_blank_is_none)
"""Reads an empty or blank string as "not set"."""

BLANK_IS_MISSING = BeforeValidator(_blank_is_missing)
"""Reads an empty or blank string as a missing required value."""

Text = Annotated[str, Strict(), StringConstraints(strip_whitespace=True)]
"""A string, surrounding whitespace removed."""

Word = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1)]
"""A string that is not blank, surrounding whitespace removed."""

OptionalText = Annotated[Text | None, BLANK_IS_NONE]
"""A string, or None when blank."""


def _not_negative(number: float) -> float:
    if number < 0:
        raise problem("must not be negative")
    return number


Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite int or float (never a bool or a numeric string), as a float."""

NonNegative = Annotated[Number, AfterValidator(_not_negative)]
"""A finite number of zero or more."""


def listed(what: str) -> BeforeValidator:
    """Refuses anything but a list (or a built tuple or set), naming what the list holds."""

    def check(value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return value
        raise problem(f"expected a list of {what}")

    return BeforeValidator(check)


# --- people and places ------------------------------------------------------------------------


def _person(text: str) -> str:
    if not is_person(text):
        raise problem(f"{shown(text)} is not a Slack user id (U... or W...) or an email")
    return text


def _channel(text: str) -> str:
    if not is_channel_id(text):
        raise problem(f"{shown(text)} is not a Slack channel id (C..., G... or D...)")
    return text


def _email(text: str) -> str:
    if not is_email(text):
        raise problem(f"{shown(text)} is not an email address")
    return text


def _http_url(text: str) -> str:
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or re.search(r"\s", text)
    ):
        raise problem(f"{shown(text)} is not an http(s) URL")
    return text


Person = Annotated[Text, AfterValidator(_person)]
"""A Slack user id (U... or W...) or an email address."""

ChannelId = Annotated[Text, AfterValidator(_channel)]
"""A Slack channel id (C..., G... or D...)."""

Email = Annotated[Text, AfterValidator(_email)]
"""An email address with a dotted domain."""

HttpUrl = Annotated[Text, AfterValidator(_http_url)]
"""An absolute http or https URL without whitespace."""

OptionalPerson = Annotated[Person | None, BLANK_IS_NONE]
"""A person, or None when blank."""

OptionalChannel = Annotated[ChannelId | None, BLANK_IS_NONE]
"""A Slack channel id, or None when blank."""

OptionalHttpUrl = Annotated[HttpUrl | None, BLANK_IS_NONE]
"""An http(s) URL, or None when blank."""


# --- durations --------------------------------------------------------------------------------


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str):
        raise problem(f'expected a duration string such as "48h" ({DURATION_HINT})')
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise problem(str(exc)) from None


def _clock_duration(value: Any) -> Duration:
    duration = _duration(value)
    if duration.business:
        raise problem(f"{str(duration)!r}: business days are not allowed here")
    return duration


_DURATION_SCHEMA = WithJsonSchema({"type": "string", "pattern": r"^\d+(bd|s|m|h|d)$"})

AnyDuration = Annotated[
    Duration, PlainValidator(_duration), PlainSerializer(str, return_type=str), _DURATION_SCHEMA
]
"""A duration written "90s", "15m", "24h", "7d" or "5bd" (or a built Duration)."""

ClockDuration = Annotated[
    Duration,
    PlainValidator(_clock_duration),
    PlainSerializer(str, return_type=str),
    _DURATION_SCHEMA,
]
"""A duration with a fixed length: business days are refused."""
