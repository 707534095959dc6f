"""After a crash or an ambiguous answer: found, not found, or unknown, and never a second post
of a message Slack may have. Dead workers' rows are taken over at once on their own host, and
within a lease elsewhere."""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

import pytest
import yaml
from slack_sdk import WebClient

from bot.app.cli import main
from bot.delivery.outbox import MAX_CHECKS, METADATA_TYPE
from storage import outbox as store
from storage import outbox_leases as leases
from tests.conftest import BOT_TOKEN
from tests.fake_slack import DEFAULT_SCOPES, FakeSlack
from tests.test_outbox import (
    ELSEWHERE,
    Clock,
    card_row,
    make_worker,
    outbox_rows,
    posts,
    queue,
    response,
    row,
)

CHURN = {"score": 2, "comment": "We will cancel.", "arr": 900_000}


def post_as_the_bot(fake: FakeSlack, channel: str, delivery_id: int) -> str:
    """What a send that reached Slack before the crash left there: a message with its row id."""
    poster = WebClient(token=BOT_TOKEN, base_url=fake.url)
    poster.chat_postMessage(channel=channel, text="chatter")
    answer = poster.chat_postMessage(
        channel=channel,
        text="the message",
        metadata={"event_type": METADATA_TYPE, "event_payload": {"delivery": delivery_id}},
    )
    return answer["ts"]


def the_row(engine, kind: str, channel: str):
    return next(r for r in outbox_rows(engine) if r.kind == kind and r.channel == channel)


def test_the_manifest_grants_what_reconcile_reads():
    with open("manifest.yml") as handle:
        scopes = set(yaml.safe_load(handle)["oauth_config"]["scopes"]["bot"])
    assert {"im:history", "channels:history", "groups:history", "channels:join"} <= scopes
    assert scopes == DEFAULT_SCOPES, "the fake grants what the manifest asks for"


def test_a_dm_whose_history_cannot_be_read_is_never_posted_blindly(engine, fake_slack):
    fake_slack.scopes.discard("im:history")
    queue(engine, response("r-1", **CHURN))
    alert = the_row(engine, "alert", "U0CXLEAD")
    worker, clock = make_worker(engine, fake_slack)
    assert store.claim(engine, alert.id, owner=ELSEWHERE, now=clock.now - timedelta(minutes=5))
    post_as_the_bot(fake_slack, "U0CXLEAD", alert.id)

    worker.drain()

    unknown = row(engine, alert.id)
    assert (unknown.status, unknown.last_error) == ("sending", "unverified: missing_scope")
    assert unknown.lease_owner is None and unknown.checks == 1
    worker.drain()  # not due again yet: no second look
    assert len(fake_slack.calls_to("conversations.history")) == 1

    for _ in range(MAX_CHECKS + 2):
        clock.advance(301)
        worker.drain()

    failed = row(engine, alert.id)
    assert (failed.status, failed.last_error) == ("failed", "unverified: missing_scope")
    assert len(fake_slack.messages_in("U0CXLEAD")) == 2  # the chatter and the one message
    assert len(fake_slack.calls_to("conversations.history")) == MAX_CHECKS


def test_an_unverified_row_is_sent_again_only_when_asked(engine, fake_slack, monkeypatch, db_url):
    fake_slack.scopes.discard("im:history")
    queue(engine, response("r-1", **CHURN))
    alert = the_row(engine, "alert", "U0CXLEAD")
    worker, clock = make_worker(engine, fake_slack)
    assert store.claim(engine, alert.id, owner=ELSEWHERE, now=clock.now - timedelta(minutes=5))
    for _ in range(MAX_CHECKS + 2):
        worker.drain()
        clock.advance(301)
    assert row(engine, alert.id).status == "failed"

    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["outbox", "retry", "--failed", "--channel", "U0CXLEAD"]) == 0
    worker.drain()

    assert row(engine, alert.id).status == "sent"
    assert len(fake_slack.messages_in("U0CXLEAD")) == 1


@pytest.mark.parametrize(
    ("kind", "channel"), [("card", "C0ALICE"), ("alert", "U0CXLEAD")], ids=["channel", "dm"]
)
def test_with_history_scopes_a_crashed_send_is_found(engine, fake_slack, kind, channel):
    queue(engine, response("r-1", **CHURN))
    delivery = the_row(engine, kind, channel)
    worker, clock = make_worker(engine, fake_slack)
    assert store.claim(engine, delivery.id, owner=ELSEWHERE, now=clock.now - timedelta(minutes=5))
    ts = post_as_the_bot(fake_slack, channel, delivery.id)

    worker.drain()

    assert (row(engine, delivery.id).status, row(engine, delivery.id).ts) == ("sent", ts)
    assert len(fake_slack.messages_in(channel)) == 2
    again = [
        c
        for c in posts(fake_slack)
        if c.args.get("metadata", {}).get("event_payload") == {"delivery": delivery.id}
    ]
    assert len(again) == 1, "only the message from before the crash"


