"""The fake Slack Web API, driven through real `slack_sdk.WebClient` calls."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from tests.fake_slack import FakeSlack

TOKEN = "xoxb-test"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*ACME* scored 3"}}
DETRACTOR = {"event_type": "nps_detractor", "event_payload": {"response_id": "r-1"}}
INPUT = {
    "type": "input",
    "block_id": "notes",
    "label": {"type": "plain_text", "text": "Notes"},
    "element": {"type": "plain_text_input", "action_id": "notes"},
}


def modal(title: str = "Call back", blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "callback",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [INPUT] if blocks is None else blocks,
    }


def web_client(fake: FakeSlack, **kwargs: Any) -> WebClient:
    """A client for `fake`; pass `retry_handlers=[]` for one with no retries at all."""
    return WebClient(token=kwargs.pop("token", TOKEN), base_url=fake.url, timeout=5, **kwargs)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, users={"alice@example.com": "U0ALICE"}) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return web_client(fake, retry_handlers=[])


# ----------------------------------------------------------------- lifecycle and identity


def test_url_is_the_api_root_on_loopback(fake: FakeSlack) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", fake.url)


def test_stop_closes_the_server() -> None:
    fake = FakeSlack().start()
    url = fake.url
    fake.stop()
    fake.stop()
    with pytest.raises(RuntimeError):
        _ = fake.url
    with pytest.raises(URLError):
        WebClient(token=TOKEN, base_url=url, retry_handlers=[]).auth_test()


def test_get_with_query_arguments_and_a_token_argument(fake: FakeSlack) -> None:
    with urlopen(f"{fake.url}users.lookupByEmail?token={TOKEN}&email=alice@example.com") as r:
        answer = json.load(r)
    assert answer["user"]["id"] == "U0ALICE"
    assert fake.calls_to("users.lookupByEmail")[0].args == {"email": "alice@example.com"}


def test_auth_test_answers_the_bot_identity(client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == "UBOT"
    assert answer["bot_id"] == "BBOT"
    assert answer["team_id"] == "T0001"
    assert answer["team"] == "Fake"
    assert answer["url"].startswith("https://")


# ----------------------------------------------------------------- messages


def test_post_update_history_round_trip(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(
        channel="C1", text="ACME scored 3", blocks=[SECTION], metadata=DETRACTOR
    )
    assert posted["channel"] == "C1"
    assert posted["message"]["text"] == "ACME scored 3"
    assert posted["message"]["ts"] == posted["ts"]
    client.chat_postMessage(channel="C1", text="second")

    updated = client.chat_update(channel="C1", ts=posted["ts"], text="ACME: called back")
    assert (updated["channel"], updated["ts"]) == ("C1", posted["ts"])
    assert updated["message"]["text"] == "ACME: called back"

    history = client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["second", "ACME: called back"]
    assert history["messages"][1]["blocks"] == [SECTION]
    assert history["messages"][1]["metadata"] == DETRACTOR
    assert "metadata" not in client.conversations_history(channel="C1")["messages"][1]
    assert [m["text"] for m in fake.messages_in("C1")] == ["ACME: called back", "second"]


def test_timestamps_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(3)]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", ts) for ts in stamps)
    assert stamps == sorted(set(stamps))


def test_concurrent_posts_are_all_recorded(fake: FakeSlack, client: WebClient) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda i: client.chat_postMessage(channel="C1", text=str(i)), range(24))
        )
    assert len({a["ts"] for a in answers}) == 24
    assert len(fake.messages_in("C1")) == 24
    assert len(fake.wait_for("chat.postMessage", count=24, timeout=0)) == 24


def test_posting_to_a_user_answers_with_the_dm_channel(fake: FakeSlack, client: WebClient) -> None:
    answer = client.chat_postMessage(channel="U0ALICE", text="Thanks for the feedback")
    assert answer["channel"] == "DU0ALICE"
    assert fake.messages_in("DU0ALICE") == fake.messages_in("U0ALICE")
    assert fake.messages_in("U0ALICE")[0]["text"] == "Thanks for the feedback"


def test_thread_replies_are_stored_with_their_thread_ts(fake: FakeSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    reply = client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)["ts"]

    stored = fake.messages_in("C1")
    assert [(m["text"], m["thread_ts"]) for m in stored] == [("parent", parent), ("reply", parent)]
    assert stored[0]["reply_count"] == 1
    assert [m["ts"] for m in client.conversations_history(channel="C1")["messages"]] == [parent]
    replies = client.conversations_replies(channel="C1", ts=parent)["messages"]
    assert [m["ts"] for m in replies] == [parent, reply]


def test_json_bodies_and_json_string_arguments_are_decoded(
    fake: FakeSlack, client: WebClient
) -> None:
    client.chat_postMessage(channel="C1", text="form", blocks=[SECTION])
    client.api_call("chat.postMessage", json={"channel": "C2", "text": "json", "blocks": [SECTION]})

    form_call, json_call = fake.calls_to("chat.postMessage")
    assert form_call.args["blocks"] == [SECTION]
    assert json_call.args == {"channel": "C2", "text": "json", "blocks": [SECTION]}
    assert "token" not in form_call.args


def test_multipart_bodies_are_accepted(fake: FakeSlack, client: WebClient) -> None:
    client.api_call(
        "chat.postMessage", data={"channel": "C1", "text": "multipart"}, files={"f": b"bytes"}
    )
    assert fake.messages_in("C1")[0]["text"] == "multipart"


def test_updating_an_unknown_message_is_message_not_found(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as error:
        client.chat_update(channel="C1", ts="1700000000.999900", text="edit")
    assert error.value.response["error"] == "message_not_found"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        pytest.param(
            [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            "cannot exceed 3000 characters [json-pointer:/blocks/0]",
            id="section-text-3001",
        ),
        pytest.param([{"type": "divider"}] * 51, "must be less than 51 items", id="51-blocks"),
        pytest.param(
            [SECTION, {"type": "mystery"}],
            "unsupported block type: mystery [json-pointer:/blocks/1]",
            id="unknown-type",
        ),
        pytest.param(
            [
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "call",
                            "text": {"type": "plain_text", "text": "b" * 76},
                        }
                    ],
                }
            ],
            "cannot exceed 75 characters",
            id="nested-button-text",
        ),
    ],
)
def test_invalid_blocks_are_rejected(
    fake: FakeSlack, client: WebClient, blocks: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C1", text="fallback", blocks=blocks)
    answer = error.value.response
    assert answer.status_code == 200
    assert answer["error"] == "invalid_blocks"
    assert any(expected in e for e in answer["errors"]), answer["errors"]
    assert fake.messages_in("C1") == []
    assert fake.calls_to("chat.postMessage")[0].error == "invalid_blocks"


def test_invalid_blocks_are_rejected_on_update_and_ephemeral(client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="ok")["ts"]
    too_long = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    for call in (
        lambda: client.chat_update(channel="C1", ts=ts, text="x", blocks=too_long),
        lambda: client.chat_postEphemeral(channel="C1", user="U0ALICE", text="x", blocks=too_long),
    ):
        with pytest.raises(SlackApiError) as error:
            call()
        assert error.value.response["error"] == "invalid_blocks"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"channel": "C1"}, "no_text"),
        ({"channel": "C1", "text": "x" * 40_001}, "msg_too_long"),
        ({"text": "no channel"}, "invalid_arguments"),
        (
            {"channel": "C1", "text": "x", "metadata": {"event_type": "x"}},
            "invalid_metadata_schema",
        ),
    ],
)
def test_message_argument_errors(
    fake: FakeSlack, client: WebClient, arguments: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SlackApiError) as error:
        client.api_call("chat.postMessage", json=arguments)
    assert error.value.response["error"] == expected
    assert fake.messages == {}


def test_missing_channels_answer_channel_not_found(fake: FakeSlack, client: WebClient) -> None:
    fake.missing_channels.add("CGONE")
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="CGONE", text="hello?")
    assert error.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="CHERE", text="hello")["ok"]


def test_ephemeral_permalink_open_join_and_user_info(fake: FakeSlack, client: WebClient) -> None:
    ephemeral = client.chat_postEphemeral(channel="C1", user="U0ALICE", text="only you")
    assert fake.ephemerals[0]["ts"] == ephemeral["message_ts"]
    assert fake.ephemerals[0]["user"] == "U0ALICE"

    link = client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"] == "https://fake.slack.com/archives/C1/p1700000000000100"
    assert client.conversations_open(users="U0ALICE")["channel"]["id"] == "DU0ALICE"
    assert client.conversations_join(channel="C9")["channel"]["id"] == "C9"
    assert fake.joined == {"C9"}
    assert client.users_info(user="U0ALICE")["user"]["profile"]["email"] == "alice@example.com"


def test_unknown_method_is_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as error:
        client.api_call("nps.frobnicate")
    assert error.value.response["error"] == "unknown_method"


# ----------------------------------------------------------------- users


def test_lookup_by_email_finds_directory_users_only(fake: FakeSlack, client: WebClient) -> None:
    assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == "U0ALICE"
    with pytest.raises(SlackApiError) as error:
        client.users_lookupByEmail(email="bob@example.com")
    assert error.value.response["error"] == "users_not_found"

    fake.users["bob@example.com"] = "U0BOB"
    assert client.users_lookupByEmail(email="bob@example.com")["user"]["id"] == "U0BOB"


# ----------------------------------------------------------------- views


def test_views_open_update_and_publish(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id="123.456.abc", view=modal())["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "callback"

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Done"))
    assert updated["view"]["id"] == opened["id"]
    assert fake.views[opened["id"]]["title"]["text"] == "Done"
    with pytest.raises(SlackApiError) as error:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Stale"))
    assert error.value.response["error"] == "hash_conflict"

    home = {"type": "home", "blocks": [SECTION]}
    assert client.views_publish(user_id="U0ALICE", view=home)["view"]["type"] == "home"
    assert fake.home_tabs["U0ALICE"]["blocks"] == [SECTION]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        pytest.param(
            modal("t" * 25), "[json-pointer:/view/title/text]", id="title-over-24-characters"
        ),
        pytest.param(
            modal(blocks=[{"type": "divider"}] * 101), "must be less than 101 items", id="101"
        ),
        pytest.param(
            modal(blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]),
            "[json-pointer:/view/blocks/0]",
            id="invalid-block",
        ),
    ],
)
def test_invalid_views_are_rejected(
    fake: FakeSlack, client: WebClient, view: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SlackApiError) as error:
        client.views_open(trigger_id="123.456.abc", view=view)
    answer = error.value.response
    assert answer["error"] == "invalid_arguments"
    assert any(expected in m for m in answer["response_metadata"]["messages"])
    assert fake.views == {}


# ----------------------------------------------------------------- files


def test_files_upload_v2_stores_the_content(fake: FakeSlack) -> None:
    client = web_client(fake)
    answer = client.files_upload_v2(
        channel="C1", content="score,comment\n3,slow\n", filename="scores.csv", title="Scores"
    )
    stored = fake.files[answer["file"]["id"]]
    assert stored["content"] == b"score,comment\n3,slow\n"
    assert (stored["title"], stored["channels"]) == ("Scores", ["C1"])
    assert answer["file"]["size"] == len(stored["content"])


# ----------------------------------------------------------------- auth


def test_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as error:
        web_client(fake, token="xoxb-wrong").auth_test()
    assert error.value.response["error"] == "invalid_auth"
    assert fake.calls_to("auth.test")[0].ok is False


def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as error:
        web_client(fake, token=None).auth_test()
    assert error.value.response["error"] == "not_authed"


def test_token_none_accepts_any_token(fake: FakeSlack) -> None:
    fake.token = None
    assert web_client(fake, token="xoxb-anything").auth_test()["ok"]


# ----------------------------------------------------------------- failure injection


def test_rate_limit_surfaces_to_a_client_without_retry_handlers(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C1", text="hi")
    answer = error.value.response
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer["error"] == "ratelimited"
    assert fake.rate_limited == 1
    assert [(f.status, f.reason) for f in fake.failures] == [(429, "rate_limit_next")]
    assert fake.calls_to("chat.postMessage") == []

    assert client.chat_postMessage(channel="C1", text="hi")["ok"]


def test_rate_limit_retry_handler_waits_and_succeeds(fake: FakeSlack) -> None:
    client = web_client(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert time.monotonic() - started >= 1.0
    assert fake.rate_limited == 1
    assert len(fake.messages_in("C1")) == 1


def test_server_error_then_success_with_server_error_retry_handler(fake: FakeSlack) -> None:
    client = web_client(fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)])
    fake.fail_next("chat.postMessage", status=503)
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    assert [(f.method, f.status, f.reason) for f in fake.failures] == [
        ("chat.postMessage", 503, "fail_next")
    ]
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(fake.messages_in("C1")) == 1


def test_fail_next_any_method_answers_html(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("*", status=500, count=2)
    for call in (client.auth_test, lambda: client.chat_postMessage(channel="C1", text="x")):
        with pytest.raises(SlackApiError) as error:
            call()
        assert error.value.response.status_code == 500
        assert "non-JSON" in error.value.response["error"]
    assert client.auth_test()["ok"]
    assert [c.method for c in fake.calls] == ["auth.test"]


def test_outage_answers_503_until_healed(fake: FakeSlack, client: WebClient) -> None:
    fake.down = True
    with pytest.raises(SlackApiError) as error:
        client.auth_test()
    assert error.value.response.status_code == 503
    fake.down = False
    assert client.auth_test()["ok"]
    assert [f.reason for f in fake.failures] == ["down"]


def test_channel_rate_allows_one_post_per_second_per_channel(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.enforce_channel_rate(per_second=1.0, burst=1)
    assert client.chat_postMessage(channel="C1", text="first")["ok"]
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C1", text="too soon")
    assert error.value.response.status_code == 429
    assert error.value.response.headers["Retry-After"] == "1"
    assert client.chat_postMessage(channel="C2", text="other channel")["ok"]

    assert [m["text"] for m in fake.messages_in("C1")] == ["first"]
    assert fake.rate_limited == 1
    assert fake.failures[0].reason == "channel_rate"

    fake.enforce_channel_rate(None)
    assert client.chat_postMessage(channel="C1", text="unlimited")["ok"]


def test_channel_rate_refills_over_time(fake: FakeSlack, client: WebClient) -> None:
    fake.enforce_channel_rate(per_second=20.0, burst=2)
    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="C1", text="2")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="3")
    time.sleep(0.08)
    assert client.chat_postMessage(channel="C1", text="4")["ok"]


def test_latency_delays_answers(fake: FakeSlack, client: WebClient) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.2


# ----------------------------------------------------------------- waiting and resetting


def test_wait_for_sees_calls_made_from_another_thread(fake: FakeSlack, client: WebClient) -> None:
    timer = threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="late"))
    timer.start()
    try:
        calls = fake.wait_for("chat.postMessage", timeout=2.0)
    finally:
        timer.join()
    assert calls[0].args["text"] == "late"


def test_wait_for_times_out_with_what_arrived(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError):
        client.api_call("chat.postMessage", json={"channel": "C1"})
    with pytest.raises(AssertionError, match=r"chat\.postMessage \(no_text\)"):
        fake.wait_for("chat.postMessage", timeout=0.1)


def test_reset_forgets_calls_messages_and_injections(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="hi")
    fake.fail_next("*")
    fake.reset()
    assert (fake.calls, fake.failures, fake.messages) == ([], [], {})
    assert client.auth_test()["ok"]


# ----------------------------------------------------------------- injected faults, scopes


def test_error_next_answers_a_documented_code_without_running_the_call(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.error_next("chat.postMessage", "restricted_action", count=1)
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="hi")
    assert refused.value.response["error"] == "restricted_action"
    assert fake.messages == {}
    assert client.chat_postMessage(channel="C1", text="hi")["ok"]
    with pytest.raises(ValueError, match="does not document"):
        fake.error_next("chat.postMessage", "edit_window_closed")  # a chat.update error


def test_fail_after_next_stores_the_message_then_fails(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_after_next("chat.postMessage", error="fatal_error")
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel="C1", text="hi")
    assert failed.value.response["error"] == "fatal_error"
    assert [m["text"] for m in fake.messages_in("C1")] == ["hi"]
    fake.fail_after_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C1", text="again")
    assert len(fake.messages_in("C1")) == 2


def test_drop_next_closes_the_connection_before_or_after(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.drop_next("chat.postMessage")
    with pytest.raises((RemoteDisconnected, URLError, ConnectionError)):
        client.chat_postMessage(channel="C1", text="lost")
    assert fake.messages == {}
    fake.drop_next("chat.postMessage", after=True)
    with pytest.raises((RemoteDisconnected, URLError, ConnectionError)):
        client.chat_postMessage(channel="C1", text="landed")
    assert [m["text"] for m in fake.messages_in("C1")] == ["landed"]


def test_hold_next_holds_one_call_to_one_channel(fake: FakeSlack, client: WebClient) -> None:
    hold = fake.hold_next("chat.postMessage", after=True, channel="C2")
    client.chat_postMessage(channel="C1", text="not held")
    answers: list[Any] = []
    sender = threading.Thread(
        target=lambda: answers.append(client.chat_postMessage(channel="C2", text="held"))
    )
    sender.start()
    assert hold.arrived.wait(5)
    assert [m["text"] for m in fake.messages_in("C2")] == ["held"]  # stored, not yet answered
    assert answers == []
    hold.release()
    sender.join(5)
    assert answers[0]["ok"]


def test_a_refused_token_and_missing_scopes(fake: FakeSlack, client: WebClient) -> None:
    fake.token_error = "token_revoked"
    with pytest.raises(SlackApiError) as revoked:
        client.auth_test()
    assert revoked.value.response["error"] == "token_revoked"
    fake.token_error = None
    fake.scopes.discard("im:history")
    with pytest.raises(SlackApiError) as refused:
        client.conversations_history(channel="D0ALICE")
    assert refused.value.response["error"] == "missing_scope"
    assert refused.value.response["needed"] == "im:history"
    answer = client.auth_test()
    assert "im:history" not in answer.headers["x-oauth-scopes"].split(",")


def test_outside_and_private_channels(fake: FakeSlack, client: WebClient) -> None:
    fake.outside_channels = {"C1"}
    fake.private_channels = {"C2"}
    client.chat_postMessage(channel="C1", text="through chat:write.public")
    with pytest.raises(SlackApiError) as outside:
        client.conversations_history(channel="C1")
    assert outside.value.response["error"] == "not_in_channel"
    client.conversations_join(channel="C1")
    assert len(client.conversations_history(channel="C1")["messages"]) == 1
    with pytest.raises(SlackApiError) as private:
        client.conversations_join(channel="C2")
    assert private.value.response["error"] == "method_not_supported_for_channel_type"
    with pytest.raises(SlackApiError) as posting:
        client.chat_postMessage(channel="C2", text="no")
    assert posting.value.response["error"] == "not_in_channel"
    fake.scopes.discard("chat:write.public")
    fake.outside_channels = {"C3"}
    with pytest.raises(SlackApiError) as public:
        client.chat_postMessage(channel="C3", text="no")
    assert public.value.response["error"] == "not_in_channel"


def test_shared_files_show_in_history(fake: FakeSlack) -> None:
    client = web_client(fake)
    answer = client.files_upload_v2(channel="C1", content=b"png", filename="chart.png")
    [shared] = client.conversations_history(channel="C1")["messages"]
    assert shared["files"][0]["id"] == answer["file"]["id"]
    assert shared["files"][0]["name"] == "chart.png"
