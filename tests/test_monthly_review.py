"""The monthly root-cause review: due on the first business day of the month at `digest.time`,
queued once per month across replicas, and retried through the outbox when Slack fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.config.rules import rules_from_mapping
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import UserDirectory, Workspace, make_client
from bot.services.reports import Reports
from storage.db import create_db_engine
from storage.slack_users import SlackUserCache
from tests.conftest import TEST_RULES
from tests.test_outbox import Clock, outbox_rows, slack_client
from tests.test_reports import add, at, resolved

THEME = {"name": "Billing errors", "owner": "U0FINANCE", "mandate": "Invoices right first time."}
RULES = rules_from_mapping(
    {
        **TEST_RULES,
        "digest": {"channel": "C0STANDUP", "time": "09:00"},
        "review": {"channel": "C0REVIEW"},
        "themes": [THEME],
    }
)
TUESDAY_FIRST = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # 1 December 2026 is a Tuesday


def reports_for(engine, fake, clock) -> Reports:
    client = make_client("xoxb-test", fake.url)
    return Reports(
        engine, RULES, UserDirectory(client, SlackUserCache(engine)), Workspace(client), clock=clock
    )


def reviews(fake) -> list:
    return [
        c for c in fake.calls_to("chat.postMessage") if c.ok and c.args["channel"] == "C0REVIEW"
    ]


def test_the_review_is_due_from_the_first_business_day_at_digest_time(engine, fake_slack):
    clock = Clock()
    reports = reports_for(engine, fake_slack, clock)
    # 1 November 2026 is a Sunday: the first business day is Monday the 2nd.
    assert not reports.due_for_review(datetime(2026, 11, 1, 10, tzinfo=UTC))
    assert not reports.due_for_review(datetime(2026, 11, 2, 8, 59, tzinfo=UTC))
    assert reports.due_for_review(datetime(2026, 11, 2, 9, tzinfo=UTC))
    assert reports.due_for_review(datetime(2026, 11, 5, 7, tzinfo=UTC))  # a missed day catches up
    clock.now = datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert not reports.queue_monthly_review()


def test_one_review_a_month_across_replicas_retried_through_a_slack_outage(db_url, fake_slack):
    engines = [create_db_engine(db_url) for _ in range(2)]
    case = add(engines[0], "d-1", score=2, received=at(11, 10), account="A")
    resolved(engines[0], case, at(11, 12), satisfied=False, cause="Billing errors")
    clocks = [Clock() for _ in engines]
    for clock in clocks:
        clock.now = TUESDAY_FIRST
    replicas = [reports_for(e, fake_slack, c) for e, c in zip(engines, clocks, strict=True)]
    workers = [
        OutboxWorker(
            engine,
            slack_client(fake_slack),
            RULES,
            reports=reports,
            channel_interval=0,
            clock=clock,
            monotonic=clock.monotonic,
            rng=lambda: 1.0,
        )
        for engine, reports, clock in zip(engines, replicas, clocks, strict=True)
    ]
    for worker in workers:
        worker.drain()  # the case's own messages go first
    review_rows = len(outbox_rows(engines[0]))
    queued = [r.queue_monthly_review() for r in replicas for _ in range(2)]
    assert queued.count(True) == 1

    fake_slack.fail_next("chat.postMessage", status=503)  # Slack is down for the first try
    workers[0].drain()
    assert reviews(fake_slack) == []
    row = outbox_rows(engines[0])[review_rows]
    assert row.kind == "monthly_review" and row.status != "sent" and row.attempts == 1
    for _ in range(3):
        for clock, worker in zip(clocks, workers, strict=True):
            clock.advance(10)
            worker.drain()

    [review] = reviews(fake_slack)
    body = json.dumps(review.args["blocks"], ensure_ascii=False)
    assert "monthly review · November 2026" in body
    assert "Billing errors" in body and "<@U0FINANCE>" in body
    assert "Invoices right first time." in body
    [row] = [r for r in outbox_rows(engines[0]) if r.kind == "monthly_review"]
    assert row.status == "sent"
    later = reports_for(engines[1], fake_slack, lambda: TUESDAY_FIRST + timedelta(days=3))
    assert not later.queue_monthly_review()  # December's review is taken
    for engine in engines:
        engine.dispose()
