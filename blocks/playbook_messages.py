"""The playbook's DMs: where a routed card went, the resolution deadline's reminders, and a
recovery."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, SectionBlock

from blocks.card import routed_text
from blocks.ids import MessageBlock
from blocks.messages import case_summary
from blocks.text import mention, safe, slack_date, truncate
from storage.case_view import CaseView

SECTION_LIMIT = 3000
FALLBACK_LIMIT = 300


def _fallback(prefix: str, view: CaseView) -> str:
    return truncate(
        f"{prefix}: {view.case.segment.title()} {view.case.score}/10 from "
        f"{safe(view.customer.name, 100)} ({safe(view.account.name, 100)})",
        FALLBACK_LIMIT,
    )


def _intro(text: str) -> SectionBlock:
    return SectionBlock(block_id=MessageBlock.INTRO, text=truncate(text, SECTION_LIMIT))


def routed_dm(view: CaseView, *, permalink: str | None) -> tuple[str, list[Block]]:
    """The account owner hears that a case on their account went to someone else, and why."""
    case = view.case
    why = routed_text(case.routed_by) or "a routing rule"
    intro = (
        f":twisted_rightwards_arrows: A response from your account was routed to "
        f"{mention(case.owner_user_id, case.owner_ref)} ({why}). They own the follow-up; "
        "the card keeps you posted."
    )
    return _fallback("Routed from your account", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def resolution_reminder_dm(view: CaseView, *, permalink: str | None) -> tuple[str, list[Block]]:
    """The owner is reminded a business day before the resolution deadline."""
    due = slack_date(view.case.resolution_due_at)
    intro = f":hourglass_flowing_sand: This case should be resolved by {due}."
    return _fallback("Resolution due soon", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def resolution_overdue_dm(view: CaseView, *, permalink: str | None) -> tuple[str, list[Block]]:
    """The owner's manager hears that the resolution deadline passed."""
    case = view.case
    intro = (
        f":warning: The resolution deadline ({slack_date(case.resolution_due_at)}) passed "
        f"with this case still open; it is owned by {mention(case.owner_user_id, case.owner_ref)}."
    )
    return _fallback("Resolution overdue", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def recovery_dm(view: CaseView, *, permalink: str | None) -> tuple[str, list[Block]]:
    """The owner and the CX lead hear that a resolved customer answered the re-survey."""
    case = view.case
    intro = (
        f":chart_with_upwards_trend: {safe(view.customer.name, 100) or 'The customer'} answered "
        f"the re-survey: *{case.score} → {case.recovery_score}*."
    )
    return _fallback(f"Re-survey {case.score} → {case.recovery_score}", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]
