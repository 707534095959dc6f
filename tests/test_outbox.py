"""The outbox worker driven pass by pass: destinations, priority, pacing, Slack failures, crash
recovery, alerts and escaping, checked against the fake Slack and the outbox rows."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlmodel import Session, select

from bot.config.rules import Rules, rules_from_mapping
from bot.delivery.outbox import METADATA_TYPE, OutboxWorker
from bot.delivery.slack import make_client
from bot.services.intake import IntakeWriter, parse_survey, to_response_data
from bot.services.router import Router
from storage import intake as intake_store
from storage import outbox as store
from storage.models import FollowUpCase, OutboxMessage, SlackUser
from tests.conftest import BOT_TOKEN, TEST_RULES, survey_body
from tests.fake_slack import Call, FakeSlack

NEUTRAL = "It does the job."


class Clock:
    """A settable clock for the worker: time moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        """The clock as seconds, for the worker's pacing: it too moves only when told."""
        return self.now.timestamp()


def response(
    response_id: str,
    *,
    score: int = 5,
    comment: str | None = NEUTRAL,
    account_id: str = "a-1",
    account_name: str | None = None,
    arr: float | None = 120_000,
    owner: str = "alice@example.com",
    customer_name: str | None = None,
) -> intake_store.ResponseData:
    """The storage record of a signed-off survey response, as intake builds it."""
    body = survey_body(
        response_id,
        score=score,
        comment=comment,
        customer={
            "id": f"c-{response_id}",
            "name": customer_name or f"Customer {response_id}",
            "email": "dana@acme.example",
            "phone": "+45 1234 5678",
        },
        account={
            "id": account_id,
            "name": account_name or f"Account {account_id}",
            "arr": arr,
            "owner": owner,
            "plan": "Enterprise",
        },
    )
    payload = parse_survey(json.dumps(body).encode())
    return to_response_data(payload, received_at=datetime.now(UTC), webhook_id=f"m-{response_id}")


@contextmanager
def intake(engine: sa.Engine, rules: Rules) -> Iterator[Any]:
    """A running intake writer; the yielded function stores responses one by one, in order."""
    writer = IntakeWriter(engine, Router(rules))
    writer.start()

    def put(*records: intake_store.ResponseData) -> list[intake_store.Stored]:
        return [writer.submit(r).result(timeout=10) for r in records]

    try:
        yield put
    finally:
        writer.stop()


def queue(engine: sa.Engine, *records: intake_store.ResponseData, rules: Rules | None = None):
    with intake(engine, rules or rules_from_mapping(TEST_RULES)) as put:
        return put(*records)


def slack_client(fake: FakeSlack) -> WebClient:
    """The outbox's client (no rate-limit retries), with the server-error retries kept but made
    instant so that failure tests do not sleep through the client's backoff."""
    client = make_client(BOT_TOKEN, fake.url, rate_limit_retries=0)
    for handler in client.retry_handlers:
        handler.interval_calculator = FixedValueRetryIntervalCalculator(0.0)
    return client


def make_worker(
    engine: sa.Engine,
    fake: FakeSlack,
    *,
    rules: Rules | None = None,
    channel_interval: float = 0.0,
    clock: Clock | None = None,
    monotonic: Callable[[], float] | None = None,
    name: str | None = None,
    rng: Callable[[], float] | None = None,
) -> tuple[OutboxWorker, Clock]:
    """A worker on the fake Slack whose clock (and pacing) moves only when the test says."""
    clock = clock or Clock()
    worker = OutboxWorker(
        engine,
        slack_client(fake),
        rules or rules_from_mapping(TEST_RULES),
        channel_interval=channel_interval,
        clock=clock,
        monotonic=monotonic or clock.monotonic,
        rng=rng or (lambda: 1.0),  # backoff at the top of its jitter: predictable waits
        name=name,
    )
    return worker, clock


