"""A modal's input blocks as form fields: the widget, its choices, and what is shown in it now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.app.sandbox.checks import JSON
from bot.app.sandbox.people import Channel, Person

INPUT_TYPES = {
    "plain_text_input": "text",
    "number_input": "number",
    "email_text_input": "email",
    "url_text_input": "url",
    "datepicker": "date",
    "timepicker": "time",
}
SELECTS = ("static_select", "users_select", "conversations_select", "channels_select")


@dataclass(frozen=True)
class Choice:
    value: str
    text: str
    group: str | None = None


@dataclass(frozen=True)
class Field:
    """One input block as the page shows it."""

    block_id: str
    action_id: str
    widget: str  # radio | checkbox | textarea | input | select | unsupported
    element_type: str
    label: str
    optional: bool
    hint: str | None
    error: str | None
    input_type: str = "text"
    value: str = ""
    chosen: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    placeholder: str | None = None
    max_length: int | None = None


def _text(obj: Any) -> str | None:
    return obj.get("text") if isinstance(obj, dict) else None


def _choices(element: JSON, people: tuple[Person, ...], channels: tuple[Channel, ...]):
    kind = element["type"]
    if kind == "users_select":
        return tuple(Choice(p.id, p.name) for p in people)
    if kind in ("conversations_select", "channels_select"):
        return tuple(Choice(c.id, f"#{c.name}") for c in channels)
    found = [Choice(o["value"], _text(o.get("text")) or "") for o in element.get("options") or []]
    for group in element.get("option_groups") or []:
        label = _text(group.get("label"))
        found += [Choice(o["value"], _text(o.get("text")) or "", label) for o in group["options"]]
    return tuple(found)


def _initial(element: JSON) -> list[str]:
    """What the element shows before anyone types: Slack's `initial_*` fields."""
    if isinstance(element.get("initial_option"), dict):
        return [element["initial_option"].get("value", "")]
    if element.get("initial_options"):
        return [o.get("value", "") for o in element["initial_options"]]
    for name in ("initial_value", "initial_date", "initial_time", "initial_user"):
        if element.get(name) not in (None, ""):
            return [str(element[name])]
    for name in ("initial_conversation", "initial_channel"):
        if element.get(name):
            return [str(element[name])]
    return []


def _widget(element: JSON) -> tuple[str, str]:
    kind = element["type"]
    if kind == "radio_buttons":
        return "radio", "radio"
    if kind == "checkboxes":
        return "checkbox", "checkbox"
    if kind == "plain_text_input" and element.get("multiline"):
        return "textarea", "text"
    if kind in INPUT_TYPES:
        return "input", INPUT_TYPES[kind]
    if kind in SELECTS:
        return "select", ""
    return "unsupported", ""


def field_of(
    block: JSON,
    *,
    entered: JSON,
    errors: dict[str, str],
    people: tuple[Person, ...],
    channels: tuple[Channel, ...],
) -> Field:
    """The field for an input block, showing what was typed, else the element's initial value."""
    element = block["element"]
    block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
    typed = (entered.get(block_id) or {}).get(action_id)
    if typed is None:
        shown = _initial(element)
    else:
        shown = [str(v) for v in typed] if isinstance(typed, list) else [str(typed)]
    widget, input_type = _widget(element)
    return Field(
        block_id=block_id,
        action_id=action_id,
        widget=widget,
        element_type=element["type"],
        label=_text(block.get("label")) or "",
        optional=bool(block.get("optional")),
        hint=_text(block.get("hint")),
        error=errors.get(block_id),
        input_type=input_type,
        value=shown[0] if shown else "",
        chosen=tuple(shown),
        choices=_choices(element, people, channels),
        placeholder=_text(element.get("placeholder")),
        max_length=element.get("max_length"),
    )
