"""`chat.*` and `response_url` posts: messages, updates and notes only one person sees."""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.app.sandbox.checks import (
    JSON,
    SlackError,
    check_content,
    check_metadata,
    given,
    required,
    truthy,
    with_ids,
)
from bot.app.sandbox.people import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID
from bot.app.sandbox.store import RESPONSE_URL_USES, SlackState


def wire(message: JSON, *, with_metadata: bool = True) -> JSON:
    """A stored message as Slack sends it: absent fields left out."""
    out = {k: copy.deepcopy(v) for k, v in message.items() if v is not None and v != []}
    if not with_metadata:
        out.pop("metadata", None)
    return out


def conversation(state: SlackState, args: JSON, name: str = "channel") -> str:
    """The conversation an argument names; `channel_not_found` when there is none."""
    channel = state.channel_for(required(args, name))
    if channel is None:
        raise SlackError("channel_not_found")
    return channel


def member_of(state: SlackState, args: JSON, name: str = "channel") -> str:
    """A conversation the bot may post in and read: a DM, or a channel it was invited to."""
    channel = conversation(state, args, name)
    if channel.startswith("C") and channel not in state.members:
        raise SlackError("not_in_channel")
    return channel


def _list_of(value: Any) -> list[Any]:
    return copy.deepcopy(value) if isinstance(value, list) else []


def bot_message(state: SlackState, args: JSON, **extra: Any) -> JSON:
    """A new message from the bot, from the content arguments."""
    return {
        "type": "message",
        "subtype": None,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "ts": state.next_ts(),
        "text": str(args.get("text") or ""),
        "blocks": with_ids(_list_of(args.get("blocks"))),
        "attachments": _list_of(args.get("attachments")),
        "metadata": check_metadata(args),
        "thread_ts": None,
        **extra,
    }


def post_message(state: SlackState, args: JSON) -> JSON:
    channel = member_of(state, args)
    check_content(args)
    thread_ts = str(args["thread_ts"]) if given(args.get("thread_ts")) else None
    message = bot_message(state, args, thread_ts=thread_ts)
    if thread_ts and truthy(args.get("reply_broadcast")):
        message["subtype"] = "thread_broadcast"
    state.add_message(channel, message)
    return {"channel": channel, "ts": message["ts"], "message": wire(message)}


def update(state: SlackState, args: JSON) -> JSON:
    channel = member_of(state, args)
    ts = required(args, "ts")
    message = state.find_message(channel, ts)
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != BOT_USER_ID:
        raise SlackError("cant_update_message")
    check_content(args)
    metadata = check_metadata(args)
    for name in ("text", "blocks", "attachments"):
        if name in args:
            message[name] = str(args["text"] or "") if name == "text" else _list_of(args[name])
    message["blocks"] = with_ids(message["blocks"])
    if metadata is not None:
        message["metadata"] = metadata
    message["edited"] = {"user": BOT_USER_ID, "ts": state.next_ts()}
    state.touch()
    return {"channel": channel, "ts": ts, "text": message["text"], "message": wire(message)}


def post_ephemeral(state: SlackState, args: JSON) -> JSON:
    channel = member_of(state, args)
    user = required(args, "user")
    if state.directory.person(user) is None:
        raise SlackError("user_not_found")
    dm_owner = state.directory.dm_owner(channel)
    if dm_owner is not None and dm_owner.id != user:
        raise SlackError("user_not_in_channel")
    check_content(args)
    note = bot_message(state, args, channel=channel, to=user)
    if given(args.get("thread_ts")):
        note["thread_ts"] = str(args["thread_ts"])
    state.ephemerals.append(note)
    state.touch()
    return {"message_ts": note["ts"]}


def permalink(state: SlackState, args: JSON) -> JSON:
    channel = conversation(state, args)
    ts = required(args, "message_ts")
    if state.find_message(channel, ts) is None:
        raise SlackError("message_not_found")
    link = f"{state.base_url}/sandbox/archives/{channel}/p{ts.replace('.', '')}"
    return {"channel": channel, "permalink": link}


def respond(state: SlackState, key: str, body: bytes) -> tuple[int, str]:
    """A post to a `response_url`: HTTP status and Slack's short text answer."""
    with state.lock:
        target = state.response_urls.get(key)
        if target is None:
            return 404, "invalid_token"
        if target.uses >= RESPONSE_URL_USES:
            return 404, "used_url"
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return 400, "invalid_payload"
        if not isinstance(payload, dict):
            return 400, "invalid_payload"
        target.uses += 1
        if truthy(payload.get("delete_original")):
            return _delete_original(state, target.channel, target.message_ts)
        try:
            check_content(payload)
            _answer(state, target, payload)
        except SlackError as exc:
            return 400, exc.error
        return 200, "ok"


def _answer(state: SlackState, target: Any, payload: JSON) -> None:
    if truthy(payload.get("replace_original")) and target.message_ts:
        message = state.find_message(target.channel, target.message_ts)
        if message is None:
            raise SlackError("message_not_found")
        blocks = with_ids(_list_of(payload.get("blocks")))
        message.update(text=str(payload.get("text") or ""), blocks=blocks)
        state.touch()
    elif payload.get("response_type") == "in_channel":
        state.add_message(target.channel, bot_message(state, payload))
    else:
        note = bot_message(state, payload, channel=target.channel, to=target.user)
        state.ephemerals.append(note)
        state.touch()


def _delete_original(state: SlackState, channel: str, ts: str | None) -> tuple[int, str]:
    messages = state.messages.get(channel, [])
    kept = [m for m in messages if m["ts"] != ts]
    if ts is None or len(kept) == len(messages):
        return 404, "message_not_found"
    state.messages[channel] = kept
    state.touch()
    return 200, "ok"
