"""The case card: a pure function of a case's stored state, re-rendered on every change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from blocks.ids import CardAction, CardBlock
from blocks.text import day, mention, money, quote, safe, slack_date, truncate
from bot.domain.patterns import is_user_id
from bot.domain.vocabulary import (
    UNMATCHED_ACCOUNT,
    CaseStatus,
    Priority,
    Reason,
    Segment,
    case_tags,
)
from storage.case_view import CaseView

if TYPE_CHECKING:
    from blocks.scripts import Script

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
    "no_comment": "no comment",
    "critical_tier": "critical tier",
}
PRIORITY_ICON = {
    Priority.CRITICAL: ":rotating_light:",
    Priority.HIGH: ":small_red_triangle:",
    Priority.MEDIUM: ":small_orange_diamond:",
    Priority.LOW: ":small_blue_diamond:",
}
CALL_SUGGESTIONS = {
    Segment.PASSIVE: ":telephone_receiver: *Suggested: a call.* A top-revenue Passive: "
    "call to learn what would make it a 9 or 10, then log the insight.",
    Segment.PROMOTER: ":chart_with_upwards_trend: *Suggested: an expansion call.* A "
    "top-revenue Promoter: explore where else the product could help them.",
}
TEST_MARK = "TEST · "
"""Leads a test response's card: it counts in no report."""
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
MESSAGE_BLOCKS = 50
TOUCHPOINTS_SHOWN = 3
SCORES_SHOWN = 10


def is_overdue(view: CaseView, now: datetime) -> bool:
    """The contact deadline has passed with no first contact and the case is still open."""
    case = view.case
    return (
        case.status != CaseStatus.RESOLVED
        and case.first_contact_at is None
        and now > case.contact_due_at
    )


def status_label(view: CaseView) -> str:
    """The case's state in a few words of mrkdwn, without the overdue flag."""
    case = view.case
    if case.status == CaseStatus.RESOLVED:
        word = "Resolved" if case.segment == Segment.DETRACTOR else "Done"
        label = f":white_check_mark: {word}"
        if case.resolved_at:
            label += f" {slack_date(case.resolved_at)}"
        satisfied = case.customer_satisfied
        if satisfied is not None:
            label += f" · customer satisfied: *{'yes' if satisfied else 'no'}*"
        return label
    if case.status == CaseStatus.CONTACTED or case.first_contact_at:
        label = ":speech_balloon: Contacted"
        last = case.last_contact_at or case.first_contact_at
        if last:
            label += f" (last {slack_date(last)})"
        count = case.contact_count or 0
        if count > 1:
            label += f" · {count} contacts"
        return label
    if case.status == CaseStatus.CLAIMED or case.claimed_by:
        by = f" by <@{case.claimed_by}>" if case.claimed_by else ""
        return f":raising_hand: Claimed{by}"
    return ":new: Open: not claimed yet"


def status_text(view: CaseView, now: datetime) -> str:
    """open / claimed / contacted / resolved, flagged overdue once the contact deadline passes."""
    label = status_label(view)
    if is_overdue(view, now):
        label += " · *:warning: overdue*"
    return label


def card_text(view: CaseView) -> str:
    """The short fallback shown in notifications: no comment text, customer text escaped."""
    case = view.case
    text = (
        f"{TEST_MARK if case.test else ''}{case.segment.title()} {case.score}/10 from "
        f"{safe(view.customer.name, 100)} ({safe(view.account.name, 100)})"
    )
    if case.status == CaseStatus.RESOLVED:
        text += " · resolved"
    return text


def card_blocks(
    view: CaseView,
    *,
    now: datetime,
    script: Script | None = None,
    actions: bool = True,
) -> list[Block]:
    """The whole card for a case, re-rendered from stored state on every change.

    `script` (shown until the case is resolved) is plain text; it is escaped here.
    """
    case = view.case
    blocks: list[Block] = [
        HeaderBlock(
            block_id=CardBlock.HEADER,
            text=PlainTextObject(
                text=truncate(
                    f"{TEST_MARK if case.test else ''}{SEGMENT_ICON.get(case.segment, '')} "
                    f"{case.segment.title()} · {case.score}/10 · {view.account.name}".strip(),
                    HEADER_LIMIT,
                ),
                emoji=True,
            ),
        ),
        SectionBlock(block_id=CardBlock.STATUS, text=_status_section(view, now)),
        SectionBlock(
            block_id=CardBlock.FACTS,
            fields=[MarkdownTextObject(text=truncate(f, FIELD_LIMIT)) for f in _facts(view)],
        ),
        SectionBlock(block_id=CardBlock.COMMENT, text=_comment(view)),
    ]
    routing = _routing_lines(view)
    if routing:
        blocks.append(
            ContextBlock(
                block_id=CardBlock.ROUTING,
                elements=[MarkdownTextObject(text=line) for line in routing],
            )
        )
    history = _history(view)
    if history:
        blocks.append(
            ContextBlock(
                block_id=CardBlock.HISTORY,
                elements=[MarkdownTextObject(text=h) for h in history],
            )
        )
    if script is not None and case.status != CaseStatus.RESOLVED:
        title = f"*{safe(script.title, 150)}*\n"
        blocks.append(
            SectionBlock(
                block_id=CardBlock.SCRIPT,
                text=title + safe(script.text, SECTION_LIMIT - len(title)),
            )
        )
    buttons = _buttons(view) if actions else []
    if buttons:
        blocks += [DividerBlock(), ActionsBlock(block_id=CardBlock.ACTIONS, elements=buttons)]
    return blocks[:MESSAGE_BLOCKS]


