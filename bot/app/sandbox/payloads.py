"""What Slack sends to an app when a person clicks, submits, types a command or opens Home."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterator
from typing import Any

from bot.app.sandbox.checks import JSON
from bot.app.sandbox.people import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, Person

# Slack still sends the deprecated verification token; Bolt ignores it when told to.
VERIFICATION_TOKEN = "sandbox-verification-token"
REQUIRED = "Please complete this required field."


def _user(person: Person) -> JSON:
    return {
        "id": person.id,
        "username": person.handle,
        "name": person.handle,
        "team_id": TEAM_ID,
    }


def _common(person: Person, trigger_id: str) -> JSON:
    return {
        "user": _user(person),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def action_ts() -> str:
    return f"{time.time():.6f}"


def block_action(
    person: Person,
    *,
    trigger_id: str,
    channel: JSON,
    message: JSON,
    element: JSON,
    block_id: str,
    response_url: str,
) -> JSON:
    """`block_actions` for a button in a message."""
    action = {
        "action_id": element["action_id"],
        "block_id": block_id,
        "text": copy.deepcopy(element.get("text")),
        "value": element.get("value"),
        "type": element["type"],
        "action_ts": action_ts(),
    }
    if element.get("style"):
        action["style"] = element["style"]
    return {
        "type": "block_actions",
        **_common(person, trigger_id),
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel["id"],
            "is_ephemeral": False,
        },
        "channel": channel,
        "message": copy.deepcopy(message),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def view_submission(person: Person, *, trigger_id: str, view: JSON, values: JSON) -> JSON:
    """`view_submission` for a modal, with what the person entered as `state.values`."""
    sent = copy.deepcopy(view)
    sent["state"] = {"values": values}
    return {
        "type": "view_submission",
        **_common(person, trigger_id),
        "view": sent,
        "response_urls": [],
    }


def view_closed(person: Person, *, view: JSON, cleared: bool) -> JSON:
    """`view_closed`, sent only for views that asked for it with `notify_on_close`."""
    common = _common(person, "")
    common.pop("trigger_id")
    return {"type": "view_closed", **common, "view": copy.deepcopy(view), "is_cleared": cleared}


def slash_command(
    person: Person,
    *,
    command: str,
    text: str,
    channel_id: str,
    channel_name: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    """The form fields of a slash command."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": person.id,
        "user_name": person.handle,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def app_home_opened(person: Person, *, view: JSON | None) -> JSON:
    """The Events API envelope of `app_home_opened` for the Home tab."""
    now = time.time()
    event: JSON = {
        "type": "app_home_opened",
        "user": person.id,
        "channel": person.dm,
        "tab": "home",
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = view
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


# --- what a person typed, as `view.state.values` ------------------------------------------------


def input_blocks(view: JSON) -> Iterator[tuple[JSON, JSON]]:
    """Each input block of a view with its element."""
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def _options(element: JSON) -> list[JSON]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += group.get("options") or []
    return found


def _chosen(element: JSON, raw: Any) -> list[JSON]:
    wanted = raw if isinstance(raw, list) else [raw]
    return [copy.deepcopy(o) for o in _options(element) if o.get("value") in wanted]


def element_state(element: JSON, raw: Any) -> JSON:
    """One element's entry in `state.values`, in the shape Slack gives it."""
    kind = element["type"]
    text = raw.strip() if isinstance(raw, str) else ""
    state: JSON = {"type": kind}
    if kind in ("radio_buttons", "static_select"):
        chosen = _chosen(element, raw)
        state["selected_option"] = chosen[0] if chosen else None
    elif kind in ("checkboxes", "multi_static_select"):
        state["selected_options"] = _chosen(element, raw)
    elif kind == "datepicker":
        state["selected_date"] = text or None
    elif kind == "timepicker":
        state["selected_time"] = text or None
    elif kind == "users_select":
        state["selected_user"] = text or None
    elif kind == "conversations_select":
        state["selected_conversation"] = text or None
    elif kind == "channels_select":
        state["selected_channel"] = text or None
    else:  # plain_text_input, number_input, email_text_input, url_text_input
        state["value"] = raw if isinstance(raw, str) and raw != "" else None
    return state


def _empty(state: JSON) -> bool:
    return not any(v for k, v in state.items() if k != "type")


def _length_problem(element: JSON, state: JSON) -> str | None:
    value = state.get("value") or ""
    if element["type"] != "plain_text_input" or not value:
        return None
    low, high = element.get("min_length"), element.get("max_length")
    if low and len(value) < low:
        return f"Must be at least {low} characters."
    if high and len(value) > high:
        return f"Must be at most {high} characters."
    return None


def view_values(view: JSON, entered: JSON) -> tuple[JSON, dict[str, str]]:
    """`state.values` for what was entered, and the errors Slack itself shows before sending."""
    values: JSON = {}
    errors: dict[str, str] = {}
    for block, element in input_blocks(view):
        block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
        raw = (entered.get(block_id) or {}).get(action_id)
        state = element_state(element, raw)
        values.setdefault(block_id, {})[action_id] = state
        if _empty(state) and not block.get("optional"):
            errors[block_id] = REQUIRED
        elif problem := _length_problem(element, state):
            errors[block_id] = problem
    return values, errors
