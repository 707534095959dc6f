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
