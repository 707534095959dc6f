"""The Passive insight and Promoter advocacy modals, and the parsers of their submissions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks.forms import Errors, _choice, _long, _parse_cause, _string
from blocks.ids import ModalAction, ModalBlock, ModalCallback
from blocks.modals import _cause, _modal, _radio, _text
from bot.domain.vocabulary import AdvocacyKind, AdvocacyStage

ADVOCACY_KINDS = {
    AdvocacyKind.REVIEW: "Review",
    AdvocacyKind.CASE_STUDY: "Case study",
    AdvocacyKind.TESTIMONIAL: "Testimonial",
    AdvocacyKind.REFERRAL: "Referral",
    AdvocacyKind.REFERENCE_CALL: "Reference call",
}
ADVOCACY_STAGES = {
    AdvocacyStage.ASKED: "Asked",
    AdvocacyStage.AGREED: "Agreed",
    AdvocacyStage.DONE: "Done",
}


@dataclass(frozen=True)
class InsightInput:
    theme: str
    quick_win: str | None
    notes: str | None


@dataclass(frozen=True)
class AdvocacyInput:
    kind: AdvocacyKind
    stage: AdvocacyStage
    notes: str | None


def insight_modal(
    case_id: int,
    *,
    root_causes: Sequence[str],
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Log what a Passive told us: a theme from the root causes, a quick win and notes."""
    blocks: list[Block] = [
        _cause(root_causes, label="Theme"),
        _text(
            ModalBlock.QUICK_WIN,
            ModalAction.QUICK_WIN,
            "Quick win",
            placeholder="The one thing that would make it a 9 or 10",
        ),
        _text(ModalBlock.INSIGHT_NOTES, ModalAction.INSIGHT_NOTES, "Notes"),
    ]
    return _modal(
        ModalCallback.INSIGHT,
        "Log insight",
        "Save",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=None,
    )


def advocacy_modal(case_id: int, *, channel: str | None = None, ts: str | None = None) -> View:
    """Log an advocacy ask of a Promoter: what, how far it has come, and notes."""
    blocks: list[Block] = [
        _radio(ModalBlock.ADVOCACY_KIND, ModalAction.ADVOCACY_KIND, "Advocacy", ADVOCACY_KINDS),
        _radio(
            ModalBlock.ADVOCACY_STAGE,
            ModalAction.ADVOCACY_STAGE,
            "Stage",
            ADVOCACY_STAGES,
            initial=AdvocacyStage.ASKED,
        ),
        _text(ModalBlock.ADVOCACY_NOTES, ModalAction.ADVOCACY_NOTES, "Notes"),
    ]
    return _modal(
        ModalCallback.ADVOCACY,
        "Log advocacy",
        "Save",
        blocks,
        case_id=case_id,
        channel=channel,
        ts=ts,
        subject=None,
    )


def parse_insight(
    values: Mapping[str, Any], *, today: date, root_causes: Sequence[str] | None = None
) -> InsightInput | Errors:
    """A Passive insight, or {block_id: message}."""
    errors: Errors = {}
    theme = _parse_cause(values, root_causes, errors)
    if ModalBlock.CAUSE in errors and theme is None:
        errors[ModalBlock.CAUSE] = "Choose a theme."
    quick_win = _string(values, ModalBlock.QUICK_WIN, ModalAction.QUICK_WIN)
    _long(quick_win, ModalBlock.QUICK_WIN, errors)
    notes = _string(values, ModalBlock.INSIGHT_NOTES, ModalAction.INSIGHT_NOTES)
    _long(notes, ModalBlock.INSIGHT_NOTES, errors)
    if errors:
        return errors
    assert theme is not None
    return InsightInput(theme=theme, quick_win=quick_win, notes=notes)


def parse_advocacy(values: Mapping[str, Any], *, today: date) -> AdvocacyInput | Errors:
    """An advocacy entry, or {block_id: message}."""
    errors: Errors = {}
    kind = _choice(values, ModalBlock.ADVOCACY_KIND, ModalAction.ADVOCACY_KIND)
    if kind not in set(AdvocacyKind):
        errors[ModalBlock.ADVOCACY_KIND] = "Choose what the customer is asked for."
    stage = _choice(values, ModalBlock.ADVOCACY_STAGE, ModalAction.ADVOCACY_STAGE)
    if stage not in set(AdvocacyStage):
        errors[ModalBlock.ADVOCACY_STAGE] = "Choose a stage."
    notes = _string(values, ModalBlock.ADVOCACY_NOTES, ModalAction.ADVOCACY_NOTES)
    _long(notes, ModalBlock.ADVOCACY_NOTES, errors)
    if errors:
        return errors
    return AdvocacyInput(kind=AdvocacyKind(kind), stage=AdvocacyStage(stage), notes=notes)
