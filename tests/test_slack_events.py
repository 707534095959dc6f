"""`POST /slack/events`: Bolt behind FastAPI with Slack's request signature checked."""

from __future__ import annotations

import logging
import time

import pytest

from blocks.ids import CardAction
from tests.conftest import block_action, post_slack, services_of, slack_headers, slash_command


def test_signed_slash_command_is_answered(client, fake_slack):
    answer = post_slack(client, slash_command("help", response_url=fake_slack.response_url()))
    assert answer.status_code == 200
    [help_] = fake_slack.wait_for_response()
    assert "/nps help" in help_["text"]
    assert help_["response_type"] == "ephemeral"


def test_wrong_signature_is_refused(client):
    answer = post_slack(client, slash_command("help"), secret="not-the-secret")
    assert answer.status_code == 401


def test_stale_signature_is_refused(client):
    answer = post_slack(client, slash_command("help"), at=time.time() - 600)
    assert answer.status_code == 401


def test_url_verification_challenge(client):
    import json

    from tests.conftest import slack_headers

    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"})
    headers = {**slack_headers(body), "content-type": "application/json"}
    answer = client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 200
    assert "abc123" in answer.text


def test_socket_mode_serves_webhooks_without_the_slack_route(db_url, fake_slack):
    from fastapi.testclient import TestClient

    from bot.app.server import create_app
    from bot.app.wiring import build_services
    from bot.config.rules import rules_from_mapping
    from tests.conftest import TEST_RULES, post_survey, settings_for, survey_body

    settings = settings_for(db_url, fake_slack.url, SLACK_APP_TOKEN="xapp-1-A0001-test")
    assert settings.socket_mode
    with TestClient(create_app(build_services(settings, rules_from_mapping(TEST_RULES)))) as app:
        # Slack traffic comes over the socket; the HTTP route for it does not exist.
        assert app.post("/slack/events", content="{}").status_code in (404, 405)
        assert post_survey(app, survey_body()).status_code == 202
        assert app.get("/healthz").status_code == 200


# --- refused before anything parses the body --------------------------------------------------

FORGED_TEXT = "Dana Reyes says the invoices are wrong"


def forged_form() -> str:
    from urllib.parse import urlencode

    return urlencode(slash_command(f"digest {FORGED_TEXT}"))


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (forged_form(), {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=1"}, 401),
        (forged_form(), {"x-slack-request-timestamp": "1.7e9", "x-slack-signature": "v0=1"}, 401),
        (forged_form(), {}, 401),
        (
            b"payload=caf\xe9",
            {"x-slack-request-timestamp": "NOW", "x-slack-signature": "v0=1"},
            400,
        ),
        (b"{not json", {"x-slack-signature": "v0=1", "x-slack-request-timestamp": "NOW"}, 401),
        (b"{not json", {}, 401),
    ],
)
def test_unsigned_or_malformed_requests_are_refused_not_500(client, body, headers, status):
    if headers.get("x-slack-request-timestamp") == "NOW":
        headers = {**headers, "x-slack-request-timestamp": str(int(time.time()))}
    answer = client.post(
        "/slack/events",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
    )
    assert answer.status_code == status
    assert FORGED_TEXT not in answer.text


def test_a_signed_body_that_is_no_payload_is_400(client):
    body = "{not json"
    answer = client.post("/slack/events", content=body, headers=slack_headers(body))
    assert answer.status_code == 400


def test_a_forged_request_never_reaches_the_log(client, caplog):
    from urllib.parse import urlencode

    caplog.set_level(logging.DEBUG)
    body = forged_form()
    for headers in (
        slack_headers(body, secret="not-the-secret"),
        slack_headers(body, at=time.time() - 600),
        {"x-slack-request-timestamp": "x", "x-slack-signature": "v0=1"},
    ):
        assert client.post("/slack/events", content=body, headers=headers).status_code == 401
    assert "slack.rejected" in caplog.text
    for fragment in (FORGED_TEXT, urlencode({"t": FORGED_TEXT})[2:], "Dana"):
        assert fragment not in caplog.text


# --- Slack's retries ---------------------------------------------------------------------------


class Dispatches:
    """Counts what reaches Bolt, and passes it on."""

    def __init__(self, bolt) -> None:
        self.bolt = bolt
        self.original = bolt.dispatch
        self.count = 0

    def __call__(self, request):
        self.count += 1
        return self.original(request)


@pytest.mark.parametrize("kind", ["click", "command"])
def test_a_retry_is_acknowledged_and_not_dispatched(client, fake_slack, monkeypatch, kind):
    from urllib.parse import urlencode

    if kind == "click":
        form = block_action(CardAction.CLAIM, "1")
    else:
        form = slash_command("help", response_url=fake_slack.response_url())
    bolt = services_of(client).bolt
    spy = Dispatches(bolt)
    monkeypatch.setattr(bolt, "dispatch", spy)
    body = urlencode(form)
    headers = {**slack_headers(body), "x-slack-retry-num": "1", "x-slack-retry-reason": "timeout"}
    answer = client.post("/slack/events", content=body, headers=headers)
    assert answer.status_code == 200
    assert spy.count == 0
    assert (
        client.post("/slack/events", content=body, headers=slack_headers(body)).status_code == 200
    )
    assert spy.count == 1
    if kind == "click":  # the first delivery answers the clicker, once
        assert len(fake_slack.wait_for("chat.postEphemeral")) == 1
    else:
        fake_slack.wait_for_response()


def test_a_retried_event_is_acknowledged_and_not_dispatched(client, monkeypatch):
    import json

    bolt = services_of(client).bolt
    spy = Dispatches(bolt)
    monkeypatch.setattr(bolt, "dispatch", spy)
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
            "event_id": "Ev1",
            "event_time": int(time.time()),
        }
    )
    headers = {**slack_headers(body), "content-type": "application/json", "x-slack-retry-num": "2"}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 200
    assert spy.count == 0
