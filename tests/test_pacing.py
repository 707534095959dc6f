"""Pacing per method (Slack's tiers) and per channel; a 429 on a lookup defers one row, and the
outbox thread never sleeps on a rate limit."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.app.wiring import build_services
from bot.config.rules import rules_from_mapping
from bot.delivery.pacing import POST, Pacer, Throttled, backoff
from storage import cases
from tests.conftest import TEST_RULES, settings_for
from tests.test_outbox import card_row, close_to, make_worker, outbox_rows, queue, response


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


def test_a_tier_3_method_takes_a_minutes_worth_at_once_then_fifty_a_minute():
    ticks = Ticks()
    pacer = Pacer(monotonic=ticks)
    for _ in range(50):
        pacer.take("chat.update")
    with pytest.raises(Throttled) as refused:
        pacer.take("chat.update")
    assert refused.value.wait == pytest.approx(1.2)
    pacer.take("users.info")  # another method has its own budget
    pacer.take("chat.getPermalink")  # "special" limits: paced only by Slack's 429s
    ticks.at += 12
    taken = 0
    while pacer.wait_for("chat.update") == 0:
        pacer.take("chat.update")
        taken += 1
    assert taken == 10  # 50 a minute
    ticks.at += 600
    taken = 0
    while pacer.wait_for("chat.update") == 0:
        pacer.take("chat.update")
        taken += 1
    assert taken == 50  # the bucket refills to a minute's worth, not beyond


def test_posts_are_paced_per_channel_and_a_429_holds_only_its_channel_or_method():
    ticks = Ticks()
    pacer = Pacer(channel_interval=1.0, monotonic=ticks)
    pacer.take(POST, "C1")
    assert pacer.wait_for(POST, "C1") == pytest.approx(1.0)
    pacer.take(POST, "C2")
    assert pacer.busy_channels() == ["C1", "C2"]
    pacer.hold(POST, 30, "C3")
    assert pacer.wait_for(POST, "C3") == pytest.approx(30)
    assert pacer.wait_for(POST, "C4") == 0
    pacer.hold("users.lookupByEmail", 30)
    assert pacer.wait_for("users.lookupByEmail") == pytest.approx(30)
    assert pacer.wait_for("users.info") == 0
    assert pacer.soonest() == pytest.approx(1.0)
    ticks.at += 31
    assert pacer.busy_channels() == []
    assert pacer.soonest() is None


def test_backoff_doubles_to_five_minutes_with_jitter():
    assert [backoff(n, rng=lambda: 1.0) for n in (1, 2, 3, 9, 10, 20)] == [
        1.0,
        2.0,
        4.0,
        256.0,
        300.0,
        300.0,
    ]
    assert backoff(4, rng=lambda: 0.0) == 4.0  # half of 8: never less than half


def test_card_updates_are_paced_to_chat_updates_tier(engine, fake_slack):
    stored = queue(
        engine, *[response(f"r-{i}", account_id=f"a-{i}", arr=1000 + i) for i in range(70)]
    )
    worker, clock = make_worker(engine, fake_slack)
    worker.drain()
    for s in stored:
        cases.claim(engine, s.case_id, actor="U0ALICE", now=clock.now)

    worker.drain()
    assert len(fake_slack.calls_to("chat.update")) == 50  # a minute's worth at once
    lines = [c for c in fake_slack.calls_to("chat.postMessage") if "thread_ts" in c.args]
    assert len(lines) == 70, "the thread lines are not held up by chat.update's pace"
    updates = [r for r in outbox_rows(engine) if r.kind == "card_update"]
    assert {r.attempts for r in updates if r.status == "pending"} == {0}

    clock.advance(12)  # then 50 a minute: 10 more
    worker.drain()
    assert len(fake_slack.calls_to("chat.update")) == 60
    clock.advance(12)
    worker.drain()
    assert len(fake_slack.calls_to("chat.update")) == 70
    assert {r.status for r in outbox_rows(engine)} == {"sent"}


def test_a_429_on_a_lookup_defers_that_row_only_and_never_sleeps(db_url, engine, fake_slack):
    rules = rules_from_mapping(TEST_RULES)
    services = build_services(settings_for(db_url, fake_slack.url), rules)
    worker = services.outbox
    assert worker.tools.directory.client is worker.client, "lookups use the paced client"
    fake_slack.users["new@example.com"] = "U0NEW"
    fake_slack.users["other@example.com"] = "U0OTHER"
    [first, second, by_id] = queue(
        engine,
        response("email-1", account_id="a-1", arr=900_000, owner="new@example.com"),
        response("email-2", account_id="a-2", arr=800_000, owner="other@example.com"),
        response("id-owner", account_id="a-3", arr=100_000, owner="U0BOB"),
    )
    fake_slack.rate_limit_next("users.lookupByEmail", retry_after=30)
    try:
        started = time.monotonic()
        worker.drain()
        elapsed = time.monotonic() - started
    finally:
        services.engine.dispose()

    assert elapsed < 5, f"the outbox slept {elapsed:.1f}s on a rate limit"
    assert card_row(engine, by_id.case_id).status == "sent"
    waiting = card_row(engine, first.case_id)
    assert (waiting.status, waiting.last_error, waiting.attempts) == ("pending", "ratelimited", 0)
    assert close_to(waiting.next_attempt_at, waiting.created_at + timedelta(seconds=30), 5)
    # The method is held for everyone: the second email is not asked about until then.
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 0
    assert card_row(engine, second.case_id).status == "pending"
