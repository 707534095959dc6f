"""Slack's failures, one by one, against the outbox: each row fails on its own, token problems
pause delivery, ambiguous failures are checked before a re-post, permanent errors fail at once,
transient ones give up after a cap, and channels the bot is not in are joined or fallen back."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.rules import rules_from_mapping
from bot.delivery.outbox import METADATA_TYPE
from storage import cases
from storage import outbox as store
from tests.conftest import TEST_RULES
from tests.fake_slack import FakeSlack
from tests.test_outbox import (
    card_row,
    case_of,
    make_worker,
    outbox_rows,
    posts,
    queue,
    response,
    row,
)


def drain(worker, passes: int = 50) -> None:
    """Run passes until one sends nothing (a pass may stop early to re-read the queue)."""
    for _ in range(passes):
        if not worker.run_once():
            return


def bad_templates(tmp_path: Path) -> dict:
    """Rules whose Detractor call script names a variable no case has."""
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "detractor_call.j2").write_text("Hello {{ customer.no_such_field }}\n")
    return {**TEST_RULES, "templates_dir": str(folder)}


# ----------------------------------------------------------------- 1. one bad row


def test_a_broken_template_holds_back_only_its_own_card(engine, fake_slack, tmp_path):
    rules = rules_from_mapping(bad_templates(tmp_path))
    [detractor, passive, promoter] = queue(
        engine,
        response("detractor", score=5, account_id="a-d", arr=900_000),
        response("passive", score=8, account_id="a-p", arr=500_000),
        response("promoter", score=10, account_id="a-m", arr=100_000),
        rules=rules,
    )
    worker, clock = make_worker(engine, fake_slack, rules=rules)

    drain(worker)

    assert len(posts(fake_slack)) == 2
    assert card_row(engine, passive.case_id).status == "sent"
    assert card_row(engine, promoter.case_id).status == "sent"
    stuck = card_row(engine, detractor.case_id)
    assert (stuck.status, stuck.attempts) == ("pending", 1)
    assert stuck.last_error == "UndefinedError: 'customer' is undefined"
    assert stuck.next_attempt_at > clock.now


def test_a_dropped_directory_lookup_defers_that_row_only(engine, fake_slack):
    [by_email, by_id] = queue(
        engine,
        response("email-owner", account_id="a-1", arr=900_000, owner="new@example.com"),
        response("id-owner", account_id="a-2", arr=100_000, owner="U0BOB"),
    )
    fake_slack.users["new@example.com"] = "U0NEW"
    fake_slack.drop_next("users.lookupByEmail", count=3)  # the request and the SDK's 2 retries
    worker, clock = make_worker(engine, fake_slack)

    drain(worker)

    assert card_row(engine, by_id.case_id).status == "sent"
    waiting = card_row(engine, by_email.case_id)
    assert waiting.status == "pending"
    assert waiting.last_error in ("RemoteDisconnected", "URLError", "ConnectionResetError")
    clock.advance(60)
    drain(worker)
    assert card_row(engine, by_email.case_id).status == "sent"


# ----------------------------------------------------------------- 2. the token


def _break_token(fake: FakeSlack, code: str) -> None:
    if code == "invalid_auth":
        fake.token = "xoxb-rotated"
    elif code == "missing_scope":
        fake.scopes.discard("chat:write")
    else:
        fake.token_error = code


def _mend_token(fake: FakeSlack) -> None:
    fake.token = "xoxb-test"
    fake.token_error = None
    fake.scopes.add("chat:write")


@pytest.mark.parametrize(
    "code", ["invalid_auth", "token_revoked", "account_inactive", "not_authed", "missing_scope"]
)
def test_a_token_problem_pauses_delivery_and_resumes_by_itself(engine, fake_slack, code, caplog):
    queue(
        engine,
        response("r-1", account_id="a-1", owner="U0ALICE"),
        response("r-2", account_id="a-2", owner="U0BOB"),
        response("r-3", account_id="a-3", owner="U0CAROL"),
    )
    _break_token(fake_slack, code)
    worker, clock = make_worker(engine, fake_slack)

    with caplog.at_level(logging.INFO, logger="bot.delivery"):
        for _ in range(5):
            drain(worker)
            clock.advance(1)

    rows = outbox_rows(engine)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    assert worker.state().paused == code
    assert f"outbox.paused error={code}" in caplog.text
    tried = [c for c in fake_slack.calls if c.method in ("chat.postMessage", "users.lookupByEmail")]
    assert len(tried) == 1, "one row met the problem, the others were never tried"
    probes = len(fake_slack.calls_to("auth.test"))
    assert 1 <= probes <= 4, "auth.test is probed with backoff, not every pass"

    _mend_token(fake_slack)
    clock.advance(600)
    drain(worker)

    assert worker.state().paused is None
    assert {r.status for r in outbox_rows(engine)} == {"sent"}
    assert len(posts(fake_slack)) == 3
    assert "outbox.resumed" in caplog.text


# ----------------------------------------------------------------- 4. ambiguous failures


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"error": "fatal_error"},
        {"error": "internal_error"},
        {"error": "service_unavailable"},
        {"error": "request_timeout"},
        {"drop": True},
    ],
    ids=lambda f: str(next(iter(f.values()))),
)
def test_an_ambiguous_failure_is_checked_before_any_re_post(engine, fake_slack, fault):
    [stored] = queue(engine, response("r-1"))
    if fault.get("drop"):
        fake_slack.drop_next("chat.postMessage", after=True)
    else:
        fake_slack.fail_after_next("chat.postMessage", **fault)
    worker, clock = make_worker(engine, fake_slack)

    for _ in range(4):
        drain(worker)
        clock.advance(120)

    [message] = fake_slack.messages_in("C0ALICE")
    delivery = card_row(engine, stored.case_id)
    assert (delivery.status, delivery.ts) == ("sent", message["ts"])
    assert case_of(engine, stored.case_id).card_ts == message["ts"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert fake_slack.calls_to("conversations.history"), "the metadata lookup ran"


def test_an_ambiguous_failure_that_did_not_post_is_posted_after_the_check(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    fake_slack.fail_next("chat.postMessage", status=500, count=3)
    worker, clock = make_worker(engine, fake_slack)

    drain(worker)
    assert fake_slack.messages_in("C0ALICE") == []
    assert len(fake_slack.failures) == 1, "the client does not re-post after a 500"
    for _ in range(6):
        clock.advance(120)
        drain(worker)

    [message] = fake_slack.messages_in("C0ALICE")
    assert card_row(engine, stored.case_id).ts == message["ts"]
    history = fake_slack.calls_to("conversations.history")
    first_post = next(c for c in fake_slack.calls_to("chat.postMessage") if c.ok)
    assert history and history[0].at < first_post.at, "checked before posting again"


def test_idempotent_calls_keep_the_clients_own_retries(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)
    drain(worker)
    cases.claim(engine, stored.case_id, actor="U0ALICE", now=clock.now)
    fake_slack.fail_next("chat.update", status=503)

    drain(worker)

    [update] = [r for r in outbox_rows(engine) if r.kind == "card_update"]
    assert (update.status, update.attempts) == ("sent", 1)  # retried inside the one attempt
    assert [f.method for f in fake_slack.failures] == ["chat.update"]


# ----------------------------------------------------------------- 5. permanent and capped


POST_PERMANENT = [
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "messages_tab_disabled",
    "cannot_reply_to_message",
    "invalid_blocks_format",
    "msg_blocks_too_long",
    "no_text",
    "team_access_not_granted",
    "ekm_access_denied",
    "invalid_arguments",
    "invalid_metadata_format",
    "metadata_too_large",
]


@pytest.mark.parametrize("code", POST_PERMANENT)
def test_permanent_post_errors_fail_at_once(engine, fake_slack, code):
    raw = {**TEST_RULES, "people": {**TEST_RULES["people"], "default_channel": ""}}
    rules = rules_from_mapping(raw)
    [stored] = queue(engine, response("r-1", owner="U0BOB"), rules=rules)  # a DM card
    fake_slack.error_next("chat.postMessage", code)
    worker, clock = make_worker(engine, fake_slack, rules=rules)

    drain(worker)
    clock.advance(3600)
    drain(worker)

    delivery = card_row(engine, stored.case_id)
    assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", code, 1)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize(
    "code", ["is_inactive", "edit_window_closed", "posting_to_channel_denied", "block_mismatch"]
)
def test_permanent_update_errors_fail_at_once(engine, fake_slack, code):
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)
    drain(worker)
    cases.claim(engine, stored.case_id, actor="U0ALICE", now=clock.now)
    fake_slack.error_next("chat.update", code)

    drain(worker)
    clock.advance(3600)
    drain(worker)

    [update] = [r for r in outbox_rows(engine) if r.kind == "card_update"]
    assert (update.status, update.last_error) == ("failed", code)
    assert len(fake_slack.calls_to("chat.update")) == 1


def test_transient_errors_give_up_after_a_cap_and_say_why(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    fake_slack.error_next("chat.postMessage", "message_limit_exceeded", count=1000)
    worker, clock = make_worker(engine, fake_slack)

    for _ in range(40):
        drain(worker)
        clock.advance(301)

    delivery = card_row(engine, stored.case_id)
    assert delivery.status == "failed"
    assert "message_limit_exceeded" in delivery.last_error
    assert "attempts" in delivery.last_error
    tries = len(fake_slack.calls_to("chat.postMessage"))
    assert tries == delivery.attempts
    assert 3 <= tries < 40


# ----------------------------------------------------------------- 6. channels


def test_not_in_channel_joins_a_public_channel_and_posts_once(engine, fake_slack):
    fake_slack.outside_channels = {"C0ALICE"}
    fake_slack.scopes.discard("chat:write.public")
    [stored] = queue(engine, response("r-1"))
    worker, _ = make_worker(engine, fake_slack)

    drain(worker)

    assert fake_slack.joined == {"C0ALICE"}
    [message] = fake_slack.messages_in("C0ALICE")
    assert card_row(engine, stored.case_id).ts == message["ts"]


@pytest.mark.parametrize("where", ["missing", "private"])
def test_a_card_its_channel_refuses_goes_to_the_default_channel_saying_why(
    engine, fake_slack, where
):
    if where == "missing":
        fake_slack.missing_channels = {"C0ALICE"}
        code = "channel_not_found"
    else:
        fake_slack.private_channels = {"C0ALICE"}
        code = "not_in_channel"
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)

    drain(worker)
    clock.advance(5)
    drain(worker)

    assert fake_slack.messages_in("C0ALICE") == []
    [card] = fake_slack.messages_in("C0DEFAULT")
    shown = json.dumps(card["blocks"])
    assert "C0ALICE" in shown and code in shown
    delivery = card_row(engine, stored.case_id)
    assert (delivery.status, delivery.channel) == ("sent", "C0DEFAULT")
    assert case_of(engine, stored.case_id).card_channel == "C0DEFAULT"

    # The note stays on the card when it is re-rendered.
    cases.claim(engine, stored.case_id, actor="U0ALICE", now=clock.now)
    drain(worker)
    [update] = fake_slack.calls_to("chat.update")
    assert "C0ALICE" in json.dumps(update.args["blocks"])


def test_an_alert_to_a_missing_channel_fails_visibly(engine, fake_slack):
    fake_slack.missing_channels = {"C0PRODUCT"}
    queue(engine, response("r-1", comment="The export feature is broken."))
    worker, _ = make_worker(engine, fake_slack)

    drain(worker)

    [alert] = [r for r in outbox_rows(engine) if r.kind == "alert"]
    assert (alert.status, alert.last_error) == ("failed", "channel_not_found")
    assert store.counts(engine)["failed"] == 1


# ----------------------------------------------------------------- 10. smaller


def test_each_card_update_has_fresh_block_ids(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    worker, clock = make_worker(engine, fake_slack)
    drain(worker)
    cases.claim(engine, stored.case_id, actor="U0ALICE", now=clock.now)
    drain(worker)
    cases.log_contact(
        engine,
        stored.case_id,
        actor="U0ALICE",
        how="phone",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=clock.now,
    )
    drain(worker)

    [card] = posts(fake_slack)[:1]
    updates = fake_slack.calls_to("chat.update")
    assert len(updates) == 2
    ids = [
        {b["block_id"] for b in call.args["blocks"] if "block_id" in b} for call in [card, *updates]
    ]
    assert ids[0] and ids[1] and ids[2]
    assert not ids[0] & ids[1] and not ids[1] & ids[2] and not ids[0] & ids[2]


def test_links_come_from_chat_get_permalink_once_per_message(engine, fake_slack):
    [stored] = queue(engine, response("r-1", score=2, comment="We will cancel.", arr=900_000))
    worker, _ = make_worker(engine, fake_slack)

    drain(worker)

    [card] = fake_slack.messages_in("C0ALICE")
    asks = fake_slack.calls_to("chat.getPermalink")
    assert [(c.args["channel"], c.args["message_ts"]) for c in asks] == [("C0ALICE", card["ts"])]
    alerts = [posts(fake_slack)[i] for i in (1, 2)]
    link = f"https://fake.slack.com/archives/C0ALICE/p{card['ts'].replace('.', '')}"
    assert all(link in json.dumps(a.args["blocks"]) for a in alerts)
    assert Counter(c.args["channel"] for c in posts(fake_slack))["C0ALICE"] == 1
    assert stored.case_id


def test_outcomes_are_compare_and_set_on_sending(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    delivery = card_row(engine, stored.case_id)
    worker, clock = make_worker(engine, fake_slack)
    drain(worker)
    sent = row(engine, delivery.id)

    loaded = store.load(engine, sent.id)
    assert not store.mark_sent(
        engine, loaded, owner=None, channel="C0OTHER", ts="1.2", now=clock.now
    )
    assert not store.defer(engine, sent.id, owner=None, until=clock.now, error="late")
    assert not store.fail(engine, sent.id, owner=None, error="late")
    after = row(engine, delivery.id)
    assert (after.status, after.channel, after.ts) == ("sent", "C0ALICE", sent.ts)


def test_backoff_is_jittered(engine, fake_slack):
    queue(
        engine,
        *[response(f"r-{i}", account_id=f"a-{i}", owner=f"U0OWNER{i}") for i in range(6)],
    )
    raw = {**TEST_RULES, "people": {**TEST_RULES["people"], "default_channel": ""}}
    fake_slack.error_next("chat.postMessage", "message_limit_exceeded", count=6)
    worker, clock = make_worker(
        engine, fake_slack, rules=rules_from_mapping(raw), rng=random.random
    )

    drain(worker)

    waits = {(r.next_attempt_at - clock.now).total_seconds() for r in outbox_rows(engine)}
    assert len(waits) > 1
    assert all(0 < w <= 2 for w in waits)
    assert timedelta(seconds=max(waits)) <= timedelta(seconds=2)


def test_metadata_names_the_row(engine, fake_slack):
    [stored] = queue(engine, response("r-1"))
    worker, _ = make_worker(engine, fake_slack)
    drain(worker)
    [post] = posts(fake_slack)
    assert post.args["metadata"] == {
        "event_type": METADATA_TYPE,
        "event_payload": {"delivery": card_row(engine, stored.case_id).id},
    }