def priority_text(view: CaseView) -> str:
    """The case's priority, with its tier when a tier made it Critical."""
    case = view.case
    try:
        priority = Priority(case.priority)
    except ValueError:
        priority = Priority.HIGH
    text = f"{PRIORITY_ICON[priority]} {priority.value.title()}"
    return text + (f" · {safe(case.tier, 100)}" if case.tier else "")


def routed_text(routed_by: Mapping[str, Any] | None) -> str | None:
    """Why a `[[routing.by_touchpoint]]` rule chose the owner, in a few words."""
    if not routed_by:
        return None
    word = routed_by.get("word")
    if word:
        return f"the comment mentions “{safe(str(word), 50)}”"
    kind = safe(str(routed_by.get("kind") or "touchpoint"), 50)
    days = routed_by.get("days_before")
    when = "the day of the response"
    if isinstance(days, int) and days > 0:
        when = f"{days} day{'s' if days != 1 else ''} before the response"
    which = "last touchpoint" if routed_by.get("latest", True) else "recent touchpoint"
    return f"{which}: {kind}, {when}"


def _routing_lines(view: CaseView) -> list[str]:
    case = view.case
    lines = []
    why = routed_text(case.routed_by)
    if why:
        lines.append(f"*Routed to {mention(case.owner_user_id, case.owner_ref)}* ({why})")
    reasons = [REASON_TEXT.get(r, r.replace("_", " ")) for r in case.reasons]
    if reasons:
        lines.append(safe("Flagged for: " + "; ".join(reasons), 500))
    tags = case_tags(case.segment, case.recovery_score)
    if tags:
        lines.append("Tags: " + ", ".join(f"`{tag}`" for tag in tags))
    suggestion = CALL_SUGGESTIONS.get(case.segment)
    if suggestion and Reason.TOP_REVENUE in case.reasons and case.status != CaseStatus.RESOLVED:
        lines.append(suggestion)
    return lines


def _status_section(view: CaseView, now: datetime) -> str:
    case = view.case
    lines = [f"*Status:* {status_text(view, now)}", f"*Priority:* {priority_text(view)}"]
    if case.status == CaseStatus.RESOLVED:
        summary = case.resolution_summary
        if summary:
            lines.append(f"*Resolution:* {safe(summary, 1000)}")
    else:
        lines.append(f"*Contact by:* {slack_date(case.contact_due_at)}")
        if case.first_contact_at is not None and case.segment == Segment.DETRACTOR:
            resolve_by = f"*Resolve by:* {slack_date(case.resolution_due_at)}"
            if now > case.resolution_due_at:
                resolve_by += " · *:warning: resolution overdue*"
            lines.append(resolve_by)
        follow_up = case.next_follow_up_on
        if isinstance(follow_up, date):
            lines.append(f"*Next follow-up:* {day(follow_up)}")
    cause = case.root_cause
    if cause:
        line = f"*Root cause:* {safe(cause, 200)}"
        notes = case.root_cause_notes
        if notes:
            line += f" · {safe(notes, 300)}"
        lines.append(line)
    items = case.action_items
    if items and case.status != CaseStatus.RESOLVED:
        lines.append(f"*Agreed actions:* {safe(items, 500)}")
    resurvey = case.resurvey_on
    if case.recovery_score is not None:
        lines.append(f"*Recovery:* {case.score} → {case.recovery_score}")
    elif case.status == CaseStatus.RESOLVED and isinstance(resurvey, date):
        lines.append(f"*Re-survey:* {day(resurvey)}")
    return truncate("\n".join(lines), SECTION_LIMIT)


