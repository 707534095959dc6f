"""Test responses and the demo: the survey platform's body and its Standard Webhooks signature."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.app.sandbox import demo, survey
from bot.services.intake import parse_survey

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_the_form_becomes_a_valid_survey_response():
    form = {
        "score": "2",
        "comment": "Slow support.",
        "customer": "Dana Reyes",
        "account": "Acme A/S",
        "arr": "120000",
        "owner": "alice.owens@sandbox.example",
    }
    body = survey.response_body(form, now=NOW)
    parsed = parse_survey(json.dumps(body).encode())
    assert (parsed.score, parsed.comment) == (2, "Slow support.")
    assert (parsed.customer.id, parsed.customer.name) == ("c-dana-reyes", "Dana Reyes")
    assert (parsed.account.id, parsed.account.arr) == ("a-acme-a-s", 120000)
    assert parsed.account.owner == "alice.owens@sandbox.example"
    assert parsed.submitted_at == NOW
    assert survey.response_body(form, now=NOW)["response_id"] != body["response_id"]


def test_what_was_typed_goes_as_typed_for_the_intake_to_judge():
    body = survey.response_body({"score": "ten", "arr": "", "customer": "", "owner": ""}, now=NOW)
    assert body["score"] == "ten" and body["account"]["arr"] is None
    assert "owner" not in body["account"] and body["comment"] is None


def test_the_intakes_field_errors_land_next_to_the_forms_fields():
    answer = survey.Answer(
        422,
        {
            "fields": [
                {"field": "score", "message": "Input should be less than or equal to 10"},
                {"field": "customer.name", "message": "String should have at least 1 character"},
                {"field": "account.arr", "message": "Input should be a valid number"},
                {"field": "account.owner", "message": "must be an email address"},
                {"field": "touchpoints.0.at", "message": "not on the form"},
            ]
        },
    )
    assert answer.field_errors() == {
        "score": "Input should be less than or equal to 10",
        "customer": "String should have at least 1 character",
        "arr": "Input should be a valid number",
        "owner": "must be an email address",
    }


def test_a_new_webhook_secret_is_a_standard_webhooks_secret():
    secret = survey.new_webhook_secret()
    assert secret.startswith("whsec_") and secret != survey.new_webhook_secret()
    headers_at = datetime.now(UTC)
    signed = Webhook(secret).sign("msg_1", headers_at, "{}")
    Webhook(secret).verify(
        "{}",
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(int(headers_at.timestamp())),
            "webhook-signature": signed,
        },
    )


def test_the_demo_covers_every_segment_and_parses():
    bodies = demo.demo_bodies(NOW)
    scores = [b["score"] for b in bodies]
    assert any(s <= 6 for s in scores) and any(s in (7, 8) for s in scores)
    assert any(s >= 9 for s in scores)
    for body in bodies:
        parse_survey(json.dumps(body).encode())
    assert len({b["response_id"] for b in bodies}) == len(bodies)


@pytest.fixture
def platform() -> Iterator[tuple[str, list]]:
    """A webhook endpoint on 127.0.0.1 that records requests and answers 202."""
    seen: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
            answer = b'{"response_id": "r", "case_id": 1, "segment": "detractor"}'
            self.send_response(202)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhooks/survey", seen
    server.shutdown()
    server.server_close()


def test_send_signs_the_body_as_the_survey_platform_does(platform):
    url, seen = platform
    secret = survey.new_webhook_secret()
    answer = survey.send(url, secret, {"response_id": "r-1", "score": 3})
    assert answer == survey.Answer(202, {"response_id": "r", "case_id": 1, "segment": "detractor"})
    headers, body = seen[0]
    Webhook(secret).verify(body.decode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(survey.new_webhook_secret()).verify(body.decode(), headers)
