"""Slack's argument checks: required fields, message content, Block Kit and views."""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

JSON = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_LENGTH = 40_000
MAX_VIEW_TEXT = 24
MAX_PRIVATE_METADATA = 3_000
MAX_VIEW_ID = 255
MAX_ATTACHMENTS = 100

# Arguments slack_sdk sends as JSON strings inside form bodies.
JSON_STRING_ARGS = ("blocks", "attachments", "view", "metadata", "files")


class SlackError(Exception):
    """Ends a method with `{"ok": false, "error": ...}` plus any extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def payload(self) -> JSON:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> SlackError:
    return SlackError(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


def given(value: Any) -> bool:
    """Whether an argument was passed with a value, as Slack reads it."""
    return value is not None and value != "" and value != []


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str | int) and str(value).lower() in ("1", "true"))


def required(args: JSON, name: str) -> str:
    """The argument as a string; `invalid_arguments` naming it when it is missing."""
    value = args.get(name)
    if not given(value):
        raise invalid_arguments(f"missing required field: {name}")
    return str(value)


def decode_json_args(args: JSON) -> JSON:
    """Arguments with the JSON-in-a-form-field ones decoded; undecodable ones stay strings."""
    out = dict(args)
    for name in JSON_STRING_ARGS:
        value = out.get(name)
        if isinstance(value, str) and value.strip():
            with contextlib.suppress(ValueError):
                out[name] = json.loads(value)
    return out


def block_errors(blocks: list[Any], pointer: str, limit: int) -> list[str]:
    """Problems with a list of blocks, in Slack's `message [json-pointer:...]` form."""
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must be less than {limit + 1} items [json-pointer:{pointer}]")
    for index, raw in enumerate(blocks):
        where = f"[json-pointer:{pointer}/{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            errors.append(f"must provide an object with a type {where}")
            continue
        try:
            block = Block.parse(raw)
            if block is None:
                errors.append(f"unsupported block type: {raw['type']} {where}")
                continue
            block.validate_json()
            block.to_dict()  # validates nested elements and composition objects too
        except SlackObjectFormationError as exc:
            errors.append(f"{exc} {where}")
        except Exception as exc:  # malformed input can fail anywhere in the model constructors
            errors.append(f"invalid block ({type(exc).__name__}) {where}")
    return errors


def check_content(args: JSON) -> None:
    """A message needs text, blocks or attachments, within Slack's limits."""
    text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
    if not (given(text) or given(blocks) or given(attachments)):
        raise SlackError("no_text")
    if len(str(text or "")) > MAX_TEXT_LENGTH:
        raise SlackError("msg_too_long")
    if given(blocks):
        if not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        errors = block_errors(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )
    if given(attachments):
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise SlackError("invalid_attachments")
        if len(attachments) > MAX_ATTACHMENTS:
            raise SlackError("too_many_attachments")


def check_metadata(args: JSON) -> JSON | None:
    """Message metadata, which needs an `event_type` and an `event_payload` object."""
    metadata = args.get("metadata")
    if not given(metadata):
        return None
    if not isinstance(metadata, dict):
        raise SlackError("invalid_metadata_format")
    if not isinstance(metadata.get("event_type"), str) or not isinstance(
        metadata.get("event_payload"), dict
    ):
        raise SlackError("invalid_metadata_schema")
    return metadata


def _plain_text_errors(value: Any, pointer: str, limit: int) -> list[str]:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return [f"must provide a plain_text object [json-pointer:{pointer}]"]
    if value.get("type", "plain_text") != "plain_text":
        return [f"must be a plain_text object [json-pointer:{pointer}/type]"]
    if len(value["text"]) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


def _view_field_errors(view: JSON) -> list[str]:
    errors: list[str] = []
    for name in ("title", "submit", "close"):
        if view.get(name) is not None:
            errors += _plain_text_errors(view[name], f"/view/{name}", MAX_VIEW_TEXT)
    metadata = view.get("private_metadata")
    if isinstance(metadata, str) and len(metadata) > MAX_PRIVATE_METADATA:
        errors.append(
            f"must be less than {MAX_PRIVATE_METADATA + 1} characters "
            "[json-pointer:/view/private_metadata]"
        )
    for name in ("callback_id", "external_id"):
        value = view.get(name)
        if isinstance(value, str) and len(value) > MAX_VIEW_ID:
            errors.append(
                f"must be less than {MAX_VIEW_ID + 1} characters [json-pointer:/view/{name}]"
            )
    return errors


def view_errors(view: JSON, types: tuple[str, ...]) -> list[str]:
    """Problems with a view payload, in Slack's `message [json-pointer:...]` form."""
    errors: list[str] = []
    view_type = view.get("type")
    if not view_type:
        errors.append("missing required field: type [json-pointer:/view/type]")
    elif view_type not in types:
        errors.append(f"unsupported view type for this method: {view_type} [json-pointer:/view]")
    if view_type == "modal" and view.get("title") is None:
        errors.append("missing required field: title [json-pointer:/view/title]")
    errors += _view_field_errors(view)
    blocks = view.get("blocks")
    if blocks is None:
        errors.append("missing required field: blocks [json-pointer:/view/blocks]")
    elif not isinstance(blocks, list):
        errors.append("must provide an array [json-pointer:/view/blocks]")
    else:
        errors += block_errors(blocks, "/view/blocks", MAX_VIEW_BLOCKS)
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if view_type == "modal" and has_input and view.get("submit") is None:
            errors.append(
                "submit is required when the view has input blocks [json-pointer:/view/submit]"
            )
    return errors


def check_view(args: JSON, types: tuple[str, ...]) -> JSON:
    """The `view` argument, decoded and checked; `invalid_arguments` listing every problem."""
    view = args.get("view")
    if not given(view):
        raise invalid_arguments("missing required field: view")
    if not isinstance(view, dict):
        raise invalid_arguments("must provide an object [json-pointer:/view]")
    errors = view_errors(view, types)
    if errors:
        raise invalid_arguments(*errors)
    return view


_INTERACTIVE = ("elements", "accessory", "element")


def _fill(element: Any) -> None:
    plain = (None, "mrkdwn", "plain_text", "image")
    if isinstance(element, dict) and element.get("type") not in plain:
        element.setdefault("action_id", secrets.token_urlsafe(4))


def with_ids(blocks: list[Any]) -> list[Any]:
    """Blocks with the block and action ids Slack fills in when an app leaves them out."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)
        if block.get("type") in ("actions", "section", "input"):
            for name in _INTERACTIVE:
                value = block.get(name)
                for element in value if isinstance(value, list) else [value]:
                    _fill(element)
    return blocks
