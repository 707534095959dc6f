"""The modals behind the card's buttons, and the parsers of what their submissions carry."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
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
    "LogContactInput",
    "ModalAction",
    "ModalBlock",
    "ModalCallback",
    "ReassignInput",
    "ResolveInput",
    "RootCauseInput",
    "log_contact_modal",
    "parse_log_contact",
    "parse_reassign",
    "parse_resolve",
    "parse_root_cause",
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

Errors = dict[str, str]


@dataclass(frozen=True)
class LogContactInput:
    how: str  # phone | email | video | meeting
    outcome: str  # reached | voicemail | no_answer
    notes: str | None
    next_follow_up: date | None


@dataclass(frozen=True)
class RootCauseInput:
    cause: str
    notes: str | None
    action_items: str | None
    next_follow_up: date | None
    escalation: str | None  # None | "product" | "support"


@dataclass(frozen=True)
class ResolveInput:
    summary: str
    satisfied: bool
    root_cause: str | None
    resurvey_on: date


@dataclass(frozen=True)
class ReassignInput:
    new_owner: str


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
            initial="none",
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


# -- parsers ------------------------------------------------------------------------------------


def _element(values: Mapping[str, Any], block: ModalBlock, action: ModalAction) -> Mapping:
    """The state of one input: by its action id, else the block's only element."""
    entry = values.get(block) or {}
    if action in entry:
        return entry[action] or {}
    if len(entry) == 1:
        return next(iter(entry.values())) or {}
    return {}


def _choice(values: Mapping[str, Any], block: ModalBlock, action: ModalAction) -> str | None:
    element = _element(values, block, action)
    option = element.get("selected_option")
    if isinstance(option, Mapping):
        return option.get("value") or None
    value = element.get("value")
    return value.strip() or None if isinstance(value, str) else None


def _string(values: Mapping[str, Any], block: ModalBlock, action: ModalAction) -> str | None:
    value = _element(values, block, action).get("value")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _day(
    values: Mapping[str, Any], block: ModalBlock, action: ModalAction, errors: Errors
) -> date | None:
    raw = _element(values, block, action).get("selected_date")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        errors[block] = "That is not a date."
        return None


def _long(value: str | None, block: ModalBlock, errors: Errors, limit: int = TEXT_LIMIT) -> None:
    if value is not None and len(value) > limit:
        errors[block] = f"Keep it under {limit:,} characters (now {len(value):,})."


def _follow_up_date(values: Mapping[str, Any], today: date, errors: Errors) -> date | None:
    on = _day(values, ModalBlock.NEXT_FOLLOW_UP, ModalAction.NEXT_FOLLOW_UP, errors)
    if on is not None and on < today:
        errors[ModalBlock.NEXT_FOLLOW_UP] = "Pick today or a later date."
    elif on is not None and on > today + timedelta(days=366):
        errors[ModalBlock.NEXT_FOLLOW_UP] = "Pick a date within the next year."
    return on


def parse_log_contact(values: Mapping[str, Any], *, today: date) -> LogContactInput | Errors:
    """A contact entry, or {block_id: message} for `response_action: errors`."""
    errors: Errors = {}
    how = _choice(values, ModalBlock.CONTACT_HOW, ModalAction.CONTACT_HOW)
    if how not in CONTACT_HOW:
        errors[ModalBlock.CONTACT_HOW] = "Choose how you contacted them."
    outcome = _choice(values, ModalBlock.CONTACT_OUTCOME, ModalAction.CONTACT_OUTCOME)
    if outcome not in CONTACT_OUTCOME:
        errors[ModalBlock.CONTACT_OUTCOME] = "Choose the outcome."
    notes = _string(values, ModalBlock.CONTACT_NOTES, ModalAction.CONTACT_NOTES)
    _long(notes, ModalBlock.CONTACT_NOTES, errors)
    follow_up = _follow_up_date(values, today, errors)
    if errors:
        return errors
    assert how is not None and outcome is not None
    return LogContactInput(how=how, outcome=outcome, notes=notes, next_follow_up=follow_up)