def outbox_rows(engine: sa.Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def row(engine: sa.Engine, delivery_id: int) -> OutboxMessage:
    with Session(engine) as session:
        found = session.get(OutboxMessage, delivery_id)
        assert found is not None
        return found


def case_of(engine: sa.Engine, case_id: int) -> FollowUpCase:
    with Session(engine) as session:
        found = session.get(FollowUpCase, case_id)
        assert found is not None
        return found


def card_row(engine: sa.Engine, case_id: int) -> OutboxMessage:
    with Session(engine) as session:
        return session.exec(
            select(OutboxMessage).where(
                OutboxMessage.case_id == case_id, OutboxMessage.kind == "card"
            )
        ).one()


def posts(fake: FakeSlack) -> list[Call]:
    """chat.postMessage calls Slack accepted, oldest first."""
    return [c for c in fake.calls_to("chat.postMessage") if c.ok]


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text object's text in a block tree."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "mrkdwn" and "text" in node else []
    return own + [t for value in node.values() for t in mrkdwn_texts(value)]


def close_to(a: datetime, b: datetime, tolerance: float = 0.01) -> bool:
    return abs((a - b).total_seconds()) <= tolerance


# ---------------------------------------------------------------------------------- delivery


def test_card_goes_to_the_owners_channel_exactly_once(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)

    assert worker.run_once() is True

    [post] = posts(fake_slack)
    assert post.args["channel"] == "C0ALICE"  # alice@example.com's channel in the rules
    assert post.args["metadata"]["event_type"] == METADATA_TYPE
    blocks = json.dumps(post.args["blocks"])
    assert "Customer r-1" in blocks
    assert "<@U0ALICE>" in blocks  # the owner, resolved by email, is mentioned

    [message] = fake_slack.messages_in("C0ALICE")
    delivery = card_row(engine, stored.case_id)
    assert post.args["metadata"]["event_payload"] == {"delivery": delivery.id}
    assert (delivery.status, delivery.channel, delivery.ts) == ("sent", "C0ALICE", message["ts"])
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    case = case_of(engine, stored.case_id)
    assert (case.card_channel, case.card_ts) == ("C0ALICE", message["ts"])
    assert case.owner_user_id == "U0ALICE"

    clock.advance(3600)
    assert worker.run_once() is False
    assert worker.run_once() is False
    assert len(posts(fake_slack)) == 1
    assert len(fake_slack.messages_in("C0ALICE")) == 1
    assert store.counts(engine) == {"sent": 1}


def test_queue_drains_detractors_first_then_by_arr_then_oldest(engine, fake_slack):
    # All cards go to one channel; 4-6 scores and plain comments keep alerts out of the way.
    # Passives outrank the promoter on ARR too, so the order holds whether or not passives and
    # promoters are told apart.
    records = [
        response("passive-rich", score=8, account_id="a-pr", arr=800_000),
        response("promoter", score=10, account_id="a-pm", arr=5_000),
        response("detractor-small", score=4, account_id="a-ds", arr=10_000),
        response("detractor-big", score=6, account_id="a-db", arr=900_000),
        response("detractor-mid-older", score=5, account_id="a-dm1", arr=50_000),
        response("detractor-mid-newer", score=5, account_id="a-dm2", arr=50_000),
        response("passive-poor", score=7, account_id="a-pp", arr=20_000),
    ]
    stored = queue(engine, *records)
    case_to_response = {s.case_id: s.response_id for s in stored}
    worker, _ = make_worker(engine, fake_slack, channel_interval=0)

    worker.drain()

    sent = [c.args["metadata"]["event_payload"]["delivery"] for c in posts(fake_slack)]
    assert {c.args["channel"] for c in posts(fake_slack)} == {"C0ALICE"}
    by_delivery = {r.id: case_to_response[r.case_id] for r in outbox_rows(engine)}
    assert [by_delivery[d] for d in sent] == [
        "detractor-big",
        "detractor-mid-older",
        "detractor-mid-newer",
        "detractor-small",
        "passive-rich",
        "passive-poor",
        "promoter",
    ]
    assert store.counts(engine) == {"sent": 7}


def test_channel_pacing_holds_a_second_card_but_not_another_channel(engine, fake_slack):
    fake_slack.enforce_channel_rate(per_second=1.0)  # Slack's own limit: about 1 post/s/channel
    queue(
        engine,
        response("alice-1", account_id="a-1", arr=300_000),
        response("alice-2", account_id="a-2", arr=200_000),
        response("bob-1", account_id="a-3", arr=100_000, owner="U0BOB"),  # -> default channel
    )
    worker, _ = make_worker(engine, fake_slack, channel_interval=1.0, monotonic=time.monotonic)

    worker.run_once()
    assert Counter(c.args["channel"] for c in posts(fake_slack)) == {"C0ALICE": 1, "C0DEFAULT": 1}
    waiting = [r for r in outbox_rows(engine) if r.status == "pending"]
    assert [(r.channel, r.attempts) for r in waiting] == [("C0ALICE", 0)]

    worker.run_once()  # the channel is still inside its interval
    assert len(posts(fake_slack)) == 2

    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while len(posts(fake_slack)) < 3 and datetime.now(UTC) < deadline:
        worker.run_once()
    assert Counter(c.args["channel"] for c in posts(fake_slack)) == {"C0ALICE": 2, "C0DEFAULT": 1}
    first, second = (c for c in posts(fake_slack) if c.args["channel"] == "C0ALICE")
    assert second.at - first.at >= 0.95
    assert fake_slack.rate_limited == 0
    assert store.counts(engine) == {"sent": 3}


# ---------------------------------------------------------------------------------- failures


def test_rate_limit_defers_the_delivery_and_lets_other_channels_through(engine, fake_slack):
    [alice, bob] = queue(
        engine,
        response("alice", account_id="a-1", arr=500_000),
        response("bob", account_id="a-2", arr=100_000, owner="U0BOB"),
    )
    worker, clock = make_worker(engine, fake_slack)
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)

    worker.drain()

    deferred = card_row(engine, alice.case_id)
    assert (deferred.status, deferred.attempts) == ("pending", 0)  # a 429 is not an attempt
    assert deferred.last_error == "ratelimited"
    assert close_to(deferred.next_attempt_at, clock.now + timedelta(seconds=1))
    assert fake_slack.rate_limited == 1
    assert [c.args["channel"] for c in posts(fake_slack)] == ["C0DEFAULT"]
    assert card_row(engine, bob.case_id).status == "sent"

    clock.advance(0.5)
    worker.drain()  # not due yet
    assert len(posts(fake_slack)) == 1

    clock.advance(0.6)
    worker.drain()
    assert [c.args["channel"] for c in posts(fake_slack)] == ["C0DEFAULT", "C0ALICE"]
    delivered = card_row(engine, alice.case_id)
    assert delivered.status == "sent"
    assert delivered.ts == fake_slack.messages_in("C0ALICE")[0]["ts"]
    assert len(fake_slack.messages_in("C0ALICE")) == 1


