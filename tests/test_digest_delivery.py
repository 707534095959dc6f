"""The daily digest and Monday's chart go through the outbox: the day is claimed together with
their rows, they are rendered when sent, and a transient error delays them instead of losing
them."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.config.rules import rules_from_mapping
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import UserDirectory, Workspace, make_client
from bot.services.reports import Reports
from storage import outbox as store
from storage.models import JobRun, OutboxMessage
from storage.slack_users import SlackUserCache
from tests.conftest import TEST_RULES
from tests.test_outbox import Clock, outbox_rows, slack_client

MONDAY = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RULES = rules_from_mapping({**TEST_RULES, "digest": {"channel": "C0STANDUP", "time": "09:00"}})


def setup(engine, fake, at: datetime) -> tuple[Reports, OutboxWorker, Clock]:
    clock = Clock()
    clock.now = at
    client = make_client("xoxb-test", fake.url)
    reports = Reports(
        engine, RULES, UserDirectory(client, SlackUserCache(engine)), Workspace(client), clock=clock
    )
    worker = OutboxWorker(
        engine,
        slack_client(fake),
        RULES,
        reports=reports,
        channel_interval=0,
        clock=clock,
        monotonic=clock.monotonic,
        rng=lambda: 1.0,
    )
    return reports, worker, clock


def digests(fake) -> list:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == "C0STANDUP" and "thread_ts" not in c.args
    ]


def test_a_transient_error_delays_the_digest_instead_of_losing_the_day(engine, fake_slack):
    reports, worker, clock = setup(engine, fake_slack, TUESDAY)
    fake_slack.fail_next("chat.postMessage", status=503)

    assert reports.queue_daily_digest()
    assert not reports.queue_daily_digest()  # the day is claimed once
    worker.drain()
    assert digests(fake_slack) == []
    for _ in range(3):
        clock.advance(10)
        worker.drain()

    [digest] = digests(fake_slack)
    assert "Tue 24 Nov" in digest.args["text"]
    [row] = outbox_rows(engine)
    assert (row.kind, row.status, row.ts) == (
        "digest",
        "sent",
        fake_slack.messages_in("C0STANDUP")[0]["ts"],
    )


def test_mondays_chart_is_rendered_when_sent_under_the_digest(engine, fake_slack):
    reports, worker, clock = setup(engine, fake_slack, MONDAY)
    assert reports.queue_daily_digest()
    assert [(r.kind, r.status) for r in outbox_rows(engine)] == [
        ("digest", "pending"),
        ("weekly_chart", "pending"),
    ]
    fake_slack.error_next("chat.postMessage", "message_limit_exceeded")

    worker.drain()
    assert fake_slack.files == {}, "the chart waits for its digest"
    clock.advance(5)
    worker.drain()

    [message, shared] = fake_slack.messages_in("C0STANDUP")
    assert message["metadata"]["event_payload"]["delivery"] == outbox_rows(engine)[0].id
    [chart] = fake_slack.files.values()
    assert chart["content"][:8] == b"\x89PNG\r\n\x1a\n"
    assert chart["name"] == "nps-weekly-2026-11-23.png"
    assert shared["files"][0]["id"] == chart["id"]
    assert {r.status for r in outbox_rows(engine)} == {"sent"}


def test_an_ambiguous_chart_upload_is_found_not_uploaded_twice(engine, fake_slack):
    reports, worker, clock = setup(engine, fake_slack, MONDAY)
    assert reports.queue_daily_digest()
    fake_slack.fail_after_next("files.completeUploadExternal", status=500)

    for _ in range(4):
        worker.drain()
        clock.advance(10)

    assert len(fake_slack.files) == 1
    assert len([m for m in fake_slack.messages_in("C0STANDUP") if m.get("files")]) == 1
    chart = next(r for r in outbox_rows(engine) if r.kind == "weekly_chart")
    assert (chart.status, chart.ts) == ("sent", next(iter(fake_slack.files)))


def test_claiming_the_day_and_queueing_its_rows_are_one_transaction(engine):
    day = date(2026, 11, 23)
    with engine.begin() as conn:  # a digest row left behind, without its day's claim
        conn.execute(
            sa.insert(OutboxMessage.__table__).values(
                dedupe_key=f"digest:{day.isoformat()}",
                kind="digest",
                payload={},
                status="sent",
                next_attempt_at=MONDAY,
                created_at=MONDAY,
            )
        )
    with pytest.raises(sa.exc.IntegrityError):
        store.claim_daily_digest(engine, day=day, channel="C0STANDUP", now=MONDAY, chart=False)
    with engine.connect() as conn:
        assert conn.execute(sa.select(JobRun.__table__)).all() == []


def test_the_services_import_no_slack_sdk():
    for path in Path("bot/services").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [n for n in names if n.split(".")[0] in ("slack_sdk", "slack_bolt")], path
