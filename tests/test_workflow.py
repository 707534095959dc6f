"""The owner's workflow end to end: signed Slack requests through the real app, the fake Slack
answering, and the card, its thread and the database checked after every step."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from blocks.ids import CardAction, ModalAction, ModalBlock, ModalCallback
from blocks.modals import private_metadata
from storage.db import begin_immediate
from storage.models import Activity, EscalationStep, FollowUpCase, OutboxMessage
from tests.conftest import (
    block_action,
    post_slack,
    post_survey,
    services_of,
    survey_body,
    view_submission,
)

TODAY = date.today()


def radio(value: str) -> dict:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def select_option(value: str) -> dict:
    return {"type": "static_select", "selected_option": {"value": value}}


def text(value: str | None) -> dict:
    return {"type": "plain_text_input", "value": value}


def datepicker(day: date | None) -> dict:
    return {"type": "datepicker", "selected_date": day.isoformat() if day else None}


def contact_values(outcome: str = "reached", follow_up: date | None = None) -> dict:
    return {
        ModalBlock.CONTACT_HOW: {ModalAction.CONTACT_HOW: radio("phone")},
        ModalBlock.CONTACT_OUTCOME: {ModalAction.CONTACT_OUTCOME: radio(outcome)},
        ModalBlock.CONTACT_NOTES: {ModalAction.CONTACT_NOTES: text("Spoke about invoices")},
        ModalBlock.NEXT_FOLLOW_UP: {ModalAction.NEXT_FOLLOW_UP: datepicker(follow_up)},
    }


def root_cause_values(cause: str = "Billing errors", escalation: str = "none") -> dict:
    return {
        ModalBlock.CAUSE: {ModalAction.CAUSE: select_option(cause)},
        ModalBlock.CAUSE_NOTES: {ModalAction.CAUSE_NOTES: text("Invoice sent twice")},
        ModalBlock.ACTION_ITEMS: {ModalAction.ACTION_ITEMS: text("Refund by Friday")},
        ModalBlock.NEXT_FOLLOW_UP: {ModalAction.NEXT_FOLLOW_UP: datepicker(None)},
        ModalBlock.ESCALATION: {ModalAction.ESCALATION: radio(escalation)},
    }


def resolve_values(satisfied: str = "yes", cause: str | None = None) -> dict:
    values = {
        ModalBlock.SUMMARY: {ModalAction.SUMMARY: text("Refunded and apologised")},
        ModalBlock.SATISFIED: {ModalAction.SATISFIED: radio(satisfied)},
        ModalBlock.RESURVEY_ON: {ModalAction.RESURVEY_ON: datepicker(TODAY + timedelta(days=30))},
    }
    if cause:
        values[ModalBlock.CAUSE] = {ModalAction.CAUSE: select_option(cause)}
    return values


def reassign_values(user: str) -> dict:
    return {
        ModalBlock.NEW_OWNER: {
            ModalAction.NEW_OWNER: {"type": "users_select", "selected_user": user}
        }
    }


def case_row(client, case_id: int) -> FollowUpCase:
    with Session(services_of(client).engine) as session:
        return session.get(FollowUpCase, case_id)


def card_at(fake_slack, channel: str, ts: str) -> dict:
    """The card message as the fake Slack holds it now (updates included)."""
    for message in fake_slack.messages_in(channel):
        if message["ts"] == ts:
            return message
    raise AssertionError(f"no message {ts} in {channel}")


def card_json(fake_slack, channel: str, ts: str) -> str:
    return json.dumps(card_at(fake_slack, channel, ts).get("blocks") or [])


def wait_until(predicate, timeout: float = 5.0) -> None:
    """Poll until `predicate` holds; listeners run after Slack's request is acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except AssertionError:
            pass
        time.sleep(0.02)
    assert predicate(), "condition not met in time"


def new_case(client, fake_slack, **overrides) -> tuple[int, str, str]:
    """Post a response and wait for its card; returns case id, card channel and ts."""
    answer = post_survey(client, survey_body(**overrides))
    assert answer.status_code == 202, answer.text
    case_id = answer.json()["case_id"]
    wait_until(lambda: case_row(client, case_id).card_ts is not None)
    case = case_row(client, case_id)
    return case_id, case.card_channel, case.card_ts


