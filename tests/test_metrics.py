"""`GET /metrics`: figures that move as responses arrive, cards go out, Slack fails or throttles,
timers sweep and the database breaks; the bearer token that guards it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient

from bot.app import metrics
from bot.app.scrape import OUTBOX, DatabaseGauges
from bot.app.server import create_app
from bot.app.wiring import build_services
from bot.config.rules import rules_from_mapping
from storage.db import create_db_engine
from tests.conftest import TEST_RULES, post_survey, settings_for, sign, survey_body
from tests.fake_slack import FakeSlack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "metrics-token-0123456789abcdef"


def scrape(client: TestClient, **headers: str) -> Samples:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The first truthy result of `check`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not met in time"
            return result
        time.sleep(0.05)


def posts(fake: FakeSlack) -> int:
    return len([c for c in fake.calls_to("chat.postMessage") if c.ok])


def test_cards_move_the_outbox_gauges_and_the_slack_counters(client, fake_slack):
    before = scrape(client)
    fake_slack.down = True
    assert post_survey(client, survey_body()).status_code == 202

    # The card and the two alerts wait in the outbox while Slack answers 503 (an alert that may
    # have gone through is held for a check, not re-posted).
    def server_errors(samples: Samples) -> float:
        return sum(
            v
            for (name, labels), v in samples.items()
            if name == "nps_bot_slack_answers_total" and ("outcome", "server_error") in labels
        )

    def waiting(samples: Samples, kind: str) -> float:
        """Rows of a kind not sent yet: pending, or leased by a worker trying them (sending)."""
        return sum(
            value(samples, "nps_bot_outbox_messages", status=status, kind=kind)
            for status in ("pending", "sending")
        )

    held = eventually(
        lambda: (
            (s := scrape(client))
            and waiting(s, "card") == 1
            and waiting(s, "alert") == 2
            and server_errors(s) > server_errors(before)
            and s
        )
    )
    assert value(held, "nps_bot_database_up") == 1
    assert value(held, "nps_bot_outbox_messages", status="failed", kind="card") == 0

    fake_slack.down = False
    eventually(lambda: posts(fake_slack) == 3)
    after = eventually(
        lambda: (
            (s := scrape(client))
            and value(s, "nps_bot_outbox_messages", status="pending", kind="card") == 0
            and value(s, "nps_bot_outbox_messages", status="sending", kind="card") == 0
            and s
        )
    )
    sent = ("nps_bot_slack_answers_total", {"method": "chat.postMessage", "outcome": "ok"})
    assert value(after, sent[0], **sent[1]) - value(before, sent[0], **sent[1]) == 3
    assert value(after, "nps_bot_outbox_due_messages", kind="alert") == 0


def test_a_refused_channel_counts_as_an_error_and_the_card_falls_back(client, fake_slack):
    before = scrape(client)
    fake_slack.missing_channels = {"C0ALICE"}
    post_survey(client, survey_body(score=8, comment="Fine."))

    eventually(lambda: fake_slack.messages_in("C0DEFAULT"))
    after = eventually(
        lambda: (
            (s := scrape(client))
            and value(s, "nps_bot_deliveries_total", kind="card", outcome="sent")
            > value(before, "nps_bot_deliveries_total", kind="card", outcome="sent")
            and s
        )
    )
    error = {"method": "chat.postMessage", "outcome": "error"}
    assert value(after, "nps_bot_slack_answers_total", **error) > value(
        before, "nps_bot_slack_answers_total", **error
    )
    latency = value(after, "nps_bot_card_latency_seconds_count") - value(
        before, "nps_bot_card_latency_seconds_count"
    )
    assert latency == 1


def test_a_429_is_counted_by_method_and_the_card_still_goes(client, fake_slack):
    before = scrape(client)
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)
    post_survey(client, survey_body(score=8, comment="Fine."))

    eventually(lambda: posts(fake_slack) == 1)
    after = scrape(client)
    name = "nps_bot_slack_ratelimited_total"
    method = {"method": "chat.postMessage"}
    assert value(after, name, **method) - value(before, name, **method) == 1
    assert value(after, "nps_bot_outbox_messages", status="pending", kind="card") == 0


def test_intake_answers_are_counted_by_source_and_code(client):
    before = scrape(client)
    body = json.dumps(survey_body("r-9")).encode()
    assert client.post("/webhooks/survey", content=body, headers=sign(body)).status_code == 202
    assert client.post("/webhooks/survey", content=body, headers=sign(body)).status_code == 200
    wrong = {**sign(body), "webhook-signature": "v1,AAAA"}
    assert client.post("/webhooks/survey", content=body, headers=wrong).status_code == 401
    account = json.dumps({"account_id": "a-1", "event": "renewed", "at": "2026-11-20T10:00:00Z"})
    answer = client.post("/webhooks/account", content=account, headers=sign(account))
    assert answer.status_code == 202
    client.get("/healthz")

    after = scrape(client)
    counts = {
        (source, code): value(after, "nps_bot_intake_requests_total", source=source, code=code)
        - value(before, "nps_bot_intake_requests_total", source=source, code=code)
        for source, code in (
            ("survey", "202"),
            ("survey", "200"),
            ("survey", "401"),
            ("account", "202"),
        )
    }
    assert counts == {("survey", "202"): 1, ("survey", "200"): 1, ("survey", "401"): 1} | {
        ("account", "202"): 1
    }
    timed = "nps_bot_intake_seconds_count"
    assert value(after, timed, source="survey") - value(before, timed, source="survey") == 3
    assert not any(dict(labels).get("source") == "other" for _, labels in after)


def test_the_scheduler_ticks_and_sweeps_are_counted(client):
    before = scrape(client)
    after = eventually(
        lambda: (
            (s := scrape(client))
            and value(s, "nps_bot_scheduler_ticks_total", outcome="ran")
            > value(before, "nps_bot_scheduler_ticks_total", outcome="ran")
            and s
        )
    )
    assert value(after, "nps_bot_timer_sweep_seconds_count") > 0
    assert value(after, "nps_bot_timer_sweep_lag_seconds_count") > 0
    assert value(after, "nps_bot_timer_last_sweep_timestamp_seconds") > time.time() - 60
    assert value(after, "nps_bot_escalation_overdue_seconds") == 0


@pytest.fixture
def guarded(db_url: str, fake_slack: FakeSlack) -> Iterator[TestClient]:
    settings = settings_for(db_url, fake_slack.url, METRICS_TOKEN=TOKEN)
    assert TOKEN not in repr(settings)
    app = create_app(build_services(settings, rules_from_mapping(TEST_RULES)))
    with TestClient(app) as client:
        yield client


def test_the_token_guards_metrics(guarded):
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        answer = guarded.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in answer.text
    samples = scrape(guarded, authorization=f"Bearer {TOKEN}")
    assert value(samples, "nps_bot_database_up") == 1
    assert guarded.get("/healthz").status_code == 200  # the probe needs no token


def test_without_a_token_metrics_are_open(client):
    assert value(scrape(client), "nps_bot_database_up") == 1


# ------------------------------------------------------------------------ the parts, one by one


def test_a_broken_database_reads_as_down_and_counts_the_error(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every read fails
    metrics.watch_database(engine)
    before = metrics.EVENTS.get_sample_value(
        "nps_bot_database_errors_total", {"error": "OperationalError"}
    )
    gauges = {m.name: m for m in DatabaseGauges(engine, lambda: None).collect()}
    assert [s.value for s in gauges["nps_bot_database_up"].samples] == [0]
    assert "nps_bot_outbox_messages" not in gauges
    after = metrics.EVENTS.get_sample_value(
        "nps_bot_database_errors_total", {"error": "OperationalError"}
    )
    assert after == (before or 0) + 1


def test_an_overdue_step_shows_its_age(engine):
    gauges = DatabaseGauges(engine, lambda: timedelta(minutes=3))
    found = {m.name: m.samples for m in gauges.collect()}
    assert [s.value for s in found["nps_bot_escalation_overdue_seconds"]] == [180.0]
    depth = {tuple(s.labels.values()): s.value for s in found["nps_bot_outbox_messages"]}
    assert depth[("pending", "card")] == 0  # every state and kind is there, at zero


def test_delivery_outcomes_and_card_latency_count():
    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return metrics.EVENTS.get_sample_value(name, labels or {}) or 0.0

    sent = {"kind": "card", "outcome": "sent"}
    odd = {"kind": "card", "outcome": "other"}
    before = sample("nps_bot_deliveries_total", sent), sample("nps_bot_deliveries_total", odd)
    metrics.delivery_outcome("card", "sent")
    metrics.delivery_outcome("card", "exploded")
    after = sample("nps_bot_deliveries_total", sent), sample("nps_bot_deliveries_total", odd)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)

    count = sample("nps_bot_card_latency_seconds_count")
    total = sample("nps_bot_card_latency_seconds_sum")
    start = time.time()
    from datetime import UTC, datetime

    received = datetime.fromtimestamp(start, UTC)
    metrics.card_posted(received, received + timedelta(seconds=4))
    assert sample("nps_bot_card_latency_seconds_count") == count + 1
    assert sample("nps_bot_card_latency_seconds_sum") == pytest.approx(total + 4)


def test_a_failed_sweep_is_counted_and_its_error_goes_on():
    failures = metrics.EVENTS.get_sample_value("nps_bot_timer_sweep_failures_total") or 0
    last = metrics.EVENTS.get_sample_value("nps_bot_timer_last_sweep_timestamp_seconds")
    with pytest.raises(RuntimeError), metrics.timer_sweep():
        raise RuntimeError("database went away")
    assert metrics.EVENTS.get_sample_value("nps_bot_timer_sweep_failures_total") == failures + 1
    assert metrics.EVENTS.get_sample_value("nps_bot_timer_last_sweep_timestamp_seconds") == last


def test_slack_connection_errors_are_counted_without_a_retry_of_their_own():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens there
    client = WebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{port}/api/", timeout=2)
    client.retry_handlers = []
    metrics.watch_slack(client)
    metrics.watch_slack(client)  # attaching twice counts once
    labels = {"method": "auth.test", "outcome": "connection_error"}
    before = metrics.EVENTS.get_sample_value("nps_bot_slack_answers_total", labels) or 0
    with pytest.raises(OSError):
        client.auth_test()
    after = metrics.EVENTS.get_sample_value("nps_bot_slack_answers_total", labels)
    assert after == before + 1


def test_the_metrics_module_reads_the_outbox_table_it_names(engine):
    assert OUTBOX.name in sa.inspect(engine).get_table_names()