def _facts(view: CaseView) -> list[str]:
    account, customer = view.account, view.customer
    person = f"*Customer*\n{safe(customer.name, 300) or '_no name_'}"
    if customer.email:
        person += f"\n{safe(customer.email, 320)}"
    if customer.phone:
        person += f"\n{safe(customer.phone, 100)}"
    if account.id == UNMATCHED_ACCOUNT:
        company = (
            "*Account*\nNo account matched this respondent: add their email domain to the "
            "account directory (`nps-bot import accounts`)."
        )
        return [person, company, _owner_field(view)]
    company = f"*Account*\n{safe(account.name, 300)}\n{money(account.arr)} ARR"
    if account.plan:
        company += f" · {safe(account.plan, 200)} plan"
    if account.renewal_date:
        company += f"\nRenews {day(account.renewal_date)}"
    return [person, company, _owner_field(view)]


def _owner_field(view: CaseView) -> str:
    case = view.case
    text = f"*Owner*\n{mention(case.owner_user_id, case.owner_ref)}"
    owner = view.account.owner
    if case.routed_by and owner and owner not in (case.owner_ref, case.owner_user_id):
        account_owner = mention(owner if is_user_id(owner) else None, owner)
        text += f"\nAccount owner: {account_owner}"
    return text


def _comment(view: CaseView) -> str:
    comment = (view.response.comment or "").strip()
    if comment:
        return quote(comment, SECTION_LIMIT)
    text = "_No comment left._"
    if view.case.suggest_email_first:
        text += " Suggest email outreach first: ask what went wrong before calling."
    return text


def _when(at: Any) -> str:
    if isinstance(at, datetime):
        return f"{at:%Y-%m-%d}"
    return safe(str(at or "")[:10], 20)


def _history(view: CaseView) -> list[str]:
    lines = []
    touchpoints = [t for t in view.touchpoints if isinstance(t, Mapping)]
    if touchpoints:
        recent = [
            f"{safe(str(t.get('kind') or 'touchpoint'), 50)} ({_when(t.get('at'))}): "
            f"{safe(str(t.get('summary') or ''), 300)}"
            for t in touchpoints[:TOUCHPOINTS_SHOWN]
        ]
        more = len(touchpoints) - TOUCHPOINTS_SHOWN
        text = "*Recent touchpoints:* " + " · ".join(recent)
        lines.append(text + (f" · and {more} earlier" if more > 0 else ""))
    if view.earlier_scores:
        scores = sorted(view.earlier_scores, key=lambda s: s[0], reverse=True)
        shown = [f"{score} ({at:%Y-%m-%d})" for at, score in scores[:SCORES_SHOWN]]
        more = len(scores) - SCORES_SHOWN
        text = "*Earlier scores:* " + ", ".join(shown)
        lines.append(text + (f" and {more} more" if more > 0 else ""))
    return [truncate(line, FIELD_LIMIT) for line in lines]


def _buttons(view: CaseView) -> list[ButtonElement]:
    """The buttons the case's segment and state call for; none once resolved."""
    case = view.case
    if case.status == CaseStatus.RESOLVED:
        return []
    value = str(case.id)
    if case.segment != Segment.DETRACTOR:
        extra = (
            ButtonElement(text="Log insight", action_id=CardAction.LOG_INSIGHT, value=value)
            if case.segment == Segment.PASSIVE
            else ButtonElement(text="Log advocacy", action_id=CardAction.LOG_ADVOCACY, value=value)
        )
        return [
            ButtonElement(text="Log contact", action_id=CardAction.LOG_CONTACT, value=value),
            extra,
            ButtonElement(text="Done", action_id=CardAction.DONE, value=value, style="primary"),
        ]
    unclaimed = (
        case.status == CaseStatus.OPEN and not case.claimed_by and case.first_contact_at is None
    )
    buttons = []
    if unclaimed:
        buttons.append(
            ButtonElement(text="Claim", action_id=CardAction.CLAIM, value=value, style="primary")
        )
    buttons += [
        ButtonElement(text="Log contact", action_id=CardAction.LOG_CONTACT, value=value),
        ButtonElement(text="Root cause", action_id=CardAction.ROOT_CAUSE, value=value),
        ButtonElement(
            text="Resolve",
            action_id=CardAction.RESOLVE,
            value=value,
            style=None if unclaimed else "primary",
        ),
        ButtonElement(text="Reassign", action_id=CardAction.REASSIGN, value=value),
    ]
    return buttons


def alert_text(view: CaseView, reason: str | None) -> str:
    """The one-line summary of an immediate alert DM or channel flag."""
    case = view.case
    why = REASON_TEXT.get(reason or "", "needs attention")
    return truncate(
        f"{SEGMENT_ICON.get(case.segment, '')} {case.segment.title()} {case.score}/10 from "
        f"{safe(view.customer.name, 300)} at {safe(view.account.name, 300)} "
        f"({money(view.account.arr)} ARR): {why}.",
        SECTION_LIMIT,
    )
