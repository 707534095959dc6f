"""`POST /slack/events`: Bolt behind FastAPI with Slack's request signature checked."""

from __future__ import annotations

import time

from tests.conftest import post_slack, slash_command


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

    from bot.app.server import build_services, create_app
    from bot.config.rules import rules_from_mapping
    from tests.conftest import TEST_RULES, post_survey, settings_for, survey_body

    settings = settings_for(db_url, fake_slack.url, SLACK_APP_TOKEN="xapp-1-A0001-test")
    assert settings.socket_mode
    with TestClient(create_app(build_services(settings, rules_from_mapping(TEST_RULES)))) as app:
        # Slack traffic comes over the socket; the HTTP route for it does not exist.
        assert app.post("/slack/events", content="{}").status_code in (404, 405)
        assert post_survey(app, survey_body()).status_code == 202
        assert app.get("/healthz").status_code == 200
