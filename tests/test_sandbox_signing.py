"""What the sandbox sends the app for clicks, submissions, commands and Home, signed like Slack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.interact import TROUBLE, Interactions, Refused, signature, signed_headers
from bot.app.sandbox.payloads import REQUIRED
from bot.app.sandbox.people import Directory
from bot.app.sandbox.slack_api import SANDBOX_TOKEN, SlackApi
from bot.app.sandbox.store import SlackState

SECRET = "0123456789abcdef0123456789abcdef"
CARD = [
    {
        "type": "actions",
        "block_id": "case_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "case_claim",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": "7",
                "style": "primary",
            }
        ],
    }
]
MODAL = {
    "type": "modal",
    "callback_id": "modal_log_contact",
    "title": {"type": "plain_text", "text": "Log contact"},
    "submit": {"type": "plain_text", "text": "Save"},
    "private_metadata": '{"case_id":7}',
    "blocks": [
        {
            "type": "input",
            "block_id": "contact_outcome",
            "label": {"type": "plain_text", "text": "Outcome"},
            "element": {
                "type": "radio_buttons",
                "action_id": "contact_outcome_input",
                "options": [
                    {"text": {"type": "plain_text", "text": "Reached"}, "value": "reached"},
                    {"text": {"type": "plain_text", "text": "Voicemail"}, "value": "voicemail"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "next_follow_up",
            "optional": True,
            "label": {"type": "plain_text", "text": "Next follow-up"},
            "element": {"type": "datepicker", "action_id": "next_follow_up_input"},
        },
    ],
}


@dataclass
class App:
    """A stand-in for the app's /slack/events: records what arrives, answers as told."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answer: tuple[int, bytes] = (200, b"")
    url: str = ""


