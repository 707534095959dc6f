"""What the modals' submissions carry: typed inputs, or field errors keyed by block id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from blocks.ids import ModalAction, ModalBlock
from blocks.modals import (
    CAUSE_LIMIT,
    CONTACT_HOW,
    CONTACT_OUTCOME,
    ESCALATIONS,
    NO_HANDOFF,
    SATISFIED,
    TEXT_LIMIT,
    cause_options,
)

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
    escalation = _choice(values, ModalBlock.ESCALATION, ModalAction.ESCALATION) or NO_HANDOFF
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
        escalation=None if escalation == NO_HANDOFF else escalation,
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
    elif resurvey < today:
        # Today is allowed: a short `sla.resurvey_after` proposes it, and a form's default must
        # always be accepted.
        errors[ModalBlock.RESURVEY_ON] = "Pick today or a later date."
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


@dataclass(frozen=True)
class MarkFixedInput:
    what_changed: str
    shipped_on: date


def parse_mark_fixed(values: Mapping[str, Any], *, today: date) -> MarkFixedInput | Errors:
    """What changed and when it shipped (not in the future), or field errors."""
    errors: Errors = {}
    what = _string(values, ModalBlock.FIX_WHAT, ModalAction.FIX_WHAT)
    if what is None:
        errors[ModalBlock.FIX_WHAT] = "Say what changed."
    _long(what, ModalBlock.FIX_WHAT, errors, limit=2000)
    shipped = _day(values, ModalBlock.FIX_SHIPPED, ModalAction.FIX_SHIPPED, errors)
    if shipped is None and ModalBlock.FIX_SHIPPED not in errors:
        errors[ModalBlock.FIX_SHIPPED] = "Pick the day it shipped."
    elif shipped is not None and shipped > today:
        errors[ModalBlock.FIX_SHIPPED] = "Pick the day it shipped: today or earlier."
    if errors:
        return errors
    assert what is not None and shipped is not None
    return MarkFixedInput(what_changed=what, shipped_on=shipped)
