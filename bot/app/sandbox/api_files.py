"""Uploads as `files_upload_v2` makes them: get an upload URL, send the bytes, complete."""

from __future__ import annotations

import json
import mimetypes

from bot.app.sandbox.api_chat import bot_message, member_of
from bot.app.sandbox.checks import JSON, SlackError, given, invalid_arguments, required
from bot.app.sandbox.people import BOT_USER_ID
from bot.app.sandbox.store import SlackState

MAX_FILE_BYTES = 10 * 1024 * 1024


def get_upload_url(state: SlackState, args: JSON) -> JSON:
    filename = required(args, "filename")
    try:
        length = int(required(args, "length"))
    except ValueError as exc:
        raise invalid_arguments("length must be an integer") from exc
    if not 0 < length <= MAX_FILE_BYTES:
        raise invalid_arguments("length must be between 1 and 10 MB")
    file_id = state.new_id("F")
    state.files[file_id] = {
        "id": file_id,
        "name": filename,
        "title": filename,
        "size": length,
        "content": None,
        "alt_txt": args.get("alt_txt"),
        "channels": [],
    }
    return {"upload_url": f"{state.base_url}/sandbox/upload/{file_id}", "file_id": file_id}


def upload(state: SlackState, file_id: str, body: bytes) -> tuple[int, str]:
    """The bytes of a file, posted to its upload URL."""
    with state.lock:
        stored = state.files.get(file_id)
        if stored is None:
            return 404, "Not Found"
        if len(body) != stored["size"]:
            return 400, "length mismatch"
        stored["content"] = body
        return 200, f"OK - {len(body)}"


def file_object(state: SlackState, stored: JSON) -> JSON:
    """A file as Slack describes it; its URL is served by the sandbox page."""
    name = stored["name"]
    return {
        "id": stored["id"],
        "name": name,
        "title": stored["title"],
        "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "binary",
        "user": BOT_USER_ID,
        "size": stored["size"],
        "url_private": f"{state.base_url}/sandbox/files/{stored['id']}",
        "channels": list(stored["channels"]),
    }


def complete_upload(state: SlackState, args: JSON) -> JSON:
    items = args.get("files")
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except ValueError as exc:
            raise invalid_arguments("files must be a JSON array") from exc
    if not isinstance(items, list) or not items:
        raise invalid_arguments("missing required field: files")
    if not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        raise invalid_arguments("every file needs an id [json-pointer:/files]")
    if any(i["id"] not in state.files for i in items):
        raise SlackError("file_not_found")
    channel = member_of(state, args, "channel_id") if given(args.get("channel_id")) else None
    shared = []
    for item in items:
        stored = state.files[item["id"]]
        stored["title"] = item.get("title") or stored["name"]
        stored["channels"] = [channel] if channel else []
        shared.append(file_object(state, stored))
    if channel is not None:
        message = bot_message(
            state,
            {"text": args.get("initial_comment") or ""},
            files=shared,
            thread_ts=str(args["thread_ts"]) if given(args.get("thread_ts")) else None,
        )
        state.add_message(channel, message)
    return {"files": shared}