def _parse_cause(
    values: Mapping[str, Any], root_causes: Sequence[str] | None, errors: Errors
) -> str | None:
    cause = _choice(values, ModalBlock.CAUSE, ModalAction.CAUSE)
    if cause is None:
        errors[ModalBlock.CAUSE] = "Choose a root cause."
    elif len(cause) > CAUSE_LIMIT:
        errors[ModalBlock.CAUSE] = f"Keep it under {CAUSE_LIMIT} characters."
    elif root_causes and cause not in {o.value for o in cause_options(root_causes)}:
        errors[ModalBlock.CAUSE] = "Choose one of the listed causes."
    return cause


def parse_root_cause(
    values: Mapping[str, Any], *, today: date, root_causes: Sequence[str] | None = None
) -> RootCauseInput | Errors:
    """A root-cause entry, or {block_id: message}; checked against `root_causes` when given."""
    errors: Errors = {}
    cause = _parse_cause(values, root_causes, errors)
    notes = _string(values, ModalBlock.CAUSE_NOTES, ModalAction.CAUSE_NOTES)
    _long(notes, ModalBlock.CAUSE_NOTES, errors)
    items = _string(values, ModalBlock.ACTION_ITEMS, ModalAction.ACTION_ITEMS)
    _long(items, ModalBlock.ACTION_ITEMS, errors)
    follow_up = _follow_up_date(values, today, errors)
    escalation = _choice(values, ModalBlock.ESCALATION, ModalAction.ESCALATION) or "none"
    if escalation not in ESCALATIONS:
        errors[ModalBlock.ESCALATION] = "Choose one of the options."
    if errors:
        return errors
    assert cause is not None
    return RootCauseInput(
        cause=cause,
        notes=notes,
        action_items=items,
        next_follow_up=follow_up,
        escalation=None if escalation == "none" else escalation,
    )


def parse_resolve(
    values: Mapping[str, Any],
    *,
    today: date,
    needs_root_cause: bool = False,
    root_causes: Sequence[str] | None = None,
) -> ResolveInput | Errors:
    """A resolution, or {block_id: message}.

    The root cause is read when the modal asked for it (its block is in `values`) and required
    then, or whenever `needs_root_cause` is set.
    """
    errors: Errors = {}
    summary = _string(values, ModalBlock.SUMMARY, ModalAction.SUMMARY)
    if summary is None:
        errors[ModalBlock.SUMMARY] = "Say how it was resolved."
    _long(summary, ModalBlock.SUMMARY, errors)
    satisfied = _choice(values, ModalBlock.SATISFIED, ModalAction.SATISFIED)
    if satisfied not in SATISFIED:
        errors[ModalBlock.SATISFIED] = "Say whether the customer is satisfied."
    cause = None
    if needs_root_cause or ModalBlock.CAUSE in values:
        cause = _parse_cause(values, root_causes, errors)
    resurvey = _day(values, ModalBlock.RESURVEY_ON, ModalAction.RESURVEY_ON, errors)
    if resurvey is None:
        errors.setdefault(ModalBlock.RESURVEY_ON, "Pick the re-survey date.")
    elif resurvey <= today:
        errors[ModalBlock.RESURVEY_ON] = "Pick a date after today."
    if errors:
        return errors
    assert summary is not None and resurvey is not None
    return ResolveInput(
        summary=summary, satisfied=satisfied == "yes", root_cause=cause, resurvey_on=resurvey
    )


def parse_reassign(
    values: Mapping[str, Any], *, today: date | None = None, current_owner: str | None = None
) -> ReassignInput | Errors:
    """The new owner, or {block_id: message}; `today` only keeps the parsers' calls alike."""
    del today
    element = _element(values, ModalBlock.NEW_OWNER, ModalAction.NEW_OWNER)
    user = element.get("selected_user")
    if not isinstance(user, str) or not user:
        return {ModalBlock.NEW_OWNER: "Choose the new owner."}
    if current_owner and user == current_owner:
        return {ModalBlock.NEW_OWNER: "They already own this case."}
    return ReassignInput(new_owner=user)
