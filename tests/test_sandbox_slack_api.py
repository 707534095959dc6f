"""The sandbox's Slack Web API stand-in: Slack's argument checks, Block Kit validation, triggers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi import FastAPI
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.people import BOT_USER_ID, Directory
from bot.app.sandbox.routes import stand_in_router
from bot.app.sandbox.slack_api import SANDBOX_TOKEN, SlackApi, parse_args
from bot.app.sandbox.store import SlackState

BASE = "http://127.0.0.1:9"
CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "Detractor · 3/10"}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Status:* open"}},
    {
        "type": "actions",
        "block_id": "case_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "case_claim",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": "1",
            }
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "modal_log_contact",
    "title": {"type": "plain_text", "text": "Log contact"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "contact_notes",
            "label": {"type": "plain_text", "text": "Notes"},
            "element": {"type": "plain_text_input", "action_id": "contact_notes_input"},
        }
    ],
}


@pytest.fixture
def state() -> SlackState:
    clock = OffsetClock(lambda: datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    return SlackState(Directory(), clock, base_url=BASE)


@pytest.fixture
def api(state: SlackState) -> SlackApi:
    return SlackApi(state)


def call(api: SlackApi, method: str, **args) -> dict:
    return api.call(method, args, token=SANDBOX_TOKEN)


def test_tokens_and_methods_are_checked(api):
    assert api.call("auth.test", {}, token=None)["error"] == "not_authed"
    assert api.call("auth.test", {}, token="xoxb-other")["error"] == "invalid_auth"
    assert call(api, "chat.delete", channel="C0SBALICE")["error"] == "unknown_method"
    answer = call(api, "auth.test")
    assert answer["ok"] and answer["user_id"] == BOT_USER_ID
    assert answer["url"] == f"{BASE}/sandbox/"


def test_post_message_needs_a_known_channel_the_bot_is_in(api):
    missing = call(api, "chat.postMessage", text="hi")
    assert missing["error"] == "invalid_arguments"
    assert missing["response_metadata"]["messages"] == ["[ERROR] missing required field: channel"]
    assert (
        call(api, "chat.postMessage", channel="C0NOPE", text="hi")["error"] == "channel_not_found"
    )
    assert call(api, "chat.postMessage", channel="C0SBGENERAL", text="hi")["error"] == (
        "not_in_channel"
    )
    assert call(api, "chat.postMessage", channel="C0SBALICE")["error"] == "no_text"
    assert call(api, "chat.postMessage", channel="C0SBALICE", text="x" * 40_001)["error"] == (
        "msg_too_long"
    )


def test_post_message_to_a_person_lands_in_their_dm(api, state):
    answer = call(api, "chat.postMessage", channel="U0SBMARK", text="A case waits for you")
    assert answer["ok"] and answer["channel"] == "D0SBMARK"
    assert state.messages["D0SBMARK"][0]["text"] == "A case waits for you"
    assert call(api, "chat.postMessage", channel="U0NOBODY", text="x")["error"] == (
        "channel_not_found"
    )


def test_blocks_are_validated_with_slack_sdk_models(api):
    too_long = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    answer = call(api, "chat.postMessage", channel="C0SBALICE", text="t", blocks=too_long)
    assert answer["error"] == "invalid_blocks"
    assert answer["errors"][0].endswith("[json-pointer:/blocks/0]")
    unknown = [{"type": "bogus"}]
    answer = call(api, "chat.postMessage", channel="C0SBALICE", text="t", blocks=unknown)
    assert answer["errors"] == ["unsupported block type: bogus [json-pointer:/blocks/0]"]
    answer = call(api, "chat.postMessage", channel="C0SBALICE", text="t", blocks="not a list")
    assert answer["error"] == "invalid_blocks_format"
    assert call(api, "chat.postMessage", channel="C0SBALICE", text="t", blocks=CARD)["ok"]


def test_missing_block_ids_are_filled_in_as_slack_does(api, state):
    blocks = [{"type": "actions", "elements": [dict(CARD[2]["elements"][0], action_id=None)]}]
    blocks[0]["elements"][0].pop("action_id")
    answer = call(api, "chat.postMessage", channel="C0SBALICE", text="t", blocks=blocks)
    stored = answer["message"]["blocks"][0]
    assert stored["block_id"] and stored["elements"][0]["action_id"]


def test_threads_update_and_history(api):
    parent = call(api, "chat.postMessage", channel="C0SBALICE", text="card", blocks=CARD)
    reply = call(
        api, "chat.postMessage", channel="C0SBALICE", text="claimed", thread_ts=parent["ts"]
    )
    assert float(reply["ts"]) > float(parent["ts"])
    history = call(api, "conversations.history", channel="C0SBALICE")
    assert [m["text"] for m in history["messages"]] == ["card"]  # replies stay in the thread
    assert history["messages"][0]["reply_count"] == 1
    thread = call(api, "conversations.replies", channel="C0SBALICE", ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["card", "claimed"]
    assert call(api, "conversations.replies", channel="C0SBALICE", ts="1.0")["error"] == (
        "thread_not_found"
    )
    updated = call(api, "chat.update", channel="C0SBALICE", ts=parent["ts"], text="card v2")
    assert updated["ok"] and updated["message"]["edited"]["user"] == BOT_USER_ID
    assert call(api, "chat.update", channel="C0SBALICE", ts="1.0", text="x")["error"] == (
        "message_not_found"
    )
    assert call(api, "conversations.history", channel="C0SBALICE", oldest="x")["error"] == (
        "invalid_ts_oldest"
    )


def test_history_pages_newest_first_and_hides_metadata_unless_asked(api):
    metadata = {"event_type": "nps_delivery", "event_payload": {"delivery": 7}}
    for n in range(3):
        call(api, "chat.postMessage", channel="C0SBNPS", text=f"m{n}", metadata=metadata)
    first = call(api, "conversations.history", channel="C0SBNPS", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m2", "m1"]
    assert first["has_more"] and "metadata" not in first["messages"][0]
    cursor = first["response_metadata"]["next_cursor"]
    rest = call(
        api, "conversations.history", channel="C0SBNPS", cursor=cursor, include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["m0"]
    assert rest["messages"][0]["metadata"] == metadata


def test_ephemeral_notes_go_to_one_person_who_can_see_the_conversation(api, state):
    answer = call(api, "chat.postEphemeral", channel="C0SBALICE", user="U0SBSAM", text="No.")
    assert answer["ok"] and state.ephemerals[0]["to"] == "U0SBSAM"
    assert call(api, "chat.postEphemeral", channel="C0SBALICE", text="x")["error"] == (
        "invalid_arguments"
    )
    assert call(api, "chat.postEphemeral", channel="C0SBALICE", user="U0NOBODY", text="x")[
        "error"
    ] == ("user_not_found")
    assert call(api, "chat.postEphemeral", channel="D0SBMARK", user="U0SBSAM", text="x")[
        "error"
    ] == ("user_not_in_channel")


def test_permalinks_point_at_the_sandbox_page(api):
    posted = call(api, "chat.postMessage", channel="C0SBALICE", text="card")
    link = call(api, "chat.getPermalink", channel="C0SBALICE", message_ts=posted["ts"])
    assert (
        link["permalink"] == f"{BASE}/sandbox/archives/C0SBALICE/p{posted['ts'].replace('.', '')}"
    )
    assert call(api, "chat.getPermalink", channel="C0SBALICE", message_ts="1.0")["error"] == (
        "message_not_found"
    )


def test_conversations_open_and_join(api, state):
    assert call(api, "conversations.open", users="U0SBALICE")["channel"]["id"] == "D0SBALICE"
    assert call(api, "conversations.open")["error"] == "users_list_not_supplied"
    assert call(api, "conversations.open", users="U0NOBODY")["error"] == "user_not_found"
    joined = call(api, "conversations.join", channel="C0SBGENERAL")
    assert joined["ok"] and "warning" not in joined
    assert call(api, "chat.postMessage", channel="C0SBGENERAL", text="now I can")["ok"]
    again = call(api, "conversations.join", channel="C0SBGENERAL")
    assert again["warning"] == "already_in_channel"


def test_users_by_id_and_email(api):
    found = call(api, "users.lookupByEmail", email="Victor.Vance@sandbox.example")
    assert found["user"]["id"] == "U0SBVICTOR"
    assert found["user"]["profile"]["email"] == "victor.vance@sandbox.example"
    assert call(api, "users.lookupByEmail", email="nobody@sandbox.example")["error"] == (
        "users_not_found"
    )
    info = call(api, "users.info", user="U0SBALICE")["user"]
    assert info["profile"]["first_name"] == "Alice" and info["tz"] == "Europe/London"
    assert call(api, "users.info", user="U0NOBODY")["error"] == "user_not_found"


def test_trigger_ids_open_one_modal_for_their_person_within_three_seconds(api, state):
    assert call(api, "views.open", view=MODAL)["error"] == "invalid_arguments"
    unknown = call(api, "views.open", trigger_id="1.2.3", view=MODAL)
    assert unknown["response_metadata"]["messages"] == ["[ERROR] invalid `trigger_id`"]
    trigger = state.issue_trigger("U0SBALICE")
    opened = call(api, "views.open", trigger_id=trigger, view=MODAL)
    assert opened["ok"] and state.top_view("U0SBALICE").view["id"] == opened["view"]["id"]
    assert call(api, "views.open", trigger_id=trigger, view=MODAL)["error"] == (
        "exchanged_trigger_id"
    )
    late = state.issue_trigger("U0SBALICE")
    state.triggers[late].issued = time.monotonic() - 3.5
    assert call(api, "views.open", trigger_id=late, view=MODAL)["error"] == "expired_trigger_id"


def test_a_bad_view_is_refused_without_spending_the_trigger(api, state):
    trigger = state.issue_trigger("U0SBALICE")
    no_submit = {k: v for k, v in MODAL.items() if k != "submit"}
    refused = call(api, "views.open", trigger_id=trigger, view=no_submit)
    assert refused["error"] == "invalid_arguments"
    assert "submit is required" in refused["response_metadata"]["messages"][0]
    long_title = dict(MODAL, title={"type": "plain_text", "text": "x" * 25})
    refused = call(api, "views.open", trigger_id=trigger, view=long_title)
    assert "[json-pointer:/view/title/text]" in refused["response_metadata"]["messages"][0]
    assert call(api, "views.open", trigger_id=trigger, view=MODAL)["ok"]


def test_views_update_push_and_publish(api, state):
    opened = call(api, "views.open", trigger_id=state.issue_trigger("U0SBALICE"), view=MODAL)
    view_id = opened["view"]["id"]
    stale = call(api, "views.update", view_id=view_id, hash="0.stale", view=MODAL)
    assert stale["error"] == "hash_conflict"
    updated = call(api, "views.update", view_id=view_id, hash=opened["view"]["hash"], view=MODAL)
    assert updated["ok"] and updated["view"]["id"] == view_id
    assert call(api, "views.update", view_id="V0NOPE", view=MODAL)["error"] == "not_found"
    pushed = call(api, "views.push", trigger_id=state.issue_trigger("U0SBALICE"), view=MODAL)
    assert pushed["view"]["previous_view_id"] == view_id
    home = {"type": "home", "blocks": CARD[:2]}
    published = call(api, "views.publish", user_id="U0SBALICE", view=home)
    assert published["ok"] and state.home_of("U0SBALICE")["blocks"][0]["type"] == "header"
    assert call(api, "views.publish", user_id="U0SBALICE", view=MODAL)["error"] == (
        "invalid_arguments"
    )


def test_response_urls_answer_the_person_who_asked(api, state):
    url = state.issue_response_url(user="U0SBSAM", channel="C0SBALICE")
    key = url.rsplit("/", 1)[1]
    assert api.respond(key, json.dumps({"text": "Only you"}).encode()) == (200, "ok")
    assert state.ephemerals[-1]["to"] == "U0SBSAM" and state.ephemerals[-1]["text"] == "Only you"
    shared = {"text": "Everyone", "response_type": "in_channel"}
    assert api.respond(key, json.dumps(shared).encode()) == (200, "ok")
    assert state.messages["C0SBALICE"][-1]["text"] == "Everyone"
    assert api.respond(key, b"{}") == (400, "no_text")
    assert api.respond(key, b"not json") == (400, "invalid_payload")
    api.respond(key, b'{"text": "4"}')
    api.respond(key, b'{"text": "5"}')
    assert api.respond(key, b'{"text": "6"}') == (404, "used_url")
    assert api.respond("nope", b'{"text": "x"}') == (404, "invalid_token")


def test_arguments_parse_from_json_and_from_forms_with_json_fields():
    form = "channel=C1&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D"
    assert parse_args("", "application/x-www-form-urlencoded", form.encode()) == {
        "channel": "C1",
        "blocks": [{"type": "divider"}],
    }
    assert parse_args("user=U1", "application/json", b'{"text": "hi"}') == {
        "user": "U1",
        "text": "hi",
    }
    assert parse_args("", "application/json; charset=utf-8", b"[1]") == "invalid_json"
    assert parse_args("", "application/x-www-form-urlencoded", b"\xff") == "invalid_form_data"


@pytest.fixture
def served(api: SlackApi) -> Iterator[str]:
    """The stand-in's routes on a free 127.0.0.1 port; yields the Web API base URL."""
    app = FastAPI()
    app.include_router(stand_in_router(api), prefix="/sandbox")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    api.state.base_url = f"http://127.0.0.1:{port}"
    yield f"http://127.0.0.1:{port}/sandbox/api/"
    server.should_exit = True
    thread.join(5)


def test_the_bots_own_web_client_works_against_it(served, api):
    client = WebClient(token=SANDBOX_TOKEN, base_url=served)
    posted = client.chat_postMessage(channel="C0SBALICE", text="card", blocks=CARD)
    assert posted["channel"] == "C0SBALICE"
    assert client.users_lookupByEmail(email="alice.owens@sandbox.example")["user"]["id"] == (
        "U0SBALICE"
    )
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C0SBGENERAL", text="x")
    assert refused.value.response["error"] == "not_in_channel"
    upload = client.files_upload_v2(
        channel="C0SBSTANDUP", content=b"\x89PNG chart", filename="chart.png", title="Weekly"
    )
    file = upload["files"][0]
    assert file["title"] == "Weekly" and file["mimetype"] == "image/png"
    shared = api.state.messages["C0SBSTANDUP"][-1]
    assert shared["files"][0]["id"] == file["id"]
    assert api.state.files[file["id"]]["content"] == b"\x89PNG chart"
