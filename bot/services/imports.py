"""Account events from a CSV file, each line validated as the account-event webhook's body is."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.services.payloads import AccountEventIn
from storage.account_events import ACCOUNT_ID_MAX, AccountEventRow

CSV_HEADER = ("account_id", "event", "at", "arr")

# Why a field was refused, by field and pydantic error type; the reasons never quote the line.
_REASONS = {
    ("account_id", "string_too_short"): "account_id is empty",
    ("account_id", "string_too_long"): f"account_id is longer than {ACCOUNT_ID_MAX} characters",
    ("event", "literal_error"): "event must be churned or renewed",
    ("at", "timezone_aware"): "at has no time zone (add Z or an offset such as +01:00)",
    ("arr", "float_parsing"): "arr is not a number",
    ("arr", "greater_than_equal"): "arr must be a finite number, zero or more",
    ("arr", "finite_number"): "arr must be a finite number, zero or more",
}
_FIELD_REASONS = {"at": "at is not an ISO 8601 date and time"}


@dataclass(frozen=True)
class CsvError:
    """A line of an import that was not taken, and why (never its content)."""

    line: int
    reason: str


def parse_account_csv(lines: Iterable[str]) -> Iterator[AccountEventRow | CsvError]:
    """Events from CSV lines under the header account_id,event,at,arr; bad lines as CsvError."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        yield CsvError(1, "the file is empty: expected the header account_id,event,at,arr")
        return
    except csv.Error:
        header = []
    names = tuple(name.strip().lstrip("\ufeff").lower() for name in header)
    if names != CSV_HEADER:
        yield CsvError(reader.line_num or 1, "the header must be account_id,event,at,arr")
        return
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield CsvError(reader.line_num, "not valid CSV")
            continue
        if not any(field.strip() for field in fields):
            continue
        parsed = _event(fields)
        yield CsvError(reader.line_num, parsed) if isinstance(parsed, str) else parsed


def _event(fields: list[str]) -> AccountEventRow | str:
    """The event a CSV record holds, or why it holds none."""
    if len(fields) != len(CSV_HEADER):
        return f"expected {len(CSV_HEADER)} fields, found {len(fields)}"
    values: dict[str, str | None] = dict(zip(CSV_HEADER, (f.strip() for f in fields), strict=True))
    values["arr"] = values["arr"] or None
    try:
        event = AccountEventIn.model_validate(values)
    except ValidationError as exc:
        return _reason(exc.errors(include_input=False, include_url=False)[0])
    return AccountEventRow(event.account_id, event.event, event.at, event.arr)


def _reason(error: ErrorDetails) -> str:
    """The first problem of a line, in words that do not repeat what the line held."""
    field = str(error["loc"][0]) if error["loc"] else "line"
    reason = _REASONS.get((field, error["type"])) or _FIELD_REASONS.get(field)
    return reason or f"{field} is not valid"
