"""The account directory's and the touchpoint feed's records: one model for JSON and CSV."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest

from bot.services.directory import (
    BadRecords,
    FieldError,
    NotJsonArray,
    parse_accounts,
    parse_touchpoints,
    read_accounts_csv,
)
from storage.accounts import AccountRecord


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_accounts_take_domains_as_a_list_or_a_string():
    records = parse_accounts(
        body(
            [
                {
                    "account_id": "a-1",
                    "name": "Acme",
                    "arr": 120000,
                    "owner": "U0ALICE",
                    "renewal_date": "2027-03-01",
                    "plan": "Pro",
                    "domains": ["Acme.com", "@acme.dk", "acme.com"],
                },
                {
                    "account_id": "a-2",
                    "name": "Globex",
                    "domains": "globex.io gx.io",
                    "extra": "ignored",
                },
            ]
        )
    )
    assert records == [
        AccountRecord(
            "a-1", "Acme", 120000, "Pro", date(2027, 3, 1), "U0ALICE", ("acme.com", "acme.dk")
        ),
        AccountRecord("a-2", "Globex", domains=("globex.io", "gx.io")),
    ]


def test_every_bad_account_field_is_named_and_never_echoed():
    with pytest.raises(BadRecords) as caught:
        parse_accounts(
            body(
                [
                    {"account_id": "a-1", "name": "Fine"},
                    {
                        "account_id": "",
                        "name": "x",
                        "arr": -5,
                        "owner": "SECRET-not-a-person",
                        "renewal_date": "9999-01-01",
                        "domains": ["not a domain"],
                    },
                    {"account_id": "a\u0000b", "name": "NUL"},
                ]
            )
        )
    fields = [e.field for e in caught.value.errors]
    assert fields == [
        "[1].account_id",
        "[1].arr",
        "[1].renewal_date",
        "[1].owner",
        "[1].domains",
        "[2].account_id",
    ]
    assert all("SECRET" not in e.message for e in caught.value.errors)


def test_arrays_only_and_at_most_a_thousand():
    with pytest.raises(NotJsonArray):
        parse_accounts(b'{"account_id": "a-1"}')
    with pytest.raises(NotJsonArray):
        parse_accounts(b"[{")
    with pytest.raises(BadRecords):
        parse_accounts(body([{"account_id": f"a-{i}", "name": "n"} for i in range(1001)]))
    assert len(parse_accounts(body([{"account_id": f"a-{i}", "name": "n"} for i in range(1000)])))


def test_touchpoints_need_an_account_or_a_person_and_a_sane_time():
    records = parse_touchpoints(
        body(
            [
                {
                    "account_id": "a-1",
                    "at": "2026-11-18T10:00:00+01:00",
                    "kind": "billing",
                    "summary": "Invoice\u0000 disputed",
                },
                {"email": "Dana@Acme.com", "at": "2026-11-17T10:00:00Z", "kind": "support"},
            ]
        )
    )
    assert records[0].at == datetime(2026, 11, 18, 9, tzinfo=UTC)
    assert records[0].summary == "Invoice disputed"
    assert records[1].email == "dana@acme.com" and records[1].account_id is None
    with pytest.raises(BadRecords) as caught:
        parse_touchpoints(
            body(
                [
                    {"at": "2026-11-18T10:00:00Z", "kind": "billing"},
                    {"account_id": "a", "at": "9999-12-31T23:59:59-05:00", "kind": "x"},
                    {"account_id": "a", "at": "2026-11-18T10:00:00", "kind": "naive"},
                ]
            )
        )
    assert [e.field for e in caught.value.errors] == ["[0]", "[1].at", "[2].at"]


def test_the_accounts_csv_names_each_bad_line_by_its_number():
    text = (
        "account_id,name,arr,plan,renewal_date,owner,domains,crm_stage\n"
        "a-1,Acme,120000,Pro,2027-03-01,alice@example.com,acme.com acme.dk,won\n"
        "a-2,,,,,,,lost\n"
        "a-3,Initech,lots,,,,,\n"
        "a-4,Umbrella,,,,,,\n"
    )
    rows = list(read_accounts_csv(io.StringIO(text)))
    assert rows[0] == AccountRecord(
        "a-1", "Acme", 120000, "Pro", date(2027, 3, 1), "alice@example.com", ("acme.com", "acme.dk")
    )
    errors = [r for r in rows if isinstance(r, FieldError)]
    assert [e.field for e in errors] == ["line 3: name", "line 4: arr"]
    assert rows[-1] == AccountRecord("a-4", "Umbrella")


def test_an_accounts_csv_without_the_columns_is_refused_at_line_one():
    [problem] = list(read_accounts_csv(io.StringIO("id,name\n1,Acme\n")))
    assert problem.field == "line 1" and "account_id" in problem.message