def click(client, action: str, case_id: int, user: str, channel: str, ts: str):
    answer = post_slack(
        client, block_action(action, str(case_id), user=user, channel=channel, ts=ts)
    )
    assert answer.status_code == 200
    return answer


def submit(client, callback: str, values: dict, case_id: int, user: str, channel: str, ts: str):
    meta = private_metadata(case_id, channel=channel, ts=ts)
    return post_slack(client, view_submission(callback, values, private_metadata=meta, user=user))


def thread_lines(fake_slack, channel: str, ts: str) -> list[str]:
    return [
        m["text"]
        for m in fake_slack.messages_in(channel)
        if m.get("thread_ts") == ts and m["ts"] != ts
    ]


def release_backoff(engine) -> None:
    """Make deferred deliveries due now, instead of sleeping through their backoff."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            conn.execute(
                sa.update(OutboxMessage.__table__)
                .where(OutboxMessage.__table__.c.status == "pending")
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )


@pytest.fixture
def quick_client(make_client):
    """The app with per-channel pacing off, so a test's messages go out at once."""
    client = make_client()
    services_of(client).outbox.channel_interval = 0.0
    return client


def test_a_detractor_followed_up_from_the_card(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    assert channel == "C0ALICE"
    card = card_at(fake_slack, channel, ts)
    labels = [
        e["text"]["text"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Claim", "Log contact", "Root cause", "Resolve", "Reassign"]
    assert "Hi Dana" in json.dumps(card["blocks"])  # the call script

    # Claim: the first click wins, the card and its thread say so.
    click(client, CardAction.CLAIM, case_id, "U0ALICE", channel, ts)
    wait_until(lambda: case_row(client, case_id).claimed_by == "U0ALICE")
    wait_until(lambda: "<@U0ALICE>" in card_json(fake_slack, channel, ts))
    wait_until(lambda: len(thread_lines(fake_slack, channel, ts)) == 1)

    # A second claim (or Slack's retry) changes nothing and says who has it.
    click(client, CardAction.CLAIM, case_id, "U0MANAGER", channel, ts)
    wait_until(lambda: fake_slack.calls_to("chat.postEphemeral"))
    note = fake_slack.calls_to("chat.postEphemeral")[-1].args
    assert note["user"] == "U0MANAGER"
    assert "Already claimed by <@U0ALICE>" in note["text"]
    assert case_row(client, case_id).claimed_by == "U0ALICE"

    # Log contact: the modal opens straight from the click; a reached contact counts for SLA.
    click(client, CardAction.LOG_CONTACT, case_id, "U0ALICE", channel, ts)
    opened = fake_slack.wait_for("views.open")[-1].args
    assert opened["view"]["callback_id"] == ModalCallback.LOG_CONTACT
    follow_up = TODAY + timedelta(days=3)
    answer = submit(
        client,
        ModalCallback.LOG_CONTACT,
        contact_values(follow_up=follow_up),
        case_id,
        "U0ALICE",
        channel,
        ts,
    )
    assert answer.status_code == 200
    assert not answer.content or answer.json().get("response_action") != "errors"
    case = case_row(client, case_id)
    assert case.status == "contacted"
    assert case.first_contact_at is not None
    assert case.next_follow_up_on == follow_up

    # Root cause with a product escalation: an internal ticket with a link to the card.
    click(client, CardAction.ROOT_CAUSE, case_id, "U0ALICE", channel, ts)
    answer = submit(
        client,
        ModalCallback.ROOT_CAUSE,
        root_cause_values(escalation="product"),
        case_id,
        "U0ALICE",
        channel,
        ts,
    )
    assert answer.status_code == 200
    assert case_row(client, case_id).root_cause == "Billing errors"
    wait_until(lambda: fake_slack.messages_in("C0PRODUCT"))
    ticket = json.dumps(fake_slack.messages_in("C0PRODUCT")[-1])
    assert "Billing errors" in ticket
    assert f"/archives/{channel}/p{ts.replace('.', '')}" in ticket

    # Resolve: refused for someone outside the case, done by the owner.
    click(client, CardAction.RESOLVE, case_id, "U0STRANGER", channel, ts)
    wait_until(
        lambda: any(
            c.args["user"] == "U0STRANGER" for c in fake_slack.calls_to("chat.postEphemeral")
        )
    )
    opened_before = len(fake_slack.calls_to("views.open"))
    assert case_row(client, case_id).status == "contacted"
    click(client, CardAction.RESOLVE, case_id, "U0ALICE", channel, ts)
    assert len(fake_slack.wait_for("views.open", count=opened_before + 1)) == opened_before + 1
    answer = submit(
        client, ModalCallback.RESOLVE, resolve_values(), case_id, "U0ALICE", channel, ts
    )
    assert answer.status_code == 200
    case = case_row(client, case_id)
    assert case.status == "resolved"
    assert case.customer_satisfied is True
    assert case.resurvey_on == TODAY + timedelta(days=30)

    # The card shows the final state with no buttons; the thread tells the story.
    wait_until(
        lambda: not any(b["type"] == "actions" for b in card_at(fake_slack, channel, ts)["blocks"])
    )
    wait_until(lambda: len(thread_lines(fake_slack, channel, ts)) >= 4)
    with Session(services_of(client).engine) as session:
        actions = session.exec(
            select(Activity.action).where(Activity.case_id == case_id).order_by(Activity.id)
        ).all()
        ladder = session.exec(select(EscalationStep).where(EscalationStep.kind == "ladder")).all()
    assert actions == ["received", "claimed", "contact_logged", "root_cause_logged", "resolved"]
    assert all(step.cancelled_at is not None for step in ladder)  # the claim stopped the ladder


def test_modal_fields_are_validated(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    values = contact_values()
    values[ModalBlock.CONTACT_OUTCOME] = {
        ModalAction.CONTACT_OUTCOME: {"type": "radio_buttons", "selected_option": None}
    }
    answer = submit(client, ModalCallback.LOG_CONTACT, values, case_id, "U0ALICE", channel, ts)
    body = answer.json()
    assert body["response_action"] == "errors"
    assert ModalBlock.CONTACT_OUTCOME in body["errors"]
    assert case_row(client, case_id).contact_count == 0


def test_resolving_needs_a_root_cause(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    answer = submit(
        client, ModalCallback.RESOLVE, resolve_values(), case_id, "U0ALICE", channel, ts
    )
    assert answer.json()["response_action"] == "errors"
    assert case_row(client, case_id).status == "open"
    answer = submit(
        client,
        ModalCallback.RESOLVE,
        resolve_values(cause="Product bug"),
        case_id,
        "U0ALICE",
        channel,
        ts,
    )
    assert answer.status_code == 200
    assert case_row(client, case_id).status == "resolved"


def test_reassign_dms_the_new_owner_with_the_link(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    click(client, CardAction.REASSIGN, case_id, "U0MANAGER", channel, ts)
    assert fake_slack.wait_for("views.open")[-1].args["view"]["callback_id"] == (
        ModalCallback.REASSIGN
    )
    answer = submit(
        client, ModalCallback.REASSIGN, reassign_values("U0BOB"), case_id, "U0MANAGER", channel, ts
    )
    assert answer.status_code == 200
    assert case_row(client, case_id).owner_user_id == "U0BOB"
    wait_until(lambda: fake_slack.messages_in("U0BOB"))
    dm = json.dumps(fake_slack.messages_in("U0BOB")[-1])
    assert f"p{ts.replace('.', '')}" in dm
    wait_until(lambda: "<@U0BOB>" in card_json(fake_slack, channel, ts))


def test_reassign_and_resolve_are_refused_to_others(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    answer = submit(
        client, ModalCallback.REASSIGN, reassign_values("U0EVE"), case_id, "U0STRANGER", channel, ts
    )
    assert answer.json()["response_action"] == "errors"
    assert case_row(client, case_id).owner_user_id == "U0ALICE"
    click(client, CardAction.REASSIGN, case_id, "U0STRANGER", channel, ts)
    wait_until(lambda: fake_slack.calls_to("chat.postEphemeral"))
    assert "Only the case owner" in fake_slack.calls_to("chat.postEphemeral")[-1].args["text"]
    assert not fake_slack.calls_to("views.open")


def test_passive_card_is_lighter_and_done_closes_it(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack, score=8, comment="Fine, a bit slow")
    card = card_at(fake_slack, channel, ts)
    labels = [
        e["text"]["text"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Log contact", "Log insight", "Done"]
    click(client, CardAction.DONE, case_id, "U0ALICE", channel, ts)
    wait_until(lambda: case_row(client, case_id).status == "resolved")
    wait_until(
        lambda: not any(b["type"] == "actions" for b in card_at(fake_slack, channel, ts)["blocks"])
    )


def test_double_clicks_and_retries_claim_once(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    for _ in range(3):
        click(client, CardAction.CLAIM, case_id, "U0ALICE", channel, ts)

    def claims() -> int:
        with Session(services_of(client).engine) as session:
            query = select(Activity).where(
                Activity.case_id == case_id, Activity.action == "claimed"
            )
            return len(session.exec(query).all())

    wait_until(lambda: claims() == 1)
    wait_until(lambda: len(fake_slack.calls_to("chat.postEphemeral")) == 2)
    assert claims() == 1


def test_card_updates_survive_a_slack_outage(quick_client, fake_slack):
    client = quick_client
    case_id, channel, ts = new_case(client, fake_slack)
    fake_slack.down = True
    click(client, CardAction.CLAIM, case_id, "U0ALICE", channel, ts)
    # Stored whatever Slack does.
    wait_until(lambda: case_row(client, case_id).claimed_by == "U0ALICE")
    time.sleep(0.3)
    fake_slack.down = False
    worker = services_of(client).outbox
    release_backoff(services_of(client).engine)
    worker.wake()
    wait_until(lambda: "claimed" in card_json(fake_slack, channel, ts), timeout=10)


def test_app_home_lists_the_viewers_open_cases(quick_client, fake_slack):
    client = quick_client
    new_case(client, fake_slack)
    new_case(
        client,
        fake_slack,
        response_id="r-2",
        score=6,
        comment="Meh",
        account={"id": "a-2", "name": "Big Co", "arr": 900000, "owner": "U0ALICE"},
    )
    event = {
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": "U0ALICE",
            "channel": "D0ALICE",
            "tab": "home",
            "event_ts": "1700000000.1",
        },
    }
    body = json.dumps(event)
    from tests.conftest import slack_headers

    headers = {**slack_headers(body), "content-type": "application/json"}
    assert client.post("/slack/events", content=body, headers=headers).status_code == 200
    published = fake_slack.wait_for("views.publish")[-1].args
    assert published["user_id"] == "U0ALICE"
    home = json.dumps(published["view"])
    assert home.index("Big Co") < home.index("Acme")  # both High: by ARR


def test_app_home_empty_state(quick_client, fake_slack):
    event = {
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "type": "event_callback",
        "event_id": "Ev2",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": "U0NOBODY",
            "channel": "D0X",
            "tab": "home",
            "event_ts": "1700000000.2",
        },
    }
    body = json.dumps(event)
    from tests.conftest import slack_headers

    headers = {**slack_headers(body), "content-type": "application/json"}
    quick_client.post("/slack/events", content=body, headers=headers)
    view = json.dumps(fake_slack.wait_for("views.publish")[-1].args["view"])
    assert "48" in view


def test_a_429_storm_delays_but_loses_and_doubles_nothing(quick_client, fake_slack):
    """Pacing off and Slack enforcing one post a second per channel: every card arrives once."""
    client = quick_client
    fake_slack.enforce_channel_rate(per_second=5.0, burst=1)
    ids = []
    for i in range(8):
        body = survey_body(f"r-{i}", customer={"id": f"c-{i}", "name": f"Customer {i}"})
        ids.append(post_survey(client, body).json()["case_id"])
    engine = services_of(client).engine

    def posted() -> int:
        with Session(engine) as session:
            query = select(FollowUpCase).where(FollowUpCase.card_ts.is_not(None))
            return len(session.exec(query).all())

    worker = services_of(client).outbox

    def skip_backoff() -> bool:  # Retry-After is honoured; the test just doesn't wait for it
        release_backoff(engine)
        worker.wake()
        return posted() == len(ids)

    wait_until(skip_backoff, timeout=20)
    assert fake_slack.rate_limited > 0
    cards = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if c.args["channel"] == "C0ALICE" and "thread_ts" not in c.args
    ]
    assert len(cards) == len(ids)
