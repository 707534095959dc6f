"""Delighted: `X-Delighted-Webhook-Signature` and the created-then-updated survey responses."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.services.sources import (
    PLATFORMS,
    Answer,
    BadShape,
    FieldMap,
    Ignored,
    NotParseable,
    Unauthorized,
)

DELIGHTED = PLATFORMS["delighted"]
SAMPLE = json.loads((Path(__file__).parent / "data/platforms/delighted.sample.json").read_text())
API_KEY = "delighted-test-api-key"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sign(body: bytes, key: str = API_KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return {"x-delighted-webhook-signature": f"sha256={digest}"}


def sample(**event_data: Any) -> dict[str, Any]:
    payload = copy.deepcopy(SAMPLE)
    payload["event_data"].update(event_data)
    return payload


def parse(payload: dict[str, Any], fields: FieldMap | None = None):
    return DELIGHTED.parse(json.dumps(payload).encode(), headers={}, fields=fields or FieldMap())


def test_the_documented_regression_vector_verifies():
    body = b'{"event_type":"form_response","event_id":"01TEST"}'
    signature = "sha256=feb1e77e2f8bd1e365ce44f251b07e93a0ed82a6c7402135e35e9bb231e32425"
    headers = {"X-Delighted-Webhook-Signature": signature}
    DELIGHTED.verify(body=body, headers=headers, secret="delighted_api_key", token=None, now=NOW)


def test_a_signed_sample_verifies():
    body = json.dumps(SAMPLE).encode()
    DELIGHTED.verify(body=body, headers=sign(body), secret=API_KEY, token=None, now=NOW)


def test_a_forged_or_missing_signature_is_refused_by_header_name():
    body = json.dumps(SAMPLE).encode()
    forged = sign(body, "another-key")
    with pytest.raises(Unauthorized, match="X-Delighted-Webhook-Signature does not match") as no:
        DELIGHTED.verify(body=body, headers=forged, secret=API_KEY, token=None, now=NOW)
    assert forged["x-delighted-webhook-signature"] not in no.value.reason
    with pytest.raises(Unauthorized, match="missing X-Delighted-Webhook-Signature header"):
        DELIGHTED.verify(body=body, headers={}, secret=API_KEY, token=None, now=NOW)
    with pytest.raises(Unauthorized):
        DELIGHTED.verify(body=body + b"\n", headers=sign(body), secret=API_KEY, token=None, now=NOW)


def test_the_sample_update_parses_to_a_complete_answer():
    assert parse(SAMPLE) == Answer(
        response_id="5435",
        score=9,
        comment="Your service is fast and flawless!",
        email="charlie_gravis@example.com",
        name="Charlie Gravis",
        account_id=None,
        submitted_at=datetime(2018, 9, 20, 20, 20, 18, tzinfo=UTC),
        properties={},
        complete=True,
    )


def test_created_is_partial_then_updated_completes_the_same_response():
    created = sample(score=3, comment=None)
    created["event_type"] = "survey_response.created"
    first = parse(created)
    assert (first.response_id, first.score, first.comment, first.complete) == (
        "5435",
        3,
        None,
        False,
    )
    later = parse(sample(score=3, comment="Too slow."))
    assert (later.response_id, later.score, later.comment, later.complete) == (
        "5435",
        3,
        "Too slow.",
        True,
    )


def test_custom_properties_give_the_account_and_may_give_the_email():
    custom = {
        "Customer ID": "acct-9",
        "Work email": "c@work.example",
        "Seats": 25,
        "Trial": False,
        "Tags": ["a"],
    }
    fields = FieldMap(account_field="Customer ID", email_field="Work email")
    got = parse(sample(person_properties=custom), fields)
    assert (got.account_id, got.email) == ("acct-9", "c@work.example")
    assert got.properties == {
        "Customer ID": "acct-9",
        "Work email": "c@work.example",
        "Seats": "25",
        "Trial": "false",
    }
    assert parse(sample(person_properties={"Customer ID": "acct-9"}), fields).email == (
        "charlie_gravis@example.com"
    )


def test_a_string_score_is_read_as_a_number():
    assert parse(sample(score="4")).score == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score": 11}, "event_data.score"),
        ({"score": "ten"}, "event_data.score"),
        ({"score": None}, "event_data.score"),
        ({"id": None}, "event_data.id"),
        ({"created_at": 1537474818000}, "event_data.created_at"),
        ({"created_at": 946684799}, "event_data.created_at"),
        ({"comment": {"text": "x"}}, "event_data.comment"),
        ({"person": "Charlie"}, "event_data.person"),
        ({"survey_type": None}, "event_data.survey_type"),
    ],
)
def test_bad_fields_are_named(change, field):
    with pytest.raises(BadShape) as bad:
        parse(sample(**change))
    assert field in [f.field for f in bad.value.fields]


def test_a_missing_event_data_is_named():
    with pytest.raises(BadShape) as bad:
        parse({"event_type": "survey_response.updated"})
    assert [f.field for f in bad.value.fields] == ["event_data"]


def test_non_nps_surveys_and_other_events_are_ignored():
    assert isinstance(parse(sample(survey_type="csat")), Ignored)
    unsubscribe = {"event_type": "unsubscribe.created", "event_data": {"person": {}}}
    assert isinstance(parse(unsubscribe), Ignored)


def test_a_body_that_is_not_json_is_not_parseable():
    with pytest.raises(NotParseable):
        DELIGHTED.parse(b"event_type=survey_response.updated", headers={}, fields=FieldMap())
