"""Typeform: `Typeform-Signature` and `form_response` payloads, from Typeform's example."""

from __future__ import annotations

import base64
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

TYPEFORM = PLATFORMS["typeform"]
SAMPLE = json.loads((Path(__file__).parent / "data/platforms/typeform.sample.json").read_text())
SECRET = "typeform-test-secret"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAPPED = FieldMap(
    score_field="readable_ref_opinion_scale",
    comment_field="[readable_ref_long_text",
    account_field="user_id",
)


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"typeform-signature": "sha256=" + base64.b64encode(digest).decode()}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def answer_to(payload: dict[str, Any], field_id: str) -> dict[str, Any]:
    answers = payload["form_response"]["answers"]
    return next(a for a in answers if a["field"]["id"] == field_id)


def parse(payload: dict[str, Any], fields: FieldMap = MAPPED):
    return TYPEFORM.parse(encode(payload), headers={}, fields=fields)


def test_the_documented_regression_vector_verifies():
    body = b'{"event_type":"form_response","event_id":"01TEST"}'
    headers = {"Typeform-Signature": "sha256=x6zhDcMgM48VVX9kXdCuGELNiwyOA+brD4wh31rgTk0="}
    TYPEFORM.verify(body=body, headers=headers, secret="abc123", token=None, now=NOW)


def test_a_signed_sample_verifies():
    body = encode(SAMPLE)
    TYPEFORM.verify(body=body, headers=sign(body), secret=SECRET, token=None, now=NOW)


def test_a_signature_under_another_secret_or_over_another_body_is_refused():
    body = encode(SAMPLE)
    forged = sign(body, "not-the-secret")
    for headers, signed in ((forged, body), (sign(body), body + b" ")):
        with pytest.raises(Unauthorized, match="Typeform-Signature does not match") as refused:
            TYPEFORM.verify(body=signed, headers=headers, secret=SECRET, token=None, now=NOW)
        assert headers["typeform-signature"] not in refused.value.reason


def test_a_missing_signature_is_refused_by_name():
    with pytest.raises(Unauthorized, match="missing Typeform-Signature header"):
        TYPEFORM.verify(body=b"{}", headers={}, secret=SECRET, token=None, now=NOW)


def test_the_sample_parses_with_mapped_refs():
    assert parse(SAMPLE) == Answer(
        response_id="a3a12ec67a1365927098a606107fac15",
        score=2,
        comment=(
            "It's cold right now! I live in an older medium-sized city with a university. "
            "Geographically, the area is hilly."
        ),
        email="laura@example.com",
        name=None,
        account_id="abc123456",
        submitted_at=datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC),
        properties={"user_id": "abc123456"},
        complete=True,
    )


def test_fields_match_by_field_id_too():
    got = parse(SAMPLE, FieldMap(score_field="pn48RmPazVdM", comment_field="DlXFaesGBpoF"))
    assert isinstance(got, Answer) and got.score == 4 and got.comment.startswith("It's cold")
    assert got.account_id is None


def test_with_no_score_field_an_nps_answer_is_the_score_and_long_text_the_comment():
    payload = sample()
    answer_to(payload, "NRsxU591jIW9")["field"]["type"] = "nps"
    answer_to(payload, "NRsxU591jIW9")["number"] = 6
    got = parse(payload, FieldMap())
    assert isinstance(got, Answer) and got.score == 6 and got.comment.startswith("It's cold")


def test_with_no_score_field_a_1_to_5_scale_is_not_taken_for_nps():
    with pytest.raises(BadShape) as bad:
        parse(SAMPLE, FieldMap())
    assert [f.field for f in bad.value.fields] == ["form_response.answers"]


@pytest.mark.parametrize(
    ("steps", "start_at_one", "found"), [(11, False, True), (11, True, False), (5, False, False)]
)
def test_an_11_step_opinion_scale_from_0_counts_as_nps(steps, start_at_one, found):
    payload = sample()
    spec = next(
        f for f in payload["form_response"]["definition"]["fields"] if f["id"] == "NRsxU591jIW9"
    )
    spec["properties"] = {"steps": steps, "start_at_one": start_at_one}
    if found:
        assert parse(payload, FieldMap()).score == 2
    else:
        with pytest.raises(BadShape):
            parse(payload, FieldMap())


def test_email_can_come_from_a_hidden_field():
    payload = sample()
    payload["form_response"]["answers"] = [
        a for a in payload["form_response"]["answers"] if a["type"] != "email"
    ]
    payload["form_response"]["hidden"]["work_email"] = "laura@work.example"
    got = parse(payload, FieldMap(score_field="readable_ref_number1", email_field="work_email"))
    assert got.email == "laura@work.example" and got.score == 5
    assert parse(payload, FieldMap(score_field="readable_ref_number1")).email is None


def test_a_partial_response_is_incomplete_and_may_lack_a_score():
    payload = sample()
    payload["event_type"] = "form_response_partial"
    del payload["form_response"]["submitted_at"]
    payload["form_response"]["answers"] = payload["form_response"]["answers"][:2]
    got = parse(payload)
    assert isinstance(got, Answer)
    assert (got.score, got.complete, got.submitted_at) == (None, False, None)
    assert got.comment is not None


def test_a_complete_response_without_its_score_answer_is_a_bad_shape():
    payload = sample()
    payload["form_response"]["answers"] = payload["form_response"]["answers"][:2]
    with pytest.raises(BadShape) as bad:
        parse(payload)
    assert [f.field for f in bad.value.fields] == ["form_response.answers"]


def test_other_event_types_are_ignored():
    payload = sample()
    payload["event_type"] = "form_response_deleted"
    assert isinstance(parse(payload), Ignored)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe{", b""])
def test_a_body_that_is_not_a_json_object_is_not_parseable(body):
    with pytest.raises(NotParseable):
        TYPEFORM.parse(body, headers={}, fields=MAPPED)


def test_a_foreign_shape_names_each_bad_field_without_values():
    payload = {
        "event_type": "form_response",
        "form_response": {
            "token": "",
            "answers": "private text",
            "hidden": ["not", "an", "object"],
            "submitted_at": "1999-01-01T00:00:00Z",
        },
    }
    with pytest.raises(BadShape) as bad:
        parse(payload)
    names = {f.field for f in bad.value.fields}
    assert {"form_response.token", "form_response.answers", "form_response.hidden"} <= names
    assert "form_response.submitted_at" in names
    assert "private text" not in str(bad.value) + repr(bad.value.fields)


def test_a_missing_form_response_is_named():
    with pytest.raises(BadShape) as bad:
        parse({"event_type": "form_response"})
    assert [f.field for f in bad.value.fields] == ["form_response"]


def test_a_score_out_of_range_is_named():
    payload = sample()
    answer_to(payload, "NRsxU591jIW9")["number"] = 11
    with pytest.raises(BadShape) as bad:
        parse(payload)
    assert [f.field for f in bad.value.fields] == ["form_response.answers[9].number"]


def test_the_comment_loses_nuls_and_is_capped():
    payload = sample()
    answer_to(payload, "DlXFaesGBpoF")["text"] = "a\x00b" + "c" * 30_000
    got = parse(payload)
    assert len(got.comment) == 20_000 and got.comment.startswith("abc")