@pytest.fixture
def app() -> Iterator[App]:
    recorder = App()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            recorder.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status, answer = recorder.answer
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture
def state() -> SlackState:
    clock = OffsetClock(lambda: datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    return SlackState(Directory(), clock, base_url="http://127.0.0.1:3000")


@pytest.fixture
def person(state: SlackState, app: App) -> Interactions:
    return Interactions(state, signing_secret=SECRET, events_url=app.url)


def verified(headers: dict[str, str], body: bytes) -> bool:
    return SignatureVerifier(SECRET).is_valid(
        body=body.decode(),
        timestamp=headers["x-slack-request-timestamp"],
        signature=headers["x-slack-signature"],
    )


def payload_of(body: bytes) -> dict:
    return json.loads(parse_qs(body.decode())["payload"][0])


def test_the_signature_is_slacks_v0_hmac():
    body = b"token=x&command=%2Fnps"
    expected = SignatureVerifier(SECRET).generate_signature(timestamp="1700000000", body=body)
    assert signature(SECRET, "1700000000", body) == expected
    headers = signed_headers(SECRET, body, "application/x-www-form-urlencoded")
    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body=body.decode(),
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert not verifier.is_valid(
        body="token=x&command=%2Fother",
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert not SignatureVerifier("another-secret").is_valid(
        body=body.decode(),
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )


def post_card(state: SlackState) -> str:
    answer = SlackApi(state).call(
        "chat.postMessage",
        {"channel": "C0SBALICE", "text": "card", "blocks": CARD},
        token=SANDBOX_TOKEN,
    )
    return answer["ts"]


def test_a_click_is_a_signed_block_actions_form_with_a_live_trigger(person, state, app):
    ts = post_card(state)
    person.click(
        "U0SBSAM", channel="C0SBALICE", ts=ts, block_id="case_actions", action_id="case_claim"
    )
    headers, body = app.received[0]
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert verified(headers, body)
    payload = payload_of(body)
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0SBSAM"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C0SBALICE",
        "is_ephemeral": False,
    }
    action = payload["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "case_claim",
        "case_actions",
        "7",
    )
    assert action["text"]["text"] == "Claim" and action["style"] == "primary"
    trigger = state.triggers[payload["trigger_id"]]
    assert trigger.user == "U0SBSAM" and not trigger.used
    assert payload["response_url"].startswith("http://127.0.0.1:3000/sandbox/respond/")
    assert payload["message"]["ts"] == ts


def test_only_buttons_that_are_there_can_be_clicked(person, state, app):
    ts = post_card(state)
    with pytest.raises(Refused):
        person.click(
            "U0SBALICE", channel="C0SBALICE", ts=ts, block_id="case_actions", action_id="nope"
        )
    with pytest.raises(Refused):
        person.click(
            "U0NOBODY", channel="C0SBALICE", ts=ts, block_id="case_actions", action_id="case_claim"
        )
    dm = SlackApi(state).call(
        "chat.postMessage",
        {"channel": "U0SBMARK", "text": "x", "blocks": CARD},
        token=SANDBOX_TOKEN,
    )
    with pytest.raises(Refused, match="Only Mark Mendes"):
        person.click(
            "U0SBSAM",
            channel="D0SBMARK",
            ts=dm["ts"],
            block_id="case_actions",
            action_id="case_claim",
        )
    assert app.received == []


def test_a_click_the_app_does_not_answer_shows_slackbots_note(person, state, app):
    app.answer = (500, b"")
    ts = post_card(state)
    person.click(
        "U0SBALICE", channel="C0SBALICE", ts=ts, block_id="case_actions", action_id="case_claim"
    )
    note = state.ephemerals[-1]
    assert note["user"] == "USLACKBOT" and note["to"] == "U0SBALICE"
    assert note["text"].startswith(TROUBLE)


def open_modal(state: SlackState) -> str:
    trigger = state.issue_trigger("U0SBALICE")
    answer = SlackApi(state).call(
        "views.open", {"trigger_id": trigger, "view": MODAL}, token=SANDBOX_TOKEN
    )
    return answer["view"]["id"]


def test_a_required_field_left_empty_is_flagged_before_anything_is_sent(person, state, app):
    view_id = open_modal(state)
    person.submit("U0SBALICE", view_id, {})
    assert app.received == []
    assert state.top_view("U0SBALICE").errors == {"contact_outcome": REQUIRED}


def test_a_submission_carries_slacks_state_values_and_closes_on_an_empty_ack(person, state, app):
    view_id = open_modal(state)
    entered = {
        "contact_outcome": {"contact_outcome_input": "reached"},
        "next_follow_up": {"next_follow_up_input": "2026-12-01"},
    }
    person.submit("U0SBALICE", view_id, entered)
    headers, body = app.received[0]
    assert verified(headers, body)
    payload = payload_of(body)
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view_id
    assert payload["view"]["private_metadata"] == '{"case_id":7}'
    values = payload["view"]["state"]["values"]
    assert values["contact_outcome"]["contact_outcome_input"] == {
        "type": "radio_buttons",
        "selected_option": {"text": {"type": "plain_text", "text": "Reached"}, "value": "reached"},
    }
    assert values["next_follow_up"]["next_follow_up_input"] == {
        "type": "datepicker",
        "selected_date": "2026-12-01",
    }
    assert state.top_view("U0SBALICE") is None


def test_errors_from_the_app_show_next_to_their_fields(person, state, app):
    view_id = open_modal(state)
    app.answer = (
        200,
        b'{"response_action": "errors", "errors": {"contact_outcome": "Not yours to log."}}',
    )
    person.submit("U0SBALICE", view_id, {"contact_outcome": {"contact_outcome_input": "reached"}})
    shown = state.top_view("U0SBALICE")
    assert shown.errors == {"contact_outcome": "Not yours to log."}
    assert shown.values == {"contact_outcome": {"contact_outcome_input": "reached"}}


def test_errors_for_fields_the_form_lacks_or_a_failed_app_are_shown_as_trouble(person, state, app):
    view_id = open_modal(state)
    app.answer = (200, b'{"response_action": "errors", "errors": {"nope": "x"}}')
    person.submit("U0SBALICE", view_id, {"contact_outcome": {"contact_outcome_input": "reached"}})
    assert state.top_view("U0SBALICE").problem.startswith(TROUBLE)
    app.answer = (500, b"")
    person.submit("U0SBALICE", view_id, {"contact_outcome": {"contact_outcome_input": "reached"}})
    assert state.top_view("U0SBALICE").problem == TROUBLE


def test_a_slash_command_is_a_signed_form_with_a_response_url_back_to_the_stand_in(
    person, state, app
):
    person.command("U0SBVICTOR", channel="C0SBSTANDUP", line="/nps kpi 30d")
    headers, body = app.received[0]
    assert verified(headers, body)
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert (form["command"], form["text"], form["user_id"], form["channel_id"]) == (
        "/nps",
        "kpi 30d",
        "U0SBVICTOR",
        "C0SBSTANDUP",
    )
    key = form["response_url"].rsplit("/", 1)[1]
    assert form["response_url"] == f"http://127.0.0.1:3000/sandbox/respond/{key}"
    assert state.response_urls[key].user == "U0SBVICTOR"
    assert form["trigger_id"] in state.triggers
    with pytest.raises(Refused):
        person.command("U0SBVICTOR", channel="C0SBSTANDUP", line="/remind me")


def test_opening_home_sends_app_home_opened_as_json(person, state, app):
    person.open_home("U0SBCHLOE")
    headers, body = app.received[0]
    assert headers["content-type"] == "application/json"
    assert verified(headers, body)
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["type"] == "app_home_opened"
    assert (envelope["event"]["user"], envelope["event"]["tab"]) == ("U0SBCHLOE", "home")
