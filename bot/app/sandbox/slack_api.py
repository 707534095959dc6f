"""The embedded Slack Web API: the methods the bot calls, answered as Slack answers them.

The bot reaches it over `SLACK_API_URL` with its ordinary WebClient. Answers are Slack-shaped:
HTTP 200 with `ok: false` and Slack's error name for a bad call, Block Kit checked with
`slack_sdk.models`, trigger ids that work once within 3 seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from bot.app.sandbox import api_chat, api_conversations, api_files, api_views
from bot.app.sandbox.checks import JSON, SlackError, decode_json_args
from bot.app.sandbox.people import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
)
from bot.app.sandbox.store import SlackState

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "xoxb-sandbox-0000000000-nps-bot"

Method = Callable[[SlackState, JSON], JSON]


def _auth_test(state: SlackState, args: JSON) -> JSON:
    return {
        "url": f"{state.base_url}/sandbox/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "is_enterprise_install": False,
    }


METHODS: dict[str, Method] = {
    "auth.test": _auth_test,
    "chat.postMessage": api_chat.post_message,
    "chat.update": api_chat.update,
    "chat.postEphemeral": api_chat.post_ephemeral,
    "chat.getPermalink": api_chat.permalink,
    "conversations.open": api_conversations.open_dm,
    "conversations.history": api_conversations.history,
    "conversations.replies": api_conversations.replies,
    "conversations.join": api_conversations.join,
    "users.info": api_conversations.info,
    "users.lookupByEmail": api_conversations.lookup_by_email,
    "views.open": api_views.open_modal,
    "views.push": api_views.push,
    "views.update": api_views.update,
    "views.publish": api_views.publish,
    "files.getUploadURLExternal": api_files.get_upload_url,
    "files.completeUploadExternal": api_files.complete_upload,
}


def parse_args(query: str, content_type: str, body: bytes) -> JSON | str:
    """Query and body arguments (form or JSON), or the name of Slack's parse error."""
    args: JSON = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return decode_json_args(args)
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            return "invalid_json"
        if not isinstance(decoded, dict):
            return "invalid_json"
        args.update(decoded)
    else:
        try:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return "invalid_form_data"
    return decode_json_args(args)


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip() or None
    return None


class SlackApi:
    """Answers Web API calls against the sandbox workspace's state."""

    def __init__(self, state: SlackState, *, token: str = SANDBOX_TOKEN) -> None:
        self.state = state
        self.token = token

    def call(self, method: str, args: JSON | str, *, token: str | None) -> JSON:
        """One Web API call: the JSON Slack would answer with HTTP 200."""
        if isinstance(args, dict):
            token = token or args.pop("token", None)
        handler = METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        if isinstance(args, str):
            return {"ok": False, "error": args}
        with self.state.lock:
            try:
                answer = {"ok": True, **handler(self.state, args)}
            except SlackError as exc:
                answer = exc.payload()
        if not answer["ok"]:
            log.info("sandbox.slack_error method=%s error=%s", method, answer["error"])
        return answer

    def respond(self, key: str, body: bytes) -> tuple[int, str]:
        """A post to a `response_url` the sandbox handed out."""
        return api_chat.respond(self.state, key, body)

    def upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        """The bytes of a file, posted to the upload URL `files.getUploadURLExternal` gave."""
        return api_files.upload(self.state, file_id, body)
