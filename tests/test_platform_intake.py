"""Survey platforms end to end through the running app: signed deliveries, the directory, the
read-back queue against fake platform APIs, partial answers completed later, on both databases."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app.server import create_app
from bot.app.wiring import build_services
from bot.config.rules import rules_from_mapping
from storage.models import Activity, FollowUpCase, SurveyResponse
from tests.conftest import TEST_RULES, services_of, settings_for, sign
from tests.fake_platforms import FakePlatforms, fake_platforms  # noqa: F401
from tests.fake_slack import FakeSlack

DATA = Path(__file__).parent / "data/platforms"
TYPEFORM = json.loads((DATA / "typeform.sample.json").read_text())
DELIGHTED = json.loads((DATA / "delighted.sample.json").read_text())
SM_NOTICE = json.loads((DATA / "surveymonkey.sample.json").read_text())
SM_SURVEY = json.loads((DATA / "surveymonkey.survey_details.json").read_text())
SM_RESPONSE = json.loads((DATA / "surveymonkey.response_details.json").read_text())
TF_SECRET = "typeform-secret"
DL_KEY = "delighted-key"
SM_KEYS = "client-id-1&client-secret-1"


def sources(api_url: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "typeform-nps",
            "platform": "typeform",
            "secret_env": "TF_SECRET",
            "score_field": "readable_ref_opinion_scale",
            "comment_field": "[readable_ref_long_text",
            "account_field": "user_id",
        },
        {"name": "delighted", "platform": "delighted", "secret_env": "DL_KEY"},
        {
            "name": "sm",
            "platform": "surveymonkey",
            "secret_env": "SM_KEYS",
            "api_token_env": "SM_TOKEN",
            "api_url": api_url,
        },
    ]


@pytest.fixture
def app(db_url: str, fake_slack: FakeSlack, fake_platforms: FakePlatforms) -> Iterator[TestClient]:  # noqa: F811
    env = {
        "TF_SECRET": TF_SECRET,
        "DL_KEY": DL_KEY,
        "SM_KEYS": SM_KEYS,
        "SM_TOKEN": fake_platforms.surveymonkey_token,
    }
    settings = settings_for(db_url, fake_slack.url, **env)
    rules = rules_from_mapping({**TEST_RULES, "sources": sources(fake_platforms.surveymonkey_url)})
    with TestClient(create_app(build_services(settings, rules))) as client:
        yield client


def typeform_headers(body: bytes, secret: str = TF_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"typeform-signature": "sha256=" + base64.b64encode(digest).decode()}


def delighted_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(DL_KEY.encode(), body, hashlib.sha256).hexdigest()
    return {"x-delighted-webhook-signature": f"sha256={digest}"}


def sm_headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SM_KEYS.encode(), body, hashlib.sha1).digest()
    return {"sm-signature": base64.b64encode(digest).decode()}


def cases(client: TestClient) -> list[FollowUpCase]:
    with Session(services_of(client).engine) as session:
        return list(session.exec(select(FollowUpCase).order_by(FollowUpCase.id)))


def response_row(client: TestClient, response_id: str) -> SurveyResponse:
    with Session(services_of(client).engine) as session:
        return session.exec(
            select(SurveyResponse).where(SurveyResponse.response_id == response_id)
        ).one()


def load_directory(client: TestClient, records: list[dict[str, Any]]) -> Any:
    raw = json.dumps(records).encode()
    return client.post("/webhooks/accounts", content=raw, headers=sign(raw))


def test_typeform_as_it_ships_becomes_one_case_in_the_owners_channel(app, fake_slack):
    loaded = load_directory(
        app,
        [
            {
                "account_id": "abc123456",
                "name": "Acme",
                "arr": 250000,
                "plan": "Enterprise",
                "renewal_date": "2027-02-01",
                "owner": "alice@example.com",
                "domains": ["acme.com"],
            }
        ],
    )
    assert loaded.status_code == 202 and loaded.json() == {"read": 1, "created": 1, "updated": 0}
    body = json.dumps(TYPEFORM).encode()
    first = app.post("/webhooks/survey/typeform-nps", content=body, headers=typeform_headers(body))
    again = app.post("/webhooks/survey/typeform-nps", content=body, headers=typeform_headers(body))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["case_id"] == first.json()["case_id"]
    [case] = cases(app)
    assert case.response_id == "typeform-nps:a3a12ec67a1365927098a606107fac15"
    assert (case.account_id, case.score, case.segment) == ("abc123456", 2, "detractor")
    assert case.owner_ref == "alice@example.com"  # from the directory, not the survey
    assert response_row(app, case.response_id).source == "typeform-nps"
    card = fake_slack.wait_for("chat.postMessage", count=1, timeout=20)[0]
    assert card.args["channel"] == "C0ALICE"
    text = json.dumps(card.args["blocks"])
    assert "Acme" in text and "Enterprise" in text


def test_a_forged_or_unsigned_delivery_stores_nothing(app):
    body = json.dumps(TYPEFORM).encode()
    forged = app.post(
        "/webhooks/survey/typeform-nps", content=body, headers=typeform_headers(body, "wrong")
    )
    unsigned = app.post("/webhooks/survey/typeform-nps", content=body)
    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert "Typeform-Signature" in unsigned.json()["error"]
    assert cases(app) == []
    assert app.post("/webhooks/survey/nope", content=body).status_code == 404
    assert app.head("/webhooks/survey/sm").status_code == 200


def test_the_platform_paths_refuse_other_methods_and_deeper_paths(app):
    refused = app.get("/webhooks/survey/typeform-nps")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"POST", "HEAD"}
    assert app.post("/webhooks/survey/typeform-nps/extra", content=b"{}").status_code == 404


def test_a_body_not_of_the_platforms_shape_is_422_naming_what_is_missing(app):
    broken = copy.deepcopy(TYPEFORM)
    del broken["form_response"]["token"]
    body = json.dumps(broken).encode()
    answer = app.post("/webhooks/survey/typeform-nps", content=body, headers=typeform_headers(body))
    assert answer.status_code == 422
    assert any("token" in f["field"] for f in answer.json()["fields"])
    assert cases(app) == []


def delighted(event: str, **data: Any) -> dict[str, Any]:
    payload = copy.deepcopy(DELIGHTED)
    payload["event_type"] = event
    payload["event_data"].update(data)
    return payload


def test_delighted_comment_arriving_later_updates_the_same_case_and_card(app, fake_slack):
    created = delighted("survey_response.created", comment=None, score=2)
    raw = json.dumps(created).encode()
    assert (
        app.post(
            "/webhooks/survey/delighted", content=raw, headers=delighted_headers(raw)
        ).status_code
        == 202
    )
    [case] = cases(app)
    assert "churn_intent" not in case.reasons
    fake_slack.wait_for("chat.postMessage", count=1, timeout=20)
    updated = delighted(
        "survey_response.updated", comment="We will cancel and switch to a competitor.", score=2
    )
    raw = json.dumps(updated).encode()
    answer = app.post("/webhooks/survey/delighted", content=raw, headers=delighted_headers(raw))
    assert answer.status_code == 200 and answer.json()["case_id"] == case.id
    [case] = cases(app)  # never a second case
    assert "churn_intent" in case.reasons
    assert response_row(app, case.response_id).comment.startswith("We will cancel")
    fake_slack.wait_for("chat.update", count=1, timeout=20)  # the card re-rendered in place
    cx_lead = [
        c
        for c in fake_slack.wait_for("chat.postMessage", count=3, timeout=20)
        if c.args["channel"] == "U0CXLEAD"
    ]
    assert len(cx_lead) == 1  # the churn alert the comment called for, once
    with Session(services_of(app).engine) as session:
        actions = [a.action for a in session.exec(select(Activity).order_by(Activity.id))]
    assert actions == ["received", "answer_updated"]


def test_surveymonkey_ids_are_queued_then_read_back_through_an_outage(
    app,
    fake_platforms,  # noqa: F811
    fake_slack,
):
    fake_platforms.add_surveymonkey_survey("123456789", SM_SURVEY)
    fake_platforms.add_surveymonkey_response("123456789", "123456", SM_RESPONSE)
    fake_platforms.fail_next(1, status=503)
    raw = json.dumps(SM_NOTICE).encode()
    answer = app.post("/webhooks/survey/sm", content=raw, headers=sm_headers(raw))
    again = app.post("/webhooks/survey/sm", content=raw, headers=sm_headers(raw))
    assert (answer.status_code, again.status_code) == (202, 200)
    deadline = time.monotonic() + 15
    while not cases(app) and time.monotonic() < deadline:
        time.sleep(0.1)
    [case] = cases(app)
    assert case.response_id == "sm:123456" and case.score == 3
    health = app.get("/healthz").json()["sources"]["sm"]
    assert health["fetches"]["pending"] == 0 and health["deliveries"]["queued"] == 1
    assert fake_platforms.hits("/v3/surveys/123456789/responses/123456/details") >= 2
    fake_slack.wait_for("chat.postMessage", count=1, timeout=20)


def test_a_failing_read_back_is_visible_in_healthz(app, fake_platforms):  # noqa: F811
    raw = json.dumps(SM_NOTICE).encode()  # the response is unknown to the API: 404, retried
    assert app.post("/webhooks/survey/sm", content=raw, headers=sm_headers(raw)).status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        fetches = app.get("/healthz").json()["sources"]["sm"]["fetches"]
        if fetches.get("failing"):
            break
        time.sleep(0.1)
    assert fetches["pending"] == 1 and fetches["failing"] == 1
    assert "404" in fetches["last_error"]
    assert cases(app) == []


def test_respondents_are_placed_by_email_domain_or_said_unmatched(app, fake_slack):
    load_directory(app, [{"account_id": "a-acme", "name": "Acme", "domains": "acme.com"}])
    for token, email in (("t-1", "dana@acme.com"), ("t-2", "lee@elsewhere.org")):
        payload = copy.deepcopy(TYPEFORM)
        payload["form_response"]["token"] = token
        payload["form_response"]["hidden"] = {}
        for item in payload["form_response"]["answers"]:
            if item.get("type") == "email":
                item["email"] = email
        raw = json.dumps(payload).encode()
        assert (
            app.post(
                "/webhooks/survey/typeform-nps", content=raw, headers=typeform_headers(raw)
            ).status_code
            == 202
        )
    by_id = {c.response_id: c for c in cases(app)}
    assert by_id["typeform-nps:t-1"].account_id == "a-acme"
    assert by_id["typeform-nps:t-2"].account_id == "~unmatched"
    cards = {
        c.args["channel"]: c for c in fake_slack.wait_for("chat.postMessage", count=2, timeout=20)
    }
    unmatched = json.dumps(cards["C0DEFAULT"].args["blocks"])  # no owner: the default channel
    assert "No account matched" in unmatched


def test_touchpoints_from_the_feed_reach_the_card(app, fake_slack):
    load_directory(app, [{"account_id": "abc123456", "name": "Acme", "owner": "alice@example.com"}])
    feed = [
        {
            "account_id": "abc123456",
            "at": "2018-01-17T10:00:00Z",
            "kind": "billing",
            "summary": "Invoice disputed",
        }
    ]
    raw = json.dumps(feed).encode()
    answer = app.post("/webhooks/touchpoints", content=raw, headers=sign(raw))
    assert answer.status_code == 202 and answer.json() == {"read": 1, "new": 1}
    body = json.dumps(TYPEFORM).encode()
    app.post("/webhooks/survey/typeform-nps", content=body, headers=typeform_headers(body))
    card = fake_slack.wait_for("chat.postMessage", count=1, timeout=20)[0]
    assert "Invoice disputed" in json.dumps(card.args["blocks"])


def test_the_directory_takes_a_bearer_token_and_refuses_a_wrong_one(db_url, fake_slack):
    settings = settings_for(db_url, fake_slack.url, DIRECTORY_TOKEN="dir-token-1")
    with TestClient(create_app(build_services(settings, rules_from_mapping(TEST_RULES)))) as client:
        raw = json.dumps([{"account_id": "a-1", "name": "Acme"}]).encode()
        ok = client.post(
            "/webhooks/accounts", content=raw, headers={"authorization": "Bearer dir-token-1"}
        )
        wrong = client.post(
            "/webhooks/accounts", content=raw, headers={"authorization": "Bearer nope"}
        )
        assert (ok.status_code, wrong.status_code) == (202, 401)
        bad = client.post(
            "/webhooks/accounts",
            content=b'[{"name": 1}]',
            headers={"authorization": "Bearer dir-token-1"},
        )
        assert bad.status_code == 422
        assert {f["field"] for f in bad.json()["fields"]} == {"[0].account_id", "[0].name"}
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM account")).scalar() == 1
    engine.dispose()