def test_server_error_storm_backs_off_then_delivers_once(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)
    fake_slack.fail_next("chat.postMessage", status=503, count=3)

    waits = []
    for _ in range(3):  # each 503 may have posted: the next step is a look, then a post
        worker.drain()
        delivery = card_row(engine, stored.case_id)
        assert delivery.status in ("pending", "sending")
        assert delivery.last_error
        waits.append(round((delivery.next_attempt_at - clock.now).total_seconds(), 3))
        clock.advance(waits[-1] + 0.001)
        worker.drain()  # the check: not in Slack, so it is due again at once
    assert waits == [1.0, 2.0, 4.0]
    assert len([f for f in fake_slack.failures if f.reason == "fail_next"]) == 3
    assert len(fake_slack.calls_to("conversations.history")) == 3

    [message] = fake_slack.messages_in("C0ALICE")
    delivery = card_row(engine, stored.case_id)
    assert (delivery.status, delivery.ts, delivery.attempts) == ("sent", message["ts"], 4)
    clock.advance(600)
    worker.drain()
    assert len(posts(fake_slack)) == 1


def test_outage_loses_nothing_and_each_message_goes_once_after(engine, fake_slack):
    queue(
        engine,
        # score 3, churn words, the top-revenue account: a card and two alert DMs
        response("r-1", score=3, comment="We are leaving.", account_id="a-1", arr=900_000),
        response("r-2", account_id="a-2", arr=1_000, owner="U0BOB"),
    )
    worker, clock = make_worker(engine, fake_slack)
    fake_slack.down = True

    for _ in range(4):
        worker.drain()
        clock.advance(301)  # past the longest backoff
    rows = outbox_rows(engine)
    assert len(rows) == 4
    assert {r.status for r in rows} <= {"pending", "sending"}  # sending: to be looked for
    assert all(r.last_error for r in rows)
    assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.failures  # the worker did keep trying

    fake_slack.down = False
    for _ in range(3):
        clock.advance(301)
        worker.drain()

    assert Counter(c.args["channel"] for c in posts(fake_slack)) == {
        "C0ALICE": 1,
        "U0CXLEAD": 1,
        "U0VP": 1,
        "C0DEFAULT": 1,
    }
    assert store.counts(engine) == {"sent": 4}


