"""The short texts and small messages around a case: thread lines, DMs, tickets and alerts.

Each message builder returns `(fallback_text, blocks)`; the fallback is short and escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks import playbook_lines
from blocks.card import REASON_TEXT, SEGMENT_ICON, alert_text, status_label
from blocks.ids import ManagerAction, MessageBlock
from blocks.text import (
    day,
    duration,
    is_url,
    link,
    mention,
    money,
    quote,
    safe,
    slack_date,
    truncate,
    who,
)
from bot.domain.vocabulary import Action, ContactMethod, ContactOutcome, Reason
from storage.case_view import CaseView

LINE_LIMIT = 500
COMMENT_LIMIT = 500
SECTION_LIMIT = 3000
FALLBACK_LIMIT = 300

HOW_WORDS = {
    ContactMethod.PHONE: "a call",
    ContactMethod.EMAIL: "an email",
    ContactMethod.VIDEO: "a video call",
    ContactMethod.MEETING: "a meeting",
}
OUTCOME_WORDS = {
    ContactOutcome.REACHED: "reached the customer",
    ContactOutcome.VOICEMAIL: "left a voicemail",
    ContactOutcome.NO_ANSWER: "no answer",
}
ALERT_HEADLINE = {
    "churn_intent": ":rotating_light: *Churn risk*",
    "top_revenue": ":moneybag: *Top-revenue account*",
    "product_complaint": ":hammer_and_wrench: *Product complaint*",
    "service_complaint": ":sos: *Service complaint*",
    "critical_tier": ":rotating_light: *Critical tier*",
}


def _date_of(value: Any) -> str | None:
    """A date or datetime from an activity's detail (JSON: often an ISO string) for display."""
    if isinstance(value, datetime):
        return slack_date(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            return slack_date(parsed)
        return day(parsed.date())
    return None


Line = Callable[[str, Mapping[str, Any]], str]


def _received(by: str, detail: Mapping[str, Any]) -> str:
    return ":incoming_envelope: Survey response received."


def _claimed(by: str, detail: Mapping[str, Any]) -> str:
    return f":raising_hand: {by} claimed this case."


def _contact_logged(by: str, detail: Mapping[str, Any]) -> str:
    how = HOW_WORDS.get(str(detail.get("how")), "a contact")
    outcome = OUTCOME_WORDS.get(str(detail.get("outcome")))
    line = f":telephone_receiver: {by} logged {how}" + (f": {outcome}." if outcome else ".")
    follow_up = _date_of(detail.get("next_follow_up"))
    return line + (f" Next follow-up {follow_up}." if follow_up else "")


def _root_cause_logged(by: str, detail: Mapping[str, Any]) -> str:
    cause = detail.get("cause")
    return f":mag: {by} logged the root cause" + (f": *{safe(str(cause), 150)}*." if cause else ".")


def _resolved(by: str, detail: Mapping[str, Any]) -> str:
    satisfied = detail.get("satisfied")
    line = f":white_check_mark: {by} resolved the case"
    if isinstance(satisfied, bool):
        return line + f"; customer satisfied: {'yes' if satisfied else 'no'}."
    return line + "."


def _done(by: str, detail: Mapping[str, Any]) -> str:
    return f":white_check_mark: {by} marked the follow-up done."


def _reassigned(by: str, detail: Mapping[str, Any]) -> str:
    return (
        f":arrows_counterclockwise: {by} reassigned the case from "
        f"{who(detail.get('from'))} to {who(detail.get('to'))}."
    )


def _escalated(by: str, detail: Mapping[str, Any]) -> str:
    to, role = detail.get("to"), detail.get("role")
    whom = f"the {safe(str(role), 50)} {who(to)}" if role else who(to)
    line = f":rotating_light: Escalated to {whom}"
    return line + ("; the case is now theirs." if detail.get("reassigned") else ".")


def _nudged(by: str, detail: Mapping[str, Any]) -> str:
    return f":wave: {by} nudged the owner to follow up."


def _overdue(by: str, detail: Mapping[str, Any]) -> str:
    due = _date_of(detail.get("due"))
    return ":warning: The first contact is overdue" + (f" (due {due})." if due else ".")


def _answer_updated(by: str, detail: Mapping[str, Any]) -> str:
    fields = [str(f) for f in detail.get("fields") or [] if f in ("score", "comment")]
    what = " and ".join(fields) or "answer"
    return f":memo: The customer updated their {what}; the card shows it."


THREAD_LINES: dict[str, Line] = {
    Action.RECEIVED: _received,
    Action.CLAIMED: _claimed,
    Action.CONTACT_LOGGED: _contact_logged,
    Action.ROOT_CAUSE_LOGGED: _root_cause_logged,
    Action.RESOLVED: _resolved,
    Action.DONE: _done,
    Action.REASSIGNED: _reassigned,
    Action.ESCALATED: _escalated,
    Action.NUDGED: _nudged,
    Action.OVERDUE: _overdue,
    Action.ANSWER_UPDATED: _answer_updated,
    Action.INSIGHT_LOGGED: playbook_lines.insight_logged,
    Action.ADVOCACY_LOGGED: playbook_lines.advocacy_logged,
    Action.RECOVERED: playbook_lines.recovered,
}


def thread_line(action: str, actor: str, detail: Mapping[str, Any]) -> str:
    """One short line in the card's thread for an action; notes are never repeated."""
    by = who(actor)
    line = THREAD_LINES.get(action)
    text = line(by, detail) if line else f"{by}: {safe(action.replace('_', ' '), 100)}."
    return truncate(text, LINE_LIMIT)


def _headline(view: CaseView) -> str:
    case = view.case
    return (
        f"{SEGMENT_ICON.get(case.segment, '')} *{case.segment.title()} · {case.score}/10* · "
        f"{safe(view.customer.name, 200)} at *{safe(view.account.name, 200)}* · "
        f"{money(view.account.arr)} ARR"
    ).strip()


def _fallback(prefix: str, view: CaseView) -> str:
    case = view.case
    return truncate(
        f"{prefix}: {case.segment.title()} {case.score}/10 from "
        f"{safe(view.customer.name, 100)} ({safe(view.account.name, 100)})",
        FALLBACK_LIMIT,
    )


def case_summary(
    view: CaseView, *, permalink: str | None, waited: timedelta | None = None
) -> list[Block]:
    """The short summary shared by DMs, tickets and reviews: who, what, state and the card."""
    case = view.case
    facts = (
        f"{_headline(view)}\n"
        f"*Owner:* {mention(case.owner_user_id, case.owner_ref)} · *Status:* {status_label(view)}"
    )
    comment = (view.response.comment or "").strip()
    blocks: list[Block] = [
        SectionBlock(block_id=MessageBlock.SUMMARY, text=truncate(facts, SECTION_LIMIT)),
        SectionBlock(
            block_id=MessageBlock.COMMENT,
            text=quote(comment, COMMENT_LIMIT) if comment else "_No comment left._",
        ),
    ]
    footer = []
    if waited is not None:
        footer.append(f":hourglass: Waiting {duration(waited)}")
    if is_url(permalink):
        footer.append(link(permalink, "Open the card"))
    if footer:
        blocks.append(
            ContextBlock(
                block_id=MessageBlock.FOOTER,
                elements=[MarkdownTextObject(text=" · ".join(footer))],
            )
        )
    return blocks


def _intro(text: str) -> SectionBlock:
    return SectionBlock(block_id=MessageBlock.INTRO, text=truncate(text, SECTION_LIMIT))


def reassigned_dm(view: CaseView, *, by: str, permalink: str | None) -> tuple[str, list[Block]]:
    """The DM to a case's new owner."""
    intro = (
        f":wave: {who(by)} handed you this {view.case.segment} follow-up. You are now the "
        "customer's single point of contact: the card's buttons are yours."
    )
    return _fallback("A case is now yours", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def _details(lines: list[str]) -> SectionBlock:
    return SectionBlock(
        block_id=MessageBlock.DETAILS, text=truncate("\n".join(lines), SECTION_LIMIT)
    )


def ticket_message(
    view: CaseView,
    *,
    cause: str | None,
    notes: str | None,
    action_items: str | None,
    by: str,
    permalink: str | None,
) -> tuple[str, list[Block]]:
    """The internal ticket posted to the product channel."""
    case = view.case
    intro = (
        f":ticket: *Product follow-up from NPS*, raised by {who(by)}. "
        f"{mention(case.owner_user_id, case.owner_ref)} stays the customer's single point of "
        "contact: please reply in this thread rather than to the customer."
    )
    details = [f"*Root cause:* {safe(cause, 150) if cause else '_not logged yet_'}"]
    if notes:
        details.append(f"*Notes:* {safe(notes, 1200)}")
    if action_items:
        details.append(f"*Agreed with the customer:* {safe(action_items, 1200)}")
    return _fallback("Product ticket", view), [
        _intro(intro),
        _details(details),
        *case_summary(view, permalink=permalink),
    ]


def support_review_message(
    view: CaseView, *, cause: str | None, notes: str | None, by: str, permalink: str | None
) -> tuple[str, list[Block]]:
    """The request to the support lead to review a case."""
    case = view.case
    intro = (
        f":eyes: {who(by)} asks you to review the support side of this case. "
        f"{mention(case.owner_user_id, case.owner_ref)} stays the customer's single point of "
        "contact."
    )
    details = [f"*Root cause:* {safe(cause, 150) if cause else '_not logged yet_'}"]
    if notes:
        details.append(f"*Notes:* {safe(notes, 1500)}")
    return _fallback("Support review requested", view), [
        _intro(intro),
        _details(details),
        *case_summary(view, permalink=permalink),
    ]


def escalation_dm(
    view: CaseView,
    *,
    permalink: str | None,
    waited: timedelta,
    to_role: str,
    reassigned: bool,
    late_by: timedelta | None = None,
) -> tuple[str, list[Block]]:
    """An escalation: buttons to nudge or reassign, or 'this case is now yours' when reassigned.

    `late_by` says the step fired late (the bot was not running when it fell due).
    """
    case = view.case
    late = (
        f"\n_This escalation is {duration(late_by)} late: the bot was not running when it was due._"
        if late_by
        else ""
    )
    if reassigned:
        intro = (
            f":rotating_light: *This case is now yours.* It waited {duration(waited)} without a "
            f"first contact, so it was escalated to you as {safe(to_role, 50)} and reassigned "
            "to you. Please reach the customer today: the card's buttons are now yours." + late
        )
        fallback = _fallback("Escalated to you and reassigned", view)
        return fallback, [_intro(intro), *case_summary(view, permalink=permalink, waited=waited)]
    owner = mention(case.owner_user_id, case.owner_ref)
    intro = (
        f":rotating_light: *Escalation* (you are the {safe(to_role, 50)}): this "
        f"{case.segment} has waited {duration(waited)} without a first contact from {owner}." + late
    )
    value = str(case.id)
    buttons = ActionsBlock(
        block_id=MessageBlock.ACTIONS,
        elements=[
            ButtonElement(
                text="Nudge the owner", action_id=ManagerAction.NUDGE, value=value, style="primary"
            ),
            ButtonElement(text="Reassign", action_id=ManagerAction.REASSIGN, value=value),
        ],
    )
    return _fallback("Escalation", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink, waited=waited),
        buttons,
    ]


def alert_message(
    view: CaseView, *, reason: str | None, permalink: str | None
) -> tuple[str, list[Block]]:
    """An immediate alert: churn intent, a top-revenue account, a product or service complaint."""
    headline = ALERT_HEADLINE.get(reason or "", ":bell: *Needs attention*")
    why = REASON_TEXT.get(reason or "")
    if reason == Reason.CRITICAL_TIER and view.case.tier:
        why = f"{safe(view.case.tier, 100)}, contact by {slack_date(view.case.contact_due_at)}"
    intro = headline + (f": {why}." if why else ".")
    fallback = truncate(alert_text(view, reason), FALLBACK_LIMIT)
    return fallback, [_intro(intro), *case_summary(view, permalink=permalink)]


def nudge_dm(view: CaseView, *, by: str, permalink: str | None) -> tuple[str, list[Block]]:
    """The owner is asked, by their manager, to follow up now."""
    intro = f":wave: <@{safe(by, 30)}> asks you to follow up on this case today."
    return _fallback("Please follow up", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def reminder_dm(view: CaseView, *, on: date, permalink: str | None) -> tuple[str, list[Block]]:
    """The follow-up the owner planned for today."""
    intro = f":alarm_clock: You planned to follow up on this case on {day(on)}."
    return _fallback("Follow-up due", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]


def resurvey_dm(view: CaseView, *, permalink: str | None) -> tuple[str, list[Block]]:
    """Time to re-survey a customer whose case was resolved."""
    intro = (
        ":repeat: It is time to re-survey this customer: their case was resolved and the "
        "agreed re-survey date has come. A new answer will be linked to the case as its "
        "recovery score."
    )
    return _fallback("Re-survey due", view), [
        _intro(intro),
        *case_summary(view, permalink=permalink),
    ]
