"""`views.*`: modals opened from trigger ids, pushed and updated, and the Home tab."""

from __future__ import annotations

import copy
import secrets
import time

from bot.app.sandbox.checks import (
    JSON,
    SlackError,
    check_view,
    given,
    invalid_arguments,
    required,
    with_ids,
)
from bot.app.sandbox.people import APP_ID, BOT_ID, TEAM_ID
from bot.app.sandbox.store import TRIGGER_TTL, OpenView, SlackState

MAX_STACK = 3


def _exchange(state: SlackState, args: JSON) -> str:
    """The user a trigger id belongs to; each trigger works once, within 3 seconds."""
    trigger_id = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
    if not trigger_id:
        raise invalid_arguments("missing required field: trigger_id")
    trigger = state.triggers.get(trigger_id)
    if trigger is None:
        raise invalid_arguments("invalid `trigger_id`")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if time.monotonic() - trigger.issued > TRIGGER_TTL:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger.user


def _stored(state: SlackState, view: JSON, *, view_id: str, root_view_id: str | None) -> JSON:
    """The view as Slack answers with it: every field present, ids and a fresh hash added."""
    external_id = view.get("external_id") or ""
    if external_id and any(
        v.view.get("external_id") == external_id and v.view["id"] != view_id
        for v in state.views.values()
    ):
        raise SlackError("duplicate_external_id")
    stored: JSON = {
        "type": view["type"],
        "title": None,
        "close": None,
        "submit": None,
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
    }
    stored |= copy.deepcopy(view)
    stored["blocks"] = with_ids(stored.get("blocks") or [])
    stored |= {
        "id": view_id,
        "team_id": TEAM_ID,
        "external_id": external_id,
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "root_view_id": root_view_id or view_id,
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
    return stored


def _keep(state: SlackState, user: str, stored: JSON) -> JSON:
    state.views[stored["id"]] = OpenView(stored, user)
    state.touch()
    return {"view": copy.deepcopy(stored)}


def open_modal(state: SlackState, args: JSON) -> JSON:
    view = check_view(args, ("modal",))
    user = _exchange(state, args)
    stored = _stored(state, view, view_id=state.new_id("V"), root_view_id=None)
    for old in state.stacks.get(user, []):
        state.views.pop(old, None)
    state.stacks[user] = [stored["id"]]
    return _keep(state, user, stored)


def push(state: SlackState, args: JSON) -> JSON:
    view = check_view(args, ("modal",))
    return push_view(state, _exchange(state, args), view)


def push_view(state: SlackState, user: str, view: JSON) -> JSON:
    """Put a checked modal on top of the modals `user` has open."""
    stack = state.stacks.get(user) or []
    if not stack:
        raise invalid_arguments("no modal is open to push onto")
    if len(stack) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    root = state.views[stack[0]].view["id"]
    stored = _stored(state, view, view_id=state.new_id("V"), root_view_id=root)
    stored["previous_view_id"] = stack[-1]
    stack.append(stored["id"])
    return _keep(state, user, stored)


def _check_hash(args: JSON, current: JSON) -> None:
    expected = args.get("hash")
    if given(expected) and expected != current["hash"]:
        raise SlackError("hash_conflict")


def update(state: SlackState, args: JSON) -> JSON:
    view_id = str(args["view_id"]) if given(args.get("view_id")) else None
    external_id = str(args["external_id"]) if given(args.get("external_id")) else None
    if view_id is None and external_id is None:
        raise invalid_arguments("either view_id or external_id is required")
    view = check_view(args, ("modal", "home"))
    if view_id is not None:
        current = state.views.get(view_id)
    else:
        current = next(
            (v for v in state.views.values() if v.view.get("external_id") == external_id), None
        )
    if current is None:
        raise SlackError("not_found")
    _check_hash(args, current.view)
    return replace_view(state, current, view)


def replace_view(state: SlackState, current: OpenView, view: JSON) -> JSON:
    """Show a checked view in place of `current`: same id, a new hash, nothing typed kept."""
    if not view.get("external_id"):
        view = {**view, "external_id": current.view.get("external_id") or ""}
    stored = _stored(
        state, view, view_id=current.view["id"], root_view_id=current.view["root_view_id"]
    )
    stored["previous_view_id"] = current.view.get("previous_view_id")
    return _keep(state, current.user, stored)


def publish(state: SlackState, args: JSON) -> JSON:
    user = required(args, "user_id")
    if state.directory.person(user) is None:
        raise SlackError("user_not_found")
    view = check_view(args, ("home",))
    current = state.views.get(state.homes.get(user, ""))
    if current is not None:
        _check_hash(args, current.view)
    view_id = current.view["id"] if current is not None else state.new_id("V")
    stored = _stored(state, view, view_id=view_id, root_view_id=None)
    state.homes[user] = view_id
    return _keep(state, user, stored)
