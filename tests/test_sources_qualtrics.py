"""Qualtrics event subscriptions: the HMAC form field, the notice, and the fetch-back."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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

QUALTRICS = PLATFORMS["qualtrics"]
DATA = Path(__file__).parent / "data/platforms"
SAMPLE_MSG = (DATA / "qualtrics.sample.json").read_text().strip()
SAMPLE_FORM = (DATA / "qualtrics.sample.form.txt").read_bytes().strip()
RESULT = json.loads((DATA / "qualtrics.response.json").read_text())["result"]
SAMPLE_KEY = "kyma4ever"  # the key of both public samples
KEY = "qualtrics-shared-key"
TOPIC = "brand.surveyengine.completedResponse.SV_22VlHYNeldrrrkp"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
REF = FetchRef("qualtrics", "R_1l9mcVuXubb4aGm", "SV_22VlHYNeldrrrkp")
PATH = "/API/v3/surveys/SV_22VlHYNeldrrrkp/responses/R_1l9mcVuXubb4aGm"


def signed_form(msg: dict[str, Any] | str, key: str = KEY, topic: str = TOPIC) -> bytes:
    text = msg if isinstance(msg, str) else json.dumps(msg)
    mac = hmac.new(key.encode(), text.encode(), hashlib.sha512).hexdigest()
    return urlencode({"Topic": topic, "MSG": text, "HMAC": mac}).encode()


def verify(body: bytes, key: str = KEY) -> None:
    QUALTRICS.verify(body=body, headers={}, secret=key, token=None, now=NOW)


def parse(body: bytes):
    return QUALTRICS.parse(body, headers={}, fields=FieldMap())


@pytest.fixture
def api(fake_platforms: FakePlatforms) -> FakePlatforms:  # noqa: F811
    fake_platforms.add_qualtrics_response("SV_22VlHYNeldrrrkp", "R_1l9mcVuXubb4aGm", RESULT)
    return fake_platforms


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as client:
        yield client


def fetch(api: FakePlatforms, client: httpx.Client, fields: FieldMap | None = None, **kw: Any):
    options = {"api_url": api.url, "api_token": api.qualtrics_token} | kw
    return QUALTRICS.fetch(REF, client=client, fields=fields or FieldMap(), **options)


def test_the_verified_public_vector_verifies():
    mac = (
        "c2c585a404c239aa3063b462cc33551d3ed3ed2de0899f58d456fc0ef7ebef6f"
        "3c3af44957989bd0592603e41edde9528f7d9ed09ee128bf719aa12f46e5c598"
    )
    body = urlencode({"Topic": TOPIC, "MSG": SAMPLE_MSG, "HMAC": mac}).encode()
    verify(body, SAMPLE_KEY)
    with pytest.raises(Unauthorized, match="HMAC form field does not match"):
        verify(body, KEY)


def test_the_public_form_sample_verifies_and_parses_to_a_fetch_ref():
    verify(SAMPLE_FORM, SAMPLE_KEY)
    assert parse(SAMPLE_FORM) == REF


def test_a_forged_hmac_is_refused_without_echoing_it():
    body = signed_form(SAMPLE_MSG, key="another-key")
    with pytest.raises(Unauthorized) as refused:
        verify(body)
    assert "HMAC" in refused.value.reason and len(refused.value.reason) < 80


@pytest.mark.parametrize("missing", ["MSG", "HMAC"])
def test_a_missing_signed_field_is_named(missing):
    fields = {"Topic": TOPIC, "MSG": SAMPLE_MSG, "HMAC": "00"}
    del fields[missing]
    with pytest.raises(Unauthorized, match=f"missing {missing} form field"):
        verify(urlencode(fields).encode())


def test_a_second_msg_cannot_ride_along_a_signed_one():
    body = signed_form(SAMPLE_MSG) + b"&MSG=" + b'{"ResponseID":"R_other"}'
    with pytest.raises(Unauthorized, match="more than one MSG"):
        verify(body)


def test_without_a_shared_key_the_flat_form_needs_the_token():
    flat = json.loads(SAMPLE_MSG) | {"Topic": TOPIC}
    body = urlencode(flat).encode()
    QUALTRICS.verify(
        body=body,
        headers={"Authorization": "Bearer q-token"},
        secret=None,
        token="q-token",
        now=NOW,
    )
    with pytest.raises(Unauthorized):
        QUALTRICS.verify(body=body, headers={}, secret=None, token="q-token", now=NOW)
    assert parse(body) == FetchRef("qualtrics", "R_0B7IcnXszjEUHLP", "SV_1AmkKSDmoZ4XlQx")


def test_other_topics_are_ignored():
    body = signed_form(SAMPLE_MSG, topic="brand.surveyengine.startedRecipientSession.SV_1")
    assert isinstance(parse(body), Ignored)


@pytest.mark.parametrize("body", [b'{"Topic": "x"}', b"\xff\xfe=1", b"", b"just text"])
def test_a_body_that_is_not_a_form_is_not_parseable(body):
    with pytest.raises(NotParseable):
        parse(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (urlencode({"MSG": SAMPLE_MSG}).encode(), "Topic"),
        (signed_form("not json"), "MSG"),
        (signed_form({"SurveyID": "SV_1"}), "MSG.ResponseID"),
        (signed_form({"SurveyID": "SV_1/../x", "ResponseID": "R_1"}), "MSG.SurveyID"),
        (urlencode({"Topic": TOPIC, "ResponseID": "R_1"}).encode(), "SurveyID"),
    ],
)
def test_bad_fields_are_named(body, field):
    with pytest.raises(BadShape) as bad:
        parse(body)
    assert field in [f.field for f in bad.value.fields]


def test_fetch_reads_score_comment_email_and_embedded_data(api, client):
    got = fetch(api, client, FieldMap(account_field="sfAccountId"))
    assert got == Answer(
        response_id="R_1l9mcVuXubb4aGm",
        score=8,
        comment="Setup took a week longer than promised.",
        email="sam@example.com",
        name="Sam Lee",
        account_id="0015g00000XyZ12",
        submitted_at=datetime(2019, 6, 26, 13, 28, 11, 456000, tzinfo=UTC),
        properties={
            "externalDataReference": "ext-7",
            "sfAccountId": "0015g00000XyZ12",
            "AccountOwner": "jordan@example.com",
        },
        complete=True,
    )
    assert api.requests[0][2]["x-api-token"] == api.qualtrics_token
    assert api.hits(PATH) == 1


def test_named_fields_win_over_detection(api, client):
    got = fetch(
        api,
        client,
        FieldMap(score_field="QID1", comment_field="QID4_TEXT", email_field="AccountOwner"),
    )
    assert (got.score, got.comment, got.email) == (4, None, "jordan@example.com")


def test_a_response_without_an_nps_question_fails_for_good(api, client):
    result = copy.deepcopy(RESULT)
    del result["values"]["QID2_NPS_GROUP"]
    api.add_qualtrics_response("SV_22VlHYNeldrrrkp", "R_1l9mcVuXubb4aGm", result)
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert failed.value.permanent and "result.values" in failed.value.reason
    assert fetch(api, client, FieldMap(score_field="QID2")).score == 8


def test_a_score_out_of_range_fails_for_good(api, client):
    result = copy.deepcopy(RESULT)
    result["values"]["QID2"] = 42
    api.add_qualtrics_response("SV_22VlHYNeldrrrkp", "R_1l9mcVuXubb4aGm", result)
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert failed.value.permanent and "result.values.QID2" in failed.value.reason


def test_a_rejected_token_fails_for_good_without_naming_it(api, client):
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client, api_token="bad-token-456")
    assert failed.value.permanent and "token rejected" in failed.value.reason
    assert "bad-token-456" not in failed.value.reason


def test_a_response_not_yet_queryable_is_retried(fake_platforms, client):  # noqa: F811
    with pytest.raises(FetchFailed) as failed:
        fetch(fake_platforms, client)
    assert not failed.value.permanent and "404" in failed.value.reason


def test_503_twice_then_success(api, client):
    api.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(FetchFailed) as failed:
            fetch(api, client)
        assert not failed.value.permanent
    assert fetch(api, client).score == 8
    assert api.hits(PATH) == 3


def test_a_429_with_a_date_retry_after_is_read_against_the_servers_date(api, client):
    api.date = "Wed, 21 Oct 2026 07:28:00 GMT"
    api.fail_next(1, status=429, retry_after="Wed, 21 Oct 2026 07:30:30 GMT")
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert not failed.value.permanent and failed.value.retry_after == 150.0
    api.fail_next(1, status=429, retry_after="5")
    with pytest.raises(FetchFailed) as failed:
        fetch(api, client)
    assert failed.value.retry_after == 5.0


def test_a_dropped_or_stalled_connection_is_transient(api):
    api.drop_next(1)
    api.stall_next(1, seconds=2.0)
    with httpx.Client(timeout=0.2) as client:
        for expected in ("unreachable", "timed out"):
            with pytest.raises(FetchFailed) as failed:
                fetch(api, client)
            assert not failed.value.permanent and expected in failed.value.reason
        assert fetch(api, client).score == 8
