"""Formbricks: Standard Webhooks signatures (or a token for old versions) and response events."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
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

FORMBRICKS = PLATFORMS["formbricks"]
SAMPLE = json.loads((Path(__file__).parent / "data/platforms/formbricks.sample.json").read_text())
KEY = b"formbricks-test-key-32-bytes-abc"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = datetime(2026, 9, 1, 12, 0, 5, tzinfo=UTC)
SENT = int(datetime(2026, 9, 1, 12, 0, tzinfo=UTC).timestamp())


def sign(
    body: bytes,
    *,
    msg_id: str = "0190e5a0-0000-7000-8000-000000000001",
    sent: int = SENT,
    key: bytes = KEY,
) -> dict[str, str]:
    digest = hmac.new(key, f"{msg_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(sent),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def verify(body: bytes, headers: dict[str, str], *, now: datetime = NOW) -> None:
    FORMBRICKS.verify(body=body, headers=headers, secret=SECRET, token=None, now=now)


def event(name: str, data: dict[str, Any], **response: Any) -> dict[str, Any]:
    payload = copy.deepcopy(SAMPLE)
    payload["event"] = name
    payload["data"]["data"] = data
    payload["data"].update(response)
    return payload


def parse(payload: dict[str, Any], fields: FieldMap | None = None):
    return FORMBRICKS.parse(json.dumps(payload).encode(), headers={}, fields=fields or FieldMap())


def test_the_standard_webhooks_spec_vector_verifies():
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    now = datetime.fromtimestamp(1614265330 + 60, UTC)
    FORMBRICKS.verify(
        body=body,
        headers=headers,
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        token=None,
        now=now,
    )


def test_a_signed_sample_verifies_also_among_several_signatures():
    body = json.dumps(SAMPLE).encode()
    verify(body, sign(body))
    headers = sign(body)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    verify(body, headers)


def test_a_forged_signature_is_refused():
    body = json.dumps(SAMPLE).encode()
    forged = sign(body, key=b"another-key-of-32-bytes-00000000")
    with pytest.raises(Unauthorized, match="webhook-signature does not match") as refused:
        verify(body, forged)
    assert forged["webhook-signature"] not in refused.value.reason
    with pytest.raises(Unauthorized):
        verify(body + b" ", sign(body))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_named(missing):
    body = json.dumps(SAMPLE).encode()
    headers = sign(body)
    del headers[missing]
    with pytest.raises(Unauthorized, match=f"missing {missing} header"):
        verify(body, headers)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_timestamp_more_than_5_minutes_from_now_is_refused(offset):
    body = json.dumps(SAMPLE).encode()
    with pytest.raises(Unauthorized, match="webhook-timestamp"):
        verify(body, sign(body), now=datetime.fromtimestamp(SENT, UTC) - offset)
    verify(body, sign(body), now=datetime.fromtimestamp(SENT, UTC) - offset / 2)


def test_a_timestamp_that_is_not_unix_seconds_is_refused():
    body = json.dumps(SAMPLE).encode()
    headers = sign(body)
    headers["webhook-timestamp"] = "2026-09-01T12:00:00Z"
    with pytest.raises(Unauthorized, match="webhook-timestamp"):
        verify(body, headers)


def test_an_unsigned_legacy_delivery_needs_the_token():
    body = json.dumps(SAMPLE).encode()
    FORMBRICKS.verify(
        body=body,
        headers={"authorization": "Bearer fb-token"},
        secret=None,
        token="fb-token",
        now=NOW,
    )
    with pytest.raises(Unauthorized, match="missing Authorization header"):
        FORMBRICKS.verify(body=body, headers={}, secret=None, token="fb-token", now=NOW)


def test_the_verbatim_sample_has_no_score_so_it_is_a_bad_shape():
    with pytest.raises(BadShape) as bad:
        parse(SAMPLE)
    assert [(f.field, f.message) for f in bad.value.fields] == [("data.data", "no score answer")]


def test_the_sample_with_an_nps_answer_parses():
    payload = event("responseFinished", {"q1": "integration answer", "nps": 4, "plan": "pro"})
    assert parse(payload, FieldMap(comment_field="q1")) == Answer(
        response_id="clresponse<14 hex chars>",
        score=4,
        comment="integration answer",
        submitted_at=datetime(2026, 9, 1, 12, 0, tzinfo=UTC),
        properties={"plan": "pro"},
        complete=True,
    )


def test_created_updated_finished_build_up_one_response():
    fields = FieldMap(score_field="nps", comment_field="why")
    created = parse(event("responseCreated", {}, finished=False), fields)
    updated = parse(event("responseUpdated", {"nps": 2}, finished=False), fields)
    finished = parse(event("responseFinished", {"nps": 2, "why": "Too slow."}), fields)
    assert [(a.score, a.comment, a.complete) for a in (created, updated, finished)] == [
        (None, None, False),
        (2, None, False),
        (2, "Too slow.", True),
    ]
    assert {a.response_id for a in (created, updated, finished)} == {"clresponse<14 hex chars>"}


def test_with_no_score_field_several_numeric_answers_are_not_guessed():
    answers = {"rating": 4, "nps": 9}
    with pytest.raises(BadShape) as bad:
        parse(event("responseFinished", answers))
    assert [f.field for f in bad.value.fields] == ["data.data"]
    assert parse(event("responseFinished", answers), FieldMap(score_field="nps")).score == 9


def test_contact_attributes_give_email_name_and_properties_and_hidden_fields_the_account():
    contact = {"email": "ana@example.com", "firstName": "Ana", "lastName": "Silva", "tier": "gold"}
    payload = event(
        "responseFinished", {"nps": 6, "accountId": "acct-3"}, contactAttributes=contact
    )
    got = parse(payload, FieldMap(account_field="accountId"))
    assert (got.email, got.name, got.account_id) == ("ana@example.com", "Ana Silva", "acct-3")
    assert got.properties == {
        "accountId": "acct-3",
        "email": "ana@example.com",
        "firstName": "Ana",
        "lastName": "Silva",
        "tier": "gold",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (event("responseFinished", {"nps": 12}), "data.data.nps"),
        (event("responseFinished", {"nps": 5}, id=None), "data.id"),
        (event("responseFinished", {"nps": 5}, updatedAt="1970-01-01T00:00:00Z"), "data.updatedAt"),
        (event("responseFinished", {"nps": 5}, contactAttributes=["x"]), "data.contactAttributes"),
        ({"event": "responseFinished"}, "data"),
        ({"data": {}}, "event"),
    ],
)
def test_bad_fields_are_named(payload, field):
    with pytest.raises(BadShape) as bad:
        parse(payload, FieldMap(score_field="nps"))
    assert field in [f.field for f in bad.value.fields]


def test_other_events_are_ignored():
    assert isinstance(parse({"event": "testEndpoint", "data": {}}), Ignored)


def test_a_body_that_is_not_json_is_not_parseable():
    with pytest.raises(NotParseable):
        FORMBRICKS.parse(b"<xml/>", headers={}, fields=FieldMap())
