"""App Home: the viewer's open cases, most urgent first, each linked to its card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.card import SEGMENT_ICON
from blocks.ids import HomeBlock
from blocks.report_parts import OpenCaseLike, playbook_flags
from blocks.text import is_url, link, money, safe, slack_date, truncate
from bot.domain.vocabulary import CaseStatus

VIEW_BLOCKS = 100
HEAD_BLOCKS = 3  # header, summary, divider
STATUS_WORDS = {
    CaseStatus.OPEN: "Open: not claimed yet",
    CaseStatus.CLAIMED: "Claimed",
    CaseStatus.CONTACTED: "Contacted",
    CaseStatus.RESOLVED: "Resolved",
}
ABOUT = (
    "*No open follow-ups for you right now.* :tada:\n\n"
    "nps-bot turns NPS survey responses into follow-up cases. Detractors (0-6) are called back "
    "within 48 hours, Passives (7-8) get a personal email within 5 business days, and Promoters "
    "(9-10) a thank-you within 7 days. Cases that wait too long are escalated.\n\n"
    "When a response needs you, its card appears in your channel: claim it, log each contact, "
    "note the root cause and resolve it right there. Your open cases are listed here."
)


def home_row_text(row: OpenCaseLike, link_url: str | None) -> str:
    """One case as mrkdwn: who, where, the score, its state and deadline, and its card."""
    icon = SEGMENT_ICON.get(row.segment, "")
    first = (
        f"{icon} *{safe(row.customer_name, 150)}* · {safe(row.account_name, 150)} · "
        f"{row.segment.title()} {row.score}/10 · {money(row.arr)} ARR"
    )
    status = STATUS_WORDS.get(row.status, safe(row.status, 50))
    second = f"{status} · contact by {slack_date(row.contact_due_at)}"
    if row.overdue:
        second += " · *:warning: overdue*"
    second = " · ".join([second, *playbook_flags(row)])
    lines = [first.strip(), second]
    if is_url(link_url):
        lines.append(link(link_url, "Open the card"))
    return truncate("\n".join(lines), 3000)


def home_view(rows: Sequence[OpenCaseLike], *, now: datetime, links: Mapping[int, str]) -> View:
    """The Home tab: the rows as given (already ordered), or what the bot does when none."""
    if not rows:
        blocks: list[Block] = [
            HeaderBlock(block_id=HomeBlock.HEADER, text="Your NPS follow-ups"),
            SectionBlock(block_id=HomeBlock.EMPTY, text=ABOUT),
        ]
        return View(type="home", blocks=blocks)
    overdue = sum(1 for r in rows if r.overdue)
    summary = f"{len(rows)} open" + (f" · *{overdue} overdue*" if overdue else "")
    summary += f" · updated {slack_date(now)}"
    blocks = [
        HeaderBlock(block_id=HomeBlock.HEADER, text="Your open NPS follow-ups"),
        ContextBlock(block_id=HomeBlock.SUMMARY, elements=[MarkdownTextObject(text=summary)]),
        DividerBlock(),
    ]
    room = VIEW_BLOCKS - HEAD_BLOCKS
    shown = rows if len(rows) <= room else rows[: room - 1]
    for row in shown:
        blocks.append(
            SectionBlock(
                block_id=f"{HomeBlock.CASE_PREFIX}{row.case_id}",
                text=home_row_text(row, links.get(row.case_id)),
            )
        )
    if len(shown) < len(rows):
        more = len(rows) - len(shown)
        blocks.append(
            ContextBlock(
                block_id=HomeBlock.MORE,
                elements=[
                    MarkdownTextObject(text=f"…and {more} more: their cards are in your channel.")
                ],
            )
        )
    return View(type="home", blocks=blocks)
