"""The modals behind the card's buttons, and the parsers of what their submissions carry."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import ModalAction, ModalBlock, ModalCallback
from blocks.text import day, truncate, who
from bot.domain.vocabulary import ContactMethod, ContactOutcome, Handoff

__all__ = [
    "CONTACT_HOW",
    "CONTACT_OUTCOME",
    "ESCALATIONS",
    "ModalAction",
    "ModalBlock",
    "ModalCallback",
    "log_contact_modal",
    "private_metadata",
    "read_metadata",
    "reassign_modal",
    "resolve_modal",
    "root_cause_modal",
]

TEXT_LIMIT = 3000
CAUSE_LIMIT = 100  # the root_cause column's length
OPTION_TEXT = 75
MAX_OPTIONS = 100

CONTACT_HOW = {
    ContactMethod.PHONE: "Phone",
    ContactMethod.EMAIL: "Email",
    ContactMethod.VIDEO: "Video call",
    ContactMethod.MEETING: "Meeting",
}
CONTACT_OUTCOME = {
    ContactOutcome.REACHED: "Reached",
    ContactOutcome.VOICEMAIL: "Voicemail",
    ContactOutcome.NO_ANSWER: "No answer",
}
NO_HANDOFF = "none"
ESCALATIONS = {
    NO_HANDOFF: "None",
    Handoff.PRODUCT: "Post an internal ticket to the product channel",
    Handoff.SUPPORT: "Ask the support lead to review",
}
SATISFIED = {"yes": "Yes", "no": "No"}


# -- private metadata ---------------------------------------------------------------------------


def private_metadata(case_id: int, channel: str | None = None, ts: str | None = None) -> str:
    """The modal's private_metadata: the case id, and the card's channel and ts when known."""
    data: dict[str, Any] = {"case_id": int(case_id)}
    if channel:
        data["channel"] = channel
    if ts:
        data["ts"] = ts
    return json.dumps(data, separators=(",", ":"))


def read_metadata(text: str | None) -> dict[str, Any]:
    """The dict `private_metadata` wrote; ValueError when it is not ours."""
    data = json.loads(text or "")
    if not isinstance(data, dict) or not isinstance(data.get("case_id"), int):
        raise ValueError("private_metadata carries no case id")
    return data


# -- builders -----------------------------------------------------------------------------------


def _options(choices: Mapping[str, str]) -> list[Option]:
    return [Option(value=value, text=label) for value, label in choices.items()]


def _radio(
    block: ModalBlock,
    action: ModalAction,
    label: str,
    choices: Mapping[str, str],
    *,
    optional: bool = False,
    initial: str | None = None,
    hint: str | None = None,
) -> InputBlock:
    options = _options(choices)
    chosen = next((o for o in options if o.value == initial), None)
    return InputBlock(
        block_id=block,
        label=label,
        optional=optional,
        hint=hint,
        element=RadioButtonsElement(action_id=action, options=options, initial_option=chosen),
    )


def _text(
    block: ModalBlock,
    action: ModalAction,
    label: str,
    *,
    optional: bool = True,
    multiline: bool = True,
    placeholder: str | None = None,
    hint: str | None = None,
    max_length: int = TEXT_LIMIT,
) -> InputBlock:
    return InputBlock(
        block_id=block,
        label=label,
        optional=optional,
        hint=hint,
        element=PlainTextInputElement(
            action_id=action, multiline=multiline, placeholder=placeholder, max_length=max_length
        ),
    )


def _date(
    block: ModalBlock,
    action: ModalAction,
    label: str,
    *,
    optional: bool = True,
    initial: date | None = None,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=block,
        label=label,
        optional=optional,
        hint=hint,
        element=DatePickerElement(
            action_id=action,
            initial_date=initial.isoformat() if initial else None,
            placeholder="Pick a date",
        ),
    )


def cause_options(root_causes: Sequence[str]) -> list[Option]:
    """The root causes as menu options: unique, at most 100, texts within Slack's limits."""
    seen: set[str] = set()
    options = []
    for cause in root_causes:
        value = cause.strip()[:CAUSE_LIMIT]
        if value and value not in seen:
            seen.add(value)
            options.append(Option(value=value, text=truncate(cause.strip(), OPTION_TEXT)))
    return options[:MAX_OPTIONS]


def _cause(root_causes: Sequence[str], *, label: str) -> InputBlock:
    """A menu of the configured causes, or a short text field when none are configured."""
    options = cause_options(root_causes)
    if not options:
        return _text(
            ModalBlock.CAUSE,
            ModalAction.CAUSE,
            label,
            optional=False,
            multiline=False,
            max_length=CAUSE_LIMIT,
        )
    return InputBlock(
        block_id=ModalBlock.CAUSE,
        label=label,
        optional=False,
        element=StaticSelectElement(
            action_id=ModalAction.CAUSE, placeholder="Choose a cause", options=options
        ),
    )


