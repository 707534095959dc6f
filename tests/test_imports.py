"""Account-event CSV files: each line validated as the webhook's body is, bad lines named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.services.imports import CsvError, parse_account_csv
from bot.services.payloads import BadPayload, parse_account_event
from storage.account_events import AccountEventRow


def at(month: int, day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, 0, micro, tzinfo=UTC)


CSV_TEXT = """account_id,event,at,arr
A,churned,2026-10-20T10:00:00Z,120000
B,renewed,2026-10-21T10:00:00+02:00,
"C, Inc",renewed,2026-10-22T00:00:00.5+00:00,80000.50

D,cancelled,2026-10-20T10:00:00Z,1
E,churned,2026-10-20 10:00,1
F,churned,yesterday,1
G,churned,2026-10-20T10:00:00Z,lots
H,churned,2026-10-20T10:00:00Z,-5
I,churned,2026-10-20T10:00:00Z
,churned,2026-10-20T10:00:00Z,1
J,churned,2026-10-20T10:00:00Z,1,extra
K,churned,2026-10-20T10:00:00Z,inf
"""


def test_csv_lines_parse_and_bad_ones_say_where_and_why():
    parsed = list(parse_account_csv(CSV_TEXT.splitlines(keepends=True)))
    good = [p for p in parsed if isinstance(p, AccountEventRow)]
    bad = [p for p in parsed if isinstance(p, CsvError)]
    assert good == [
        AccountEventRow("A", "churned", at(10, 20, 10), 120_000.0),
        AccountEventRow("B", "renewed", at(10, 21, 8), None),
        AccountEventRow("C, Inc", "renewed", at(10, 22, 0, 0, 500_000), 80_000.5),
    ]
    assert [(e.line, e.reason) for e in bad] == [
        (6, "event must be churned or renewed"),
        (7, "at has no time zone (add Z or an offset such as +01:00)"),
        (8, "at is not an ISO 8601 date and time"),
        (9, "arr is not a number"),
        (10, "arr must be a finite number, zero or more"),
        (11, "expected 4 fields, found 3"),
        (12, "account_id is empty"),
        (13, "expected 4 fields, found 5"),
        (14, "arr must be a finite number, zero or more"),
    ]
    # The reasons never repeat what the file held.
    for error in bad:
        for value in ("cancelled", "yesterday", "lots", "-5", "extra", "inf", "2026"):
            assert value not in error.reason


def test_csv_header_must_match():
    assert list(parse_account_csv([])) == [
        CsvError(1, "the file is empty: expected the header account_id,event,at,arr")
    ]
    wrong = ["account,event,at,arr\n", "A,churned,2026-10-20T10:00:00Z,1\n"]
    assert list(parse_account_csv(wrong)) == [
        CsvError(1, "the header must be account_id,event,at,arr")
    ]
    # A byte-order mark, spaces and capitals in the header are fine.
    ok = ["\ufeffAccount_ID, Event ,AT,arr\r\n", "A,renewed,2026-10-20T10:00:00Z,\r\n"]
    assert list(parse_account_csv(ok)) == [AccountEventRow("A", "renewed", at(10, 20, 10), None)]


def test_csv_line_numbers_count_quoted_line_breaks():
    lines = [
        "account_id,event,at,arr\n",
        '"multi\n',
        'line",churned,2026-10-20T10:00:00Z,1\n',
        "X,churned,bad,1\n",
    ]
    parsed = list(parse_account_csv(lines))
    assert parsed[0] == AccountEventRow("multi\nline", "churned", at(10, 20, 10), 1.0)
    assert parsed[1] == CsvError(4, "at is not an ISO 8601 date and time")


@pytest.mark.parametrize(
    ("at_text", "arr_text"),
    [
        ("2026-10-20T10:00:00+02:00", "1"),
        ("2026-10-20T10:00:00+0200", ""),
        ("2026-10-20", "1"),
        ("20261020T100000Z", "1"),
        ("2026-10-20T25:00:00Z", "1"),
        ("2026-10-20T10:00:00Z", "nan"),
        ("2026-10-20T10:00:00Z", "1e3"),
        ("2026-10-20T10:00:00Z", "-0.5"),
    ],
)
def test_a_line_is_taken_exactly_when_the_webhook_would_take_it(at_text, arr_text):
    body: dict[str, str] = {"account_id": "A", "event": "renewed", "at": at_text}
    if arr_text:
        body["arr"] = arr_text
    try:
        expected: AccountEventRow | None = AccountEventRow(
            **parse_account_event(json.dumps(body).encode()).model_dump()
        )
    except BadPayload:
        expected = None
    [parsed] = parse_account_csv(["account_id,event,at,arr\n", f"A,renewed,{at_text},{arr_text}\n"])
    if expected is None:
        assert isinstance(parsed, CsvError) and parsed.line == 2
    else:
        assert parsed == expected


def test_an_account_id_too_long_is_named_without_repeating_it():
    lines = ["account_id,event,at,arr\n", f"{'x' * 201},churned,2026-10-20T10:00:00Z,\n"]
    assert list(parse_account_csv(lines)) == [
        CsvError(2, "account_id is longer than 200 characters")
    ]