def test_a_public_channel_the_bot_is_not_in_is_joined_to_be_read(engine, fake_slack):
    fake_slack.outside_channels = {"C0ALICE"}  # posted to through chat:write.public
    [stored] = queue(engine, response("r-1"))
    card = card_row(engine, stored.case_id)
    worker, clock = make_worker(engine, fake_slack)
    assert store.claim(engine, card.id, owner=ELSEWHERE, now=clock.now - timedelta(minutes=5))
    ts = post_as_the_bot(fake_slack, "C0ALICE", card.id)

    worker.drain()

    assert fake_slack.joined == {"C0ALICE"}
    assert (card_row(engine, stored.case_id).status, card_row(engine, stored.case_id).ts) == (
        "sent",
        ts,
    )
    assert len(fake_slack.messages_in("C0ALICE")) == 2


def test_a_private_channel_that_cannot_be_read_stays_unknown(engine, fake_slack):
    fake_slack.outside_channels = {"C0ALICE"}
    fake_slack.private_channels = {"C0ALICE"}
    [stored] = queue(engine, response("r-1"))
    card = card_row(engine, stored.case_id)
    worker, clock = make_worker(engine, fake_slack)
    assert store.claim(engine, card.id, owner=ELSEWHERE, now=clock.now - timedelta(minutes=5))

    worker.drain()

    after = card_row(engine, stored.case_id)
    assert (after.status, after.last_error) == ("sending", "unverified: not_in_channel")
    assert posts(fake_slack) == []


# ----------------------------------------------------------------- kill -9 at every step


DEAD = "{host}/999999999/deadbeef0000"  # this host, a pid that does not run


def dead_owner() -> str:
    from bot.delivery.leases import worker_name

    return DEAD.format(host=worker_name().split("/", 1)[0])


@pytest.mark.parametrize("step", ["claimed", "posted", "sent"])
@pytest.mark.parametrize(
    ("kind", "channel"), [("card", "C0ALICE"), ("alert", "U0CXLEAD")], ids=["channel", "dm"]
)
def test_a_restart_settles_a_dead_workers_row_at_once(engine, fake_slack, kind, channel, step):
    queue(engine, response("r-1", **CHURN))
    delivery = the_row(engine, kind, channel)
    clock = Clock()
    # The process died holding the row; its lease (6 s) has not even run out.
    assert store.claim(engine, delivery.id, owner=dead_owner(), now=clock.now)
    if step in ("posted", "sent"):
        ts = post_as_the_bot(fake_slack, channel, delivery.id)
    if step == "sent":
        loaded = store.load(engine, delivery.id)
        assert store.mark_sent(
            engine, loaded, owner=dead_owner(), channel=channel, ts=ts, now=clock.now
        )
    worker, _ = make_worker(engine, fake_slack, clock=clock)

    worker.drain()  # the first pass after the restart: no time has passed

    after = row(engine, delivery.id)
    assert after.status == "sent"
    ours = [
        m
        for m in fake_slack.messages_in(channel)
        if (m.get("metadata") or {}).get("event_payload") == {"delivery": delivery.id}
    ]
    assert len(ours) == 1
    assert after.ts == ours[0]["ts"]


def test_a_live_workers_row_is_left_alone_and_taken_over_when_its_lease_lapses(
    engine, fake_slack, caplog
):
    """Two replicas on different hosts: A dies mid-send after Slack stored the message."""
    [stored] = queue(engine, response("r-1"))
    clock = Clock()
    lease = timedelta(seconds=0.6)
    a, _ = make_worker(engine, fake_slack, clock=clock, name="host-a/100/aaaa")
    b, _ = make_worker(engine, fake_slack, clock=clock, name="host-b/200/bbbb")
    a.lease = b.lease = a.heartbeat.lease = lease
    a.heartbeat.start()
    hold = fake_slack.hold_next("chat.postMessage", after=True)
    sender = threading.Thread(target=a.drain)
    sender.start()
    try:
        assert hold.arrived.wait(5)
        b.drain()
        assert card_row(engine, stored.case_id).lease_owner == "host-a/100/aaaa"
        assert fake_slack.calls_to("conversations.history") == []

        a.heartbeat.stop()  # A is gone: no heartbeat any more
        clock.advance(1)
        with caplog.at_level(logging.INFO, logger="bot.delivery"):
            b.drain()
        card = card_row(engine, stored.case_id)
        [message] = fake_slack.messages_in("C0ALICE")
        assert (card.status, card.ts) == ("sent", message["ts"])
    finally:
        hold.release()
        sender.join(10)
    assert "outbox.lease_lost" in caplog.text  # A's late answer changed nothing
    assert len(fake_slack.messages_in("C0ALICE")) == 1
    assert card_row(engine, stored.case_id).ts == message["ts"]


def test_holders_and_dead_release(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    card = card_row(engine, stored.case_id)
    clock = Clock()
    assert store.claim(engine, card.id, owner=dead_owner(), now=clock.now)
    assert leases.holders(engine) == [dead_owner()]
    assert leases.release_dead(engine, owners=[dead_owner()], now=clock.now) == 1
    assert row(engine, card.id).lease_owner is None
    assert leases.holders(engine) == []


def test_who_counts_as_dead():
    from bot.delivery.leases import is_dead, worker_name

    me = worker_name()
    host, pid, _ = me.split("/")
    assert not is_dead(me, me)
    assert is_dead(f"{host}/{pid}/an0ther0run0", me)  # an earlier run with this pid
    assert is_dead(f"{host}/999999999/abc", me)  # no such process here
    assert not is_dead(f"{host}/{os.getppid()}/abc", me)  # a live process here
    assert not is_dead("elsewhere/999999999/abc", me)  # another host: its lease decides
    assert not is_dead("garbage", me)