def _modal(
    callback: ModalCallback,
    title: str,
    submit: str,
    blocks: list[Block],
    *,
    case_id: int,
    channel: str | None,
    ts: str | None,
    subject: str | None,
) -> View:
    if subject:
        context = ContextBlock(
            block_id=ModalBlock.CONTEXT,
            elements=[MarkdownTextObject(text=truncate(subject, 2000))],
        )
        blocks = [context, *blocks]
    return View(
        type="modal",
        callback_id=callback,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=private_metadata(case_id, channel, ts),
        blocks=blocks,
    )


def _follow_up(today: date) -> InputBlock:
    return _date(
        ModalBlock.NEXT_FOLLOW_UP,
        ModalAction.NEXT_FOLLOW_UP,
        "Next follow-up",
        hint=f"Optional: the next check-in with the customer, {day(today)} or later.",
    )


def log_contact_modal(
    case_id: int,
    *,
    today: date,
    channel: str | None = None,
    ts: str | None = None,
    subject: str | None = None,
) -> View:
    """Record one contact attempt: how, the outcome, notes and the next check-in.

    `subject` is optional, already-safe mrkdwn shown above the form (such as `card_text(view)`).
    """
    blocks: list[Block] = [
        _radio(ModalBlock.CONTACT_HOW, ModalAction.CONTACT_HOW, "How", CONTACT_HOW),
        _radio(ModalBlock.CONTACT_OUTCOME, ModalAction.CONTACT_OUTCOME, "Outcome", CONTACT_OUTCOME),
        _text(
            ModalBlock.CONTACT_NOTES,
            ModalAction.CONTACT_NOTES,
            "Notes",
            placeholder="What did you hear? What did you agree?",
        ),
        _follow_up(today),
    ]
    return _modal(
        ModalCallback.LOG_CONTACT,
        "Log contact",
        "Save",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=subject,
    )


def root_cause_modal(
    case_id: int,
    *,
    root_causes: Sequence[str],
    today: date,
    channel: str | None = None,
    ts: str | None = None,
    subject: str | None = None,
) -> View:
    """Log why the customer was unhappy, what was agreed, and whom to bring in."""
    blocks: list[Block] = [
        _cause(root_causes, label="Root cause"),
        _text(ModalBlock.CAUSE_NOTES, ModalAction.CAUSE_NOTES, "Notes"),
        _text(
            ModalBlock.ACTION_ITEMS,
            ModalAction.ACTION_ITEMS,
            "Agreed action items",
            placeholder="What you committed to, and by when",
        ),
        _follow_up(today),
        _radio(
            ModalBlock.ESCALATION,
            ModalAction.ESCALATION,
            "Cross-functional escalation",
            ESCALATIONS,
            optional=True,
            initial=NO_HANDOFF,
            hint="You stay the customer's single point of contact; this only brings in help.",
        ),
    ]
    return _modal(
        ModalCallback.ROOT_CAUSE,
        "Root cause",
        "Save",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=subject,
    )


def resolve_modal(
    case_id: int,
    *,
    root_causes: Sequence[str],
    needs_root_cause: bool,
    resurvey_default: date,
    channel: str | None = None,
    ts: str | None = None,
    subject: str | None = None,
) -> View:
    """Close the loop: what was done, whether the customer is satisfied, when to re-survey."""
    blocks: list[Block] = [
        _text(
            ModalBlock.SUMMARY,
            ModalAction.SUMMARY,
            "Resolution summary",
            optional=False,
            placeholder="What was fixed or agreed, and how the customer took it",
        ),
        _radio(ModalBlock.SATISFIED, ModalAction.SATISFIED, "Customer satisfied?", SATISFIED),
    ]
    if needs_root_cause:
        blocks.append(_cause(root_causes, label="Root cause"))
    blocks.append(
        _date(
            ModalBlock.RESURVEY_ON,
            ModalAction.RESURVEY_ON,
            "Re-survey on",
            optional=False,
            initial=resurvey_default,
            hint="When to ask this customer for a new score.",
        )
    )
    return _modal(
        ModalCallback.RESOLVE,
        "Resolve case",
        "Resolve",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=subject,
    )


def reassign_modal(
    case_id: int,
    *,
    current_owner: str | None,
    channel: str | None = None,
    ts: str | None = None,
    subject: str | None = None,
) -> View:
    """Hand the case to someone else; they are told in a direct message."""
    blocks: list[Block] = []
    if current_owner:
        blocks.append(
            ContextBlock(
                block_id=ModalBlock.CURRENT_OWNER,
                elements=[MarkdownTextObject(text=f"Owned now by {who(current_owner)}.")],
            )
        )
    blocks.append(
        InputBlock(
            block_id=ModalBlock.NEW_OWNER,
            label="New owner",
            optional=False,
            hint="They get a direct message with the case and become its single point of contact.",
            element=UserSelectElement(
                action_id=ModalAction.NEW_OWNER, placeholder="Choose a person"
            ),
        )
    )
    return _modal(
        ModalCallback.REASSIGN,
        "Reassign case",
        "Reassign",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=subject,
    )