def test_permanent_error_fails_the_delivery_and_shows_in_counts(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    fake_slack.error_next("chat.postMessage", "invalid_blocks")
    worker, clock = make_worker(engine, fake_slack)

    worker.drain()

    delivery = card_row(engine, stored.case_id)
    assert (delivery.status, delivery.last_error) == ("failed", "invalid_blocks")
    assert store.counts(engine) == {"failed": 1}
    assert posts(fake_slack) == []
    clock.advance(3600)
    worker.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # never retried
    assert case_of(engine, stored.case_id).card_ts is None


def test_no_destination_fails_without_posting(engine, fake_slack):
    raw = deepcopy(TEST_RULES)
    del raw["people"]["default_channel"]
    del raw["routing"]["product_channel"]
    rules = rules_from_mapping(raw)
    # An owner Slack does not know, with no channel of their own, and a product complaint
    # while no product channel is configured.
    [stored] = queue(
        engine,
        response("r-1", comment="The export feature is broken.", owner="nobody@example.com"),
        rules=rules,
    )
    worker, _ = make_worker(engine, fake_slack, rules=rules)

    worker.drain()

    rows = outbox_rows(engine)
    assert [(r.kind, r.status) for r in rows] == [("card", "failed"), ("alert", "failed")]
    assert all(r.last_error.startswith("no_destination") for r in rows)
    assert fake_slack.calls_to("chat.postMessage") == []
    assert [c.args["email"] for c in fake_slack.calls_to("users.lookupByEmail")] == [
        "nobody@example.com"
    ]
    assert store.counts(engine) == {"failed": 2}
    assert case_of(engine, stored.case_id).card_ts is None


# ---------------------------------------------------------------------------------- recovery


ELSEWHERE = "another-host/4242/0123456789ab"  # a worker on another machine: not seen dead


def _crash_mid_send(engine: sa.Engine, delivery_id: int, channel: str, at: datetime) -> None:
    """Leave a delivery as a process killed during chat.postMessage would: sending, no ts."""
    assert store.claim(engine, delivery_id, owner=ELSEWHERE, now=at, channel=channel)


@pytest.mark.parametrize(
    ("kind", "channel"),
    [("card", "C0ALICE"), ("alert", "U0CXLEAD")],
    ids=["card-in-channel", "alert-in-dm"],
)
def test_reconcile_finds_a_message_posted_before_the_crash(engine, fake_slack, kind, channel):
    [stored] = queue(engine, response("r-1", score=2, comment="We will cancel."))
    delivery = next(r for r in outbox_rows(engine) if r.kind == kind and r.channel == channel)
    worker, clock = make_worker(engine, fake_slack)
    _crash_mid_send(engine, delivery.id, channel, clock.now - timedelta(minutes=5))

    poster = WebClient(token=BOT_TOKEN, base_url=fake_slack.url)
    poster.chat_postMessage(channel=channel, text="unrelated")
    poster.chat_postMessage(
        channel=channel,
        text="another delivery",
        metadata={"event_type": METADATA_TYPE, "event_payload": {"delivery": delivery.id + 100}},
    )
    posted = poster.chat_postMessage(
        channel=channel,
        text="the lost answer",
        metadata={"event_type": METADATA_TYPE, "event_payload": {"delivery": delivery.id}},
    )
    poster.chat_postMessage(channel=channel, text="later chatter")

    worker.reconcile(now=clock.now)

    after = row(engine, delivery.id)
    assert (after.status, after.ts) == ("sent", posted["ts"])
    if kind == "card":
        case = case_of(engine, stored.case_id)
        assert (case.card_channel, case.card_ts) == (channel, posted["ts"])

    before = len(fake_slack.messages_in(channel))
    clock.advance(3600)
    worker.drain()
    assert len(fake_slack.messages_in(channel)) == before  # not posted a second time
    assert row(engine, delivery.id).status == "sent"


def test_reconcile_requeues_a_delivery_slack_never_got(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    delivery = card_row(engine, stored.case_id)
    worker, clock = make_worker(engine, fake_slack)
    _crash_mid_send(engine, delivery.id, "C0ALICE", clock.now - timedelta(minutes=5))

    worker.reconcile(now=clock.now)

    requeued = row(engine, delivery.id)
    assert requeued.status == "pending"
    assert requeued.ts is None
    assert fake_slack.calls_to("conversations.history")
    assert posts(fake_slack) == []

    worker.drain()
    [message] = fake_slack.messages_in("C0ALICE")
    assert message["metadata"]["event_payload"] == {"delivery": delivery.id}
    assert (row(engine, delivery.id).status, row(engine, delivery.id).ts) == ("sent", message["ts"])
    assert len(posts(fake_slack)) == 1


def test_reconcile_leaves_a_live_send_alone(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    delivery = card_row(engine, stored.case_id)
    worker, clock = make_worker(engine, fake_slack)
    # Another worker took it two seconds ago: its lease has not run out.
    _crash_mid_send(engine, delivery.id, "C0ALICE", clock.now - timedelta(seconds=2))

    worker.reconcile(now=clock.now)
    worker.drain()

    assert row(engine, delivery.id).status == "sending"
    assert posts(fake_slack) == []
    assert fake_slack.calls_to("conversations.history") == []


# ---------------------------------------------------------------------------------- content


def test_alerts_go_to_the_people_and_channels_the_rules_name(engine, fake_slack):
    queue(
        engine,
        # 0-3 with churn words on the (only, hence top-revenue) account
        response(
            "churn",
            score=2,
            comment="We will cancel and switch to a competitor.",
            account_id="a-big",
            arr=900_000,
            customer_name="Chris Churn",
        ),
        response(
            "product",
            score=5,
            comment="The export feature is broken.",
            account_id="a-p",
            arr=10_000,
            customer_name="Pat Product",
        ),
        response(
            "service",
            score=6,
            comment="Our ticket sat unanswered for a week.",
            account_id="a-s",
            arr=10_000,
            customer_name="Sam Service",
        ),
    )
    worker, _ = make_worker(engine, fake_slack)

    worker.drain()

    assert Counter(c.args["channel"] for c in posts(fake_slack)) == {
        "C0ALICE": 3,
        "U0CXLEAD": 1,
        "U0VP": 1,
        "C0PRODUCT": 1,
        "U0SUPPORT": 1,
    }
    [cx] = fake_slack.messages_in("U0CXLEAD")
    [vp] = fake_slack.messages_in("U0VP")
    [product] = fake_slack.messages_in("C0PRODUCT")
    [support] = fake_slack.messages_in("U0SUPPORT")
    assert "Chris Churn" in cx["text"] and "churn intent" in cx["text"]
    assert "Chris Churn" in vp["text"] and "top-revenue" in vp["text"]
    assert "Pat Product" in product["text"] and "product complaint" in product["text"]
    assert "Sam Service" in support["text"] and "service complaint" in support["text"]
    assert store.counts(engine) == {"sent": 7}


def test_owner_lookup_by_email_is_cached(engine, fake_slack):
    queue(
        engine,
        response("r-1", account_id="a-1"),
        response("r-2", account_id="a-2"),
    )
    worker, clock = make_worker(engine, fake_slack)

    worker.drain()

    assert len(fake_slack.messages_in("C0ALICE")) == 2
    [lookup] = fake_slack.calls_to("users.lookupByEmail")
    assert lookup.args["email"] == "alice@example.com"
    with Session(engine) as session:
        assert session.get(SlackUser, "alice@example.com").user_id == "U0ALICE"

    # The cache is in the database: a restarted worker does not ask again either.
    queue(engine, response("r-3", account_id="a-3"))
    restarted, _ = make_worker(engine, fake_slack, clock=clock)
    restarted.drain()
    assert len(fake_slack.messages_in("C0ALICE")) == 3
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1


def test_comment_cannot_broadcast_or_inject_markup(engine, fake_slack):
    queue(engine, response("r-1", comment="<!channel> @here & <b>"))
    worker, _ = make_worker(engine, fake_slack)

    worker.drain()

    [post] = posts(fake_slack)
    blocks = json.dumps(post.args["blocks"])
    assert "<!channel>" not in blocks
    assert "<b>" not in blocks
    assert "@here" not in blocks
    assert "&amp;" in blocks
    shown = json.dumps(post.args["blocks"], ensure_ascii=False)
    assert "&lt;!channel&gt;" in shown
    assert not re.search(r"(?<![\w\u200b])@here", shown)  # defused with a zero-width space


def test_customer_name_cannot_broadcast_in_the_notification_text(engine, fake_slack):
    queue(engine, response("r-1", customer_name="<!channel> Dana", account_name="<!here> Acme"))
    worker, _ = make_worker(engine, fake_slack)

    worker.drain()

    [post] = posts(fake_slack)
    # Slack reads mentions in mrkdwn and in the fallback text; plain_text shows them as typed.
    shown = [*mrkdwn_texts(post.args["blocks"]), post.args["text"]]
    assert any("Dana" in text for text in shown)
    for text in shown:
        assert "<!channel>" not in text
        assert "<!here>" not in text


def test_owner_lookup_waits_for_a_busy_sqlite_writer(engine, fake_slack):
    if engine.dialect.name != "sqlite":
        pytest.skip("about SQLite's single writer")
    [stored] = queue(engine, response("r-1"))
    worker, _ = make_worker(engine, fake_slack)

    # Another writer (the intake writer, in the running bot) holds the lock for a moment.
    locked, release = threading.Event(), threading.Event()

    def hold_write_lock() -> None:
        with engine.connect() as conn:
            conn.info["begin"] = "BEGIN IMMEDIATE"
            with conn.begin():
                locked.set()
                release.wait(5)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    try:
        assert locked.wait(5)
        threading.Timer(0.3, release.set).start()
        worker.run_once()
    finally:
        release.set()
        holder.join(5)

    assert card_row(engine, stored.case_id).status == "sent"
    assert len(fake_slack.messages_in("C0ALICE")) == 1
