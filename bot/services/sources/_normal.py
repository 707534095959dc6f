"""Reading platform payloads into plain values, naming every field that is missing or invalid."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.services.sources.base import BadShape, FieldError, NotParseable

MAX_COMMENT = 20_000
MAX_ID = 200
MAX_TEXT = 500
MAX_PROPERTIES = 100
MAX_PROPERTY = 1_000
FIRST_YEAR = 2000
LAST_YEAR = 2100
# Ids that go into an API path: nothing that could climb out of it.
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; NotParseable otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise NotParseable("body is not JSON") from None
    if not isinstance(data, dict):
        raise NotParseable("body is not a JSON object")
    return data


def clean(text: str, limit: int) -> str:
    """The text without NUL characters, cut to `limit` characters."""
    return text.replace("\x00", "")[:limit]


def scalar(value: object) -> str | None:
    """A JSON scalar as a string (booleans as true/false); None for null, lists and objects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return clean(value, MAX_PROPERTY)
    return None


def properties(*sources: Mapping[str, Any]) -> dict[str, str]:
    """The scalar entries of the mappings as strings; earlier mappings win on a shared key."""
    out: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            if len(out) >= MAX_PROPERTIES:
                return out
            text = scalar(value)
            if text is not None and key not in out and 0 < len(key) <= MAX_ID:
                out[key] = text
    return out


def full_name(*parts: str | None) -> str | None:
    """The non-empty parts joined by spaces, or None."""
    name = " ".join(p.strip() for p in parts if p and p.strip())
    return name or None


class Shape:
    """Reads fields one by one and collects what is wrong, so one BadShape names it all."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, message: str) -> None:
        """Record a bad field."""
        self.errors.append(FieldError(path, message))

    def done(self) -> None:
        """Raise BadShape if any field was bad."""
        if self.errors:
            raise BadShape(list(self.errors))

    def obj(self, value: object, path: str, *, required: bool = True) -> dict[str, Any]:
        """A JSON object; {} (and an error if required) when absent."""
        if isinstance(value, dict):
            return value
        if value is None and not required:
            return {}
        self.fail(path, "missing" if value is None else "must be an object")
        return {}

    def items(self, value: object, path: str) -> list[Any]:
        """A JSON array; [] and an error when absent or not an array."""
        if isinstance(value, list):
            return value
        self.fail(path, "missing" if value is None else "must be an array")
        return []

    def ident(self, value: object, path: str, *, safe: bool = False) -> str:
        """A required id (string or integer); `safe` ids may go into a URL path."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(path, "missing" if value is None else "must be a string")
            return ""
        text = str(value).strip()
        if not text:
            self.fail(path, "must not be empty")
        elif len(text) > MAX_ID:
            self.fail(path, f"must be at most {MAX_ID} characters")
        elif safe and not SAFE_ID.match(text):
            self.fail(path, "must be letters, digits, '_' or '-'")
        return text

    def score(self, value: object, path: str, *, required: bool = False) -> int | None:
        """A 0-10 score from an integer, an integral float or a numeric string; None if absent."""
        if value is None:
            if required:
                self.fail(path, "missing")
            return None
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None or not 0 <= number <= 10:
            self.fail(path, "must be a whole number from 0 to 10")
            return None
        return number

    def comment(self, value: object, path: str) -> str | None:
        """Free text without NULs, capped at 20,000 characters; None when absent or blank."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        text = clean(value, MAX_COMMENT)
        return text if text.strip() else None

    def text(self, value: object, path: str) -> str | None:
        """A short text (email, name, account id); integers become strings; None when blank."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        text = clean(value, MAX_TEXT + 1).strip()
        if len(text) > MAX_TEXT:
            self.fail(path, f"must be at most {MAX_TEXT} characters")
            return None
        return text or None

    def when(self, value: object, path: str) -> datetime | None:
        """A time (ISO 8601 text, UTC when it has no offset, or Unix seconds) in UTC."""
        if value is None or value == "":
            return None
        try:
            if isinstance(value, str):
                moment = datetime.fromisoformat(value.strip())
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                moment = datetime.fromtimestamp(value, UTC)
            else:
                self.fail(path, "must be an ISO 8601 time or Unix seconds")
                return None
        except (ValueError, OverflowError, OSError):
            self.fail(path, "must be an ISO 8601 time or Unix seconds")
            return None
        moment = moment.astimezone(UTC)
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            self.fail(path, f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
            return None
        return moment
