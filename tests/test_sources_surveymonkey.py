"""SurveyMonkey: `Sm-Signature`, `response_completed` notices, and the fetch against a fake API."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.services.sources import (
    PLATFORMS,
    Answer,
    BadShape,
    FetchFailed,
    FetchRef,
    FieldMap,
    Ignored,
    NotParseable,
    Unauthorized,
)
from tests.fake_platforms import FakePlatforms, fake_platforms  # noqa: F401

SURVEYMONKEY = PLATFORMS["surveymonkey"]
DATA = Path(__file__).parent / "data/platforms"
SAMPLE = json.loads((DATA / "surveymonkey.sample.json").read_text())
SURVEY = json.loads((DATA / "surveymonkey.survey_details.json").read_text())
RESPONSE = json.loads((DATA / "surveymonkey.response_details.json").read_text())
SECRET = "client-id-1&client-secret-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
REF = FetchRef("surveymonkey", "123456", "123456789", "123456789")
RESPONSE_PATH = "/v3/surveys/123456789/responses/123456/details"
SURVEY_PATH = "/v3/surveys/123456789/details"


def sign(body: bytes, key: str = SECRET) -> dict[str, str]:
    digest = hmac.new(key.encode(), body, hashlib.sha1).digest()
    return {"sm-signature": base64.b64encode(digest).decode(), "sm-apikey": "client-id-1"}


def parse(payload: dict[str, Any]):
    return SURVEYMONKEY.parse(json.dumps(payload).encode(), headers={}, fields=FieldMap())


@pytest.fixture
def api(fake_platforms: FakePlatforms) -> FakePlatforms:  # noqa: F811
    fake_platforms.add_surveymonkey_survey("123456789", SURVEY)
    fake_platforms.add_surveymonkey_response("123456789", "123456", RESPONSE)
    return fake_platforms


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as client:
        yield client


def fetch(api: FakePlatforms, client: httpx.Client, fields: FieldMap | None = None, **kw: Any):
    options = {"api_url": api.surveymonkey_url, "api_token": api.surveymonkey_token} | kw
    return SURVEYMONKEY.fetch(REF, client=client, fields=fields or FieldMap(), **options)


def test_the_documented_regression_vector_verifies():
    body = b'{"event_type":"form_response","event_id":"01TEST"}'
    headers = {"Sm-Signature": "nGi+ZXEnBmjSiZKad5Z35m/DLmA="}
    SURVEYMONKEY.verify(
        body=body, headers=headers, secret="client_id_123&client_secret_456", token=None, now=NOW
    )


def test_a_signed_sample_verifies_and_a_forged_or_missing_one_does_not():
    body = json.dumps(SAMPLE).encode()
    SURVEYMONKEY.verify(body=body, headers=sign(body), secret=SECRET, token=None, now=NOW)
    forged = sign(body, "client-id-1&wrong-secret")
    with pytest.raises(Unauthorized, match="Sm-Signature does not match") as refused:
        SURVEYMONKEY.verify(body=body, headers=forged, secret=SECRET, token=None, now=NOW)
    assert forged["sm-signature"] not in refused.value.reason
    with pytest.raises(Unauthorized, match="missing Sm-Signature header"):
        SURVEYMONKEY.verify(body=body, headers={}, secret=SECRET, token=None, now=NOW)


def test_the_sample_notice_parses_to_a_fetch_ref():
    assert parse(SAMPLE) == REF


def test_other_events_are_ignored():
    assert isinstance(parse(SAMPLE | {"event_type": "response_updated"}), Ignored)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"object_id": None}, "object_id"),
        ({"object_id": "../../users/me"}, "object_id"),
        ({"resources": {"collector_id": "1"}}, "resources.survey_id"),
        ({"resources": None}, "resources"),
        ({"event_type": 7}, "event_type"),
    ],
)
def test_bad_fields_are_named(change, field):
    with pytest.raises(BadShape) as bad:
        parse(SAMPLE | change)
    assert field in [f.field for f in bad.value.fields]


def test_a_body_that_is_not_json_is_not_parseable():
    with pytest.raises(NotParseable):
        SURVEYMONKEY.parse(b"\x00\x01", headers={}, fields=FieldMap())


def test_fetch_reads_the_response_and_maps_choices_through_the_survey(api, client):
    got = fetch(api, client, FieldMap(account_field="account_id"))
    assert got == Answer(
        response_id="123456",
        score=3,
        comment="Exports time out every Monday.",
        email="pat@example.com",
        name="Pat Doe",
        account_id="acct-42",
        submitted_at=datetime(2016, 1, 1, 21, 56, 31, tzinfo=UTC),
        properties={"account_id": "acct-42", "plan": "enterprise"},
        complete=True,
    )
    assert api.hits(RESPONSE_PATH) == api.hits(SURVEY_PATH) == 1
    assert api.requests[0][2]["authorization"] == f"bearer {api.surveymonkey_token}"


def test_a_named_score_question_is_read_by_its_choice(api, client):
    got = fetch(api, client, FieldMap(score_field="40001", comment_field="40003"))
    assert (got.score, got.comment) == (4, "Example Ltd")


def nps_choices(survey: dict[str, Any]) -> list[dict[str, Any]]:
    return survey["pages"][0]["questions"][1]["answers"]["choices"]


def test_a_choice_scores_the_number_its_label_starts_with_before_its_weight(api, client):
    survey = copy.deepcopy(SURVEY)
    for choice in nps_choices(survey):
        choice["weight"] += 1  # weights need not be the scale's numbers
    api.add_surveymonkey_survey("123456789", survey)
    assert [c["text"][:2] for c in nps_choices(survey)][::10] == ["0 ", "10"]
    assert fetch(api, client).score == 3


def test_a_choice_without_a_number_in_its_label_scores_its_weight(api, client):
    survey = copy.deepcopy(SURVEY)
    for choice in nps_choices(survey):
        choice["text"] = f"Option {choice['weight']}"
    api.add_surveymonkey_survey("123456789", survey)
    assert fetch(api, client).score == 3
    nps_choices(survey)[3]["weight"] = 9
    api.add_surveymonkey_survey("123456789", survey)
    assert fetch(api, client, FieldMap(score_field="40002")).score == 9


def test_email_falls_back_to_a_custom_variable_then_the_top_level(api, client):
    response = copy.deepcopy(RESPONSE)
    response["metadata"] = {"contact": {}}
    response["custom_variables"]["email"] = "var@example.com"
    api.add_surveymonkey_response("123456789", "123456", response)
    assert fetch(api, client, FieldMap(email_field="email")).email == "var@example.com"
    assert fetch(api, client).email is None
    api.add_surveymonkey_response("123456789", "123456", response | {"email_address": "t@x.io"})
    assert fetch(api, client).email == "t@x.io"


def test_a_response_without_the_score_answer_fails_for_good(api, client):
    response = copy.deepcopy(RESPONSE)
    response["pages"][0]["questions"] = response["pages"][0]["questions"][:1]
    api.add_surveymonkey_response("123456789", "123456", response)
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert failed.value.permanent and "40002" in failed.value.reason


def test_a_rejected_token_fails_for_good_without_naming_it(api, client):
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client, api_token="wrong-token-123")
    assert failed.value.permanent and "token rejected" in failed.value.reason
    assert "wrong-token-123" not in failed.value.reason
    assert api.hits(SURVEY_PATH) == 0


def test_an_unknown_response_is_retried_later(api, client):
    ref = FetchRef("surveymonkey", "999", "123456789")
    with pytest.raises(FetchFailed) as failed:
        SURVEYMONKEY.fetch(
            ref,
            client=client,
            api_url=api.surveymonkey_url,
            api_token=api.surveymonkey_token,
            fields=FieldMap(),
        )
    assert not failed.value.permanent and "404" in failed.value.reason


def test_a_503_is_transient_and_the_retry_succeeds(api, client):
    api.fail_next(1, status=503)
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert not failed.value.permanent and failed.value.retry_after is None
    assert fetch(api, client).score == 3
    assert api.hits(RESPONSE_PATH) == 2


def test_a_429_carries_retry_after(api, client):
    api.fail_next(1, status=429, retry_after="17")
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert not failed.value.permanent and failed.value.retry_after == 17.0


def test_a_dropped_connection_is_transient(api, client):
    api.drop_next(1)
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert not failed.value.permanent and "unreachable" in failed.value.reason


def test_a_stalled_answer_times_out_as_transient(api):
    api.stall_next(1, seconds=2.0)
    with httpx.Client(timeout=0.2) as client, pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert not failed.value.permanent and "timed out" in failed.value.reason


def test_ids_that_could_leave_the_api_path_are_refused_before_any_request(api, client):
    ref = FetchRef("surveymonkey", "../../users/me", "123456789")
    with pytest.raises(FetchFailed) as failed:
        SURVEYMONKEY.fetch(
            ref,
            client=client,
            api_url=api.surveymonkey_url,
            api_token=api.surveymonkey_token,
            fields=FieldMap(),
        )
    assert failed.value.permanent and api.requests == []
