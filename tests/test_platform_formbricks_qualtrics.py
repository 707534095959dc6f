"""Formbricks (signed, or token-only) and Qualtrics (ids only, read back) through the app."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app.server import create_app
from bot.app.wiring import build_services
from bot.config.rules import rules_from_mapping
from storage.models import FollowUpCase, SurveyResponse
from tests.conftest import TEST_RULES, services_of, settings_for
from tests.fake_platforms import FakePlatforms, fake_platforms  # noqa: F401
from tests.fake_slack import FakeSlack

DATA = Path(__file__).parent / "data/platforms"
FORMBRICKS = json.loads((DATA / "formbricks.sample.json").read_text())
QUALTRICS = json.loads((DATA / "qualtrics.response.json").read_text())["result"]
FB_KEY = b"formbricks-test-key-32-bytes-abc"
FB_SECRET = "whsec_" + base64.b64encode(FB_KEY).decode()
Q_KEY = "qualtrics-shared-key"


@pytest.fixture
def app(
    db_url: str,
    fake_slack: FakeSlack,
    fake_platforms: FakePlatforms,  # noqa: F811
) -> Iterator[TestClient]:
    env = {
        "FB_SECRET": FB_SECRET,
        "FB_TOKEN": "fb-token-1",
        "Q_KEY": Q_KEY,
        "Q_TOKEN": fake_platforms.qualtrics_token,
    }
    sources = [
        {
            "name": "formbricks",
            "platform": "formbricks",
            "secret_env": "FB_SECRET",
            "score_field": "nps",
            "comment_field": "why",
            "email_field": "email",
        },
        {
            "name": "formbricks-old",
            "platform": "formbricks",
            "token_env": "FB_TOKEN",
            "score_field": "nps",
        },
        {
            "name": "qualtrics",
            "platform": "qualtrics",
            "secret_env": "Q_KEY",
            "api_token_env": "Q_TOKEN",
            "api_url": fake_platforms.url,
        },
    ]
    settings = settings_for(db_url, fake_slack.url, **env)
    rules = rules_from_mapping({**TEST_RULES, "sources": sources})
    with TestClient(create_app(build_services(settings, rules))) as client:
        yield client


def cases(client: TestClient) -> list[FollowUpCase]:
    with Session(services_of(client).engine) as session:
        return list(session.exec(select(FollowUpCase).order_by(FollowUpCase.id)))


def formbricks(event: str, data: dict[str, Any]) -> bytes:
    payload = copy.deepcopy(FORMBRICKS)
    payload["event"] = event
    payload["data"]["id"] = "clresponse0000000000001"
    payload["data"]["data"] = data
    payload["data"]["finished"] = event == "responseFinished"
    return json.dumps(payload).encode()


def standard_webhooks(body: bytes, msg_id: str) -> dict[str, str]:
    sent = int(datetime.now(UTC).timestamp())
    digest = hmac.new(FB_KEY, f"{msg_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(digest).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(sent), "webhook-signature": signature}


def test_formbricks_created_updated_finished_are_one_case(app, fake_slack):
    steps = [
        ("responseCreated", {"nps": 6}),
        ("responseUpdated", {"nps": 6, "why": "Onboarding took weeks."}),
        ("responseFinished", {"nps": 6, "why": "Onboarding took weeks.", "email": "kim@a.io"}),
    ]
    codes = []
    for i, (event, data) in enumerate(steps):
        body = formbricks(event, data)
        headers = standard_webhooks(body, f"msg-{i}")
        codes.append(
            app.post("/webhooks/survey/formbricks", content=body, headers=headers).status_code
        )
        if i == 0:  # the card is out before the answer changes, so each change updates it
            fake_slack.wait_for("chat.postMessage", count=1)
    assert codes == [202, 200, 200]
    [case] = cases(app)
    assert case.response_id == "formbricks:clresponse0000000000001" and case.score == 6
    with Session(services_of(app).engine) as session:
        response = session.exec(select(SurveyResponse)).one()
    assert response.comment == "Onboarding took weeks."
    # The card shows the comment: posted with it, or updated in place once it came.
    deadline = time.monotonic() + 20
    while not any(
        "Onboarding took weeks." in json.dumps(call.args.get("blocks"))
        for method in ("chat.postMessage", "chat.update")
        for call in fake_slack.calls_to(method)
        if call.ok
    ):
        assert time.monotonic() < deadline, "the card never showed the later comment"
        time.sleep(0.1)


def test_old_formbricks_authenticates_with_its_bearer_token(app):
    body = formbricks("responseFinished", {"nps": 9})
    ok = app.post(
        "/webhooks/survey/formbricks-old",
        content=body,
        headers={"authorization": "Bearer fb-token-1"},
    )
    wrong = app.post(
        "/webhooks/survey/formbricks-old", content=body, headers={"authorization": "Bearer nope"}
    )
    signed_only = app.post(
        "/webhooks/survey/formbricks", content=body, headers={"authorization": "Bearer fb-token-1"}
    )
    assert (ok.status_code, wrong.status_code, signed_only.status_code) == (202, 401, 401)
    assert [c.segment for c in cases(app)] == ["promoter"]


def qualtrics_form(key: str = Q_KEY) -> bytes:
    msg = json.dumps({"Status": "Complete", "SurveyID": "SV_1", "ResponseID": "R_1"})
    mac = hmac.new(key.encode(), msg.encode(), hashlib.sha512).hexdigest()
    return urlencode(
        {"Topic": "b.surveyengine.completedResponse.SV_1", "MSG": msg, "HMAC": mac}
    ).encode()


def test_qualtrics_is_queued_then_read_back(app, fake_platforms):  # noqa: F811
    fake_platforms.add_qualtrics_response("SV_1", "R_1", QUALTRICS)
    form = {"content-type": "application/x-www-form-urlencoded"}
    forged = app.post("/webhooks/survey/qualtrics", content=qualtrics_form("wrong"), headers=form)
    assert forged.status_code == 401
    answer = app.post("/webhooks/survey/qualtrics", content=qualtrics_form(), headers=form)
    assert answer.status_code == 202
    deadline = time.monotonic() + 15
    while not cases(app) and time.monotonic() < deadline:
        time.sleep(0.1)
    [case] = cases(app)
    assert case.response_id == "qualtrics:R_1" and case.segment == "passive"
    assert app.get("/healthz").json()["sources"]["qualtrics"]["fetches"]["pending"] == 0
