"""The re-survey request to the survey platform: signed, sent once, retried on failure."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from bot.config.rules import rules_from_mapping
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import make_client
from bot.services.timers import Timers
from storage import cases
from storage.outbox import counts
from tests.conftest import WEBHOOK_SECRET
from tests.test_timers import RULES, Clock, NoSlack, make_case

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Platform:
    """A survey platform's endpoint that records requests and answers a chosen status."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.status = 200
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                platform.requests.append((dict(self.headers), body))
                self.send_response(platform.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/resurvey"


@pytest.fixture
def platform():
    server = Platform()
    yield server
    server.server.shutdown()


def test_resurvey_request_is_signed_and_sent_once(engine, fake_slack, platform):
    rules = {**RULES, "resurvey": {"webhook_url": platform.url}}
    case_id = make_case(engine, rules=rules)
    cases.resolve(
        engine,
        case_id,
        actor="U0ALICE",
        summary="Fixed",
        satisfied=True,
        root_cause="Billing errors",
        resurvey_on=date(2026, 12, 23),
        now=T0 + timedelta(days=1),
    )
    clock = Clock(datetime(2026, 12, 23, 10, tzinfo=UTC))
    parsed = rules_from_mapping(rules)
    Timers(engine, parsed, NoSlack(), clock=clock).tick()
    worker = OutboxWorker(
        engine,
        make_client("xoxb-test", fake_slack.url, rate_limit_retries=0),
        parsed,
        webhook_secret=WEBHOOK_SECRET,
        channel_interval=0,
        clock=clock,
    )

    platform.status = 503  # the platform is down: retried later, not lost
    worker.drain()
    assert len(platform.requests) == 1
    assert counts(engine).get("pending", 0) >= 1

    platform.status = 200
    clock.now += timedelta(minutes=5)
    worker.drain()
    assert len(platform.requests) == 2
    headers, body = platform.requests[-1]
    headers = {k.lower(): v for k, v in headers.items()}
    # The test's clock is in the future, so check the signature itself, not the timestamp.
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = Webhook(WEBHOOK_SECRET).sign(headers["webhook-id"], sent_at, body.decode())
    assert headers["webhook-signature"] == expected
    payload = json.loads(body)
    assert payload["type"] == "resurvey.requested"
    assert payload["resurvey_of"] == "r-1"
    assert payload["customer"]["id"] == "c-1"
    first = {k.lower(): v for k, v in platform.requests[0][0].items()}
    assert headers["webhook-id"] == first["webhook-id"]  # the same id on a retry
    dms = [
        c.args for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "U0ALICE"
    ]
    assert any("re-survey" in json.dumps(dm["blocks"]) for dm in dms)
    clock.now += timedelta(hours=1)
    worker.drain()
    assert len(platform.requests) == 2
