"""The alert card: a pure function of a case's stored state."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.ids import CardAction, CardBlock
from blocks.text import escape, mention, money, quote, slack_date, truncate
from storage.models import CaseStatus
from storage.outbox import CaseView

SEGMENT_ICON = {
    "detractor": ":red_circle:",
    "passive": ":large_yellow_circle:",
    "promoter": ":large_green_circle:",
}
REASON_TEXT = {
    "churn_intent": "churn intent in the comment",
    "top_revenue": "top-revenue account",
    "product_complaint": "product complaint",
    "service_complaint": "service complaint",
    "no_comment": "no comment: reach out by email first",
}
SECTION_LIMIT = 3000


def status_text(view: CaseView, now: datetime) -> str:
    """open / claimed / contacted / resolved, flagged overdue once the contact deadline passes."""
    case = view.case
    label = case.status
    if case.status == CaseStatus.CLAIMED and case.claimed_by:
        label = f"claimed by <@{case.claimed_by}>"
    overdue = case.first_contact_at is None and case.status != CaseStatus.RESOLVED
    if overdue and now > case.contact_due_at:
        label += " · :warning: *overdue*"
    return label


def card_text(view: CaseView) -> str:
    """The plain-text fallback shown in notifications."""
    case = view.case
    return truncate(
        f"{case.segment.title()} {case.score}/10 from {view.customer.name} ({view.account.name})",
        300,
    )


def card_blocks(view: CaseView, *, now: datetime, actions: bool = True) -> list[Block]:
    """The whole card for a case, re-rendered from stored state on every change."""
    case, account, customer = view.case, view.account, view.customer
    header = f"{case.segment.title()} · {case.score}/10 · {account.name}"
    facts = [
        f"*Customer*\n{escape(customer.name)}"
        + (f"\n{escape(customer.email)}" if customer.email else "")
        + (f"\n{escape(customer.phone)}" if customer.phone else ""),
        f"*Account*\n{escape(account.name)} · {money(account.arr)} ARR"
        + (f"\n{escape(account.plan)} plan" if account.plan else "")
        + (f"\nRenews {account.renewal_date.isoformat()}" if account.renewal_date else ""),
        f"*Owner*\n{mention(case.owner_user_id, case.owner_ref)}",
        f"*Status*\n{status_text(view, now)}",
        f"*Contact by*\n{slack_date(case.contact_due_at)}",
    ]
    blocks: list[Block] = [
        HeaderBlock(block_id=CardBlock.HEADER, text=truncate(header, 150)),
        SectionBlock(
            block_id=CardBlock.FACTS,
            text=f"{SEGMENT_ICON[case.segment]} *{case.segment.title()}* · score *{case.score}*",
            fields=[MarkdownTextObject(text=truncate(f, 2000)) for f in facts],
        ),
    ]
    comment = view.response.comment
    blocks.append(
        SectionBlock(
            block_id=CardBlock.COMMENT,
            text=quote(comment, SECTION_LIMIT) if comment else "_No comment left._",
        )
    )
    reasons = [REASON_TEXT[r] for r in case.reasons if r in REASON_TEXT]
    if reasons:
        blocks.append(
            ContextBlock(
                block_id=CardBlock.ROUTING,
                elements=[
                    MarkdownTextObject(text=truncate("Routed for: " + "; ".join(reasons), 2000))
                ],
            )
        )
    history = _history(view)
    if history:
        blocks.append(
            ContextBlock(
                block_id=CardBlock.HISTORY,
                elements=[MarkdownTextObject(text=truncate(h, 2000)) for h in history],
            )
        )
    if actions and case.status != CaseStatus.RESOLVED:
        blocks += [DividerBlock(), _actions(view)]
    return blocks


def _history(view: CaseView) -> list[str]:
    lines = []
    touchpoints = sorted(view.response.touchpoints, key=lambda t: t.get("at", ""), reverse=True)
    if touchpoints:
        recent = [
            f"{escape(t.get('kind', ''))} ({t.get('at', '')[:10]}): {escape(t.get('summary', ''))}"
            for t in touchpoints[:3]
        ]
        lines.append("*Recent touchpoints:* " + " · ".join(recent))
    if view.earlier_scores:
        scores = [f"{score} ({at:%Y-%m-%d})" for at, score in view.earlier_scores]
        lines.append("*Earlier scores:* " + ", ".join(scores))
    return lines


def _actions(view: CaseView) -> ActionsBlock:
    value = str(view.case.id)
    if view.case.segment == "detractor":
        buttons = [
            ButtonElement(text="Claim", action_id=CardAction.CLAIM, value=value, style="primary"),
            ButtonElement(text="Log contact", action_id=CardAction.LOG_CONTACT, value=value),
            ButtonElement(text="Root cause", action_id=CardAction.ROOT_CAUSE, value=value),
            ButtonElement(text="Resolve", action_id=CardAction.RESOLVE, value=value),
            ButtonElement(text="Reassign", action_id=CardAction.REASSIGN, value=value),
        ]
    else:
        buttons = [
            ButtonElement(text="Log contact", action_id=CardAction.LOG_CONTACT, value=value),
            ButtonElement(text="Done", action_id=CardAction.DONE, value=value, style="primary"),
        ]
    return ActionsBlock(block_id=CardBlock.ACTIONS, elements=buttons)


def alert_text(view: CaseView, reason: str | None) -> str:
    """The one-line summary of an immediate alert DM or channel flag."""
    case = view.case
    why = REASON_TEXT.get(reason or "", "needs attention")
    return truncate(
        f"{SEGMENT_ICON.get(case.segment, '')} {case.segment.title()} {case.score}/10 from "
        f"{escape(view.customer.name)} at {escape(view.account.name)} "
        f"({money(view.account.arr)} ARR): {why}.",
        SECTION_LIMIT,
    )
