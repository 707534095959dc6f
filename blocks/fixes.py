"""The outer loop's last step: the Mark fixed button and modal, the CX lead's draft
announcement and the account owner's list of customers to tell."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from blocks.ids import FixAction, FixBlock, ModalAction, ModalBlock, ModalCallback
from blocks.report_parts import plural
from blocks.text import day, quote, safe, truncate

WHAT_LIMIT = 2000
SECTION_LIMIT = 3000
CUSTOMER_ROWS = 40  # one section and button each, within a message's 50 blocks
FALLBACK_LIMIT = 300


class FixLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def theme(self) -> str: ...
    @property
    def what_changed(self) -> str: ...
    @property
    def shipped_on(self) -> date: ...


class CustomerLike(Protocol):
    @property
    def customer_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def account_name(self) -> str: ...
    @property
    def told(self) -> bool: ...


def mark_fixed_button(theme: str) -> ButtonElement:
    """The button beside a theme in the review and `/nps rootcause`."""
    return ButtonElement(text="Mark fixed", action_id=FixAction.MARK_FIXED, value=theme[:2000])


def fix_metadata(theme: str) -> str:
    """The Mark fixed modal's private_metadata: the theme's name."""
    return json.dumps({"theme": theme}, separators=(",", ":"))


def read_fix_metadata(text: str | None) -> str:
    """The theme a Mark fixed modal was opened for; ValueError when it is not ours."""
    data = json.loads(text or "")
    if not isinstance(data, dict) or not isinstance(data.get("theme"), str):
        raise ValueError("private_metadata carries no theme")
    return data["theme"]


def mark_fixed_modal(theme: str, *, today: date) -> View:
    """What changed and when it shipped."""
    intro = ContextBlock(
        block_id=ModalBlock.CONTEXT,
        elements=[MarkdownTextObject(text=f"Theme: *{safe(theme, 200)}*")],
    )
    what = InputBlock(
        block_id=ModalBlock.FIX_WHAT,
        label="What changed",
        element=PlainTextInputElement(
            action_id=ModalAction.FIX_WHAT, multiline=True, max_length=WHAT_LIMIT
        ),
        hint="In the customers' words: this goes into the announcement.",
    )
    shipped = InputBlock(
        block_id=ModalBlock.FIX_SHIPPED,
        label="Shipped on",
        element=DatePickerElement(
            action_id=ModalAction.FIX_SHIPPED, initial_date=today.isoformat()
        ),
    )
    return View(
        type="modal",
        callback_id=ModalCallback.MARK_FIXED,
        title="Mark fixed",
        submit="Mark fixed",
        close="Cancel",
        private_metadata=fix_metadata(theme),
        blocks=[intro, what, shipped],
    )


def draft_message(fix: FixLike, announcement: str, *, to_tell: int) -> tuple[str, list[Block]]:
    """The CX lead's DM: the drafted announcement, ready to edit and send."""
    theme = safe(fix.theme, 200)
    text = truncate(f"{theme} is fixed: your announcement draft is ready.", FALLBACK_LIMIT)
    blocks: list[Block] = [
        SectionBlock(
            block_id=FixBlock.INTRO,
            text=f"*{theme}* was marked fixed (shipped {day(fix.shipped_on)}). "
            f"A draft of the announcement, for {plural(to_tell, 'customer')} who raised it:",
        ),
        SectionBlock(block_id=FixBlock.DRAFT, text=quote(announcement, SECTION_LIMIT)),
    ]
    return text, blocks


def personal_note(first_name: str, fix: FixLike) -> str:
    """The short note an owner sends one customer."""
    what = fix.what_changed.strip().rstrip(".")
    return (
        f"Hi {first_name}, you told us about {fix.theme.lower()}. We heard you: {what} "
        f"(shipped {fix.shipped_on.isoformat()}). Thank you for telling us."
    )


def _customer_row(number: int, fix: FixLike, row: CustomerLike) -> SectionBlock:
    first = (row.name or "").split()[0] if (row.name or "").strip() else "there"
    head = f"*{safe(row.name, 200)}* · {safe(row.account_name, 200)}"
    if row.told:
        return SectionBlock(block_id=f"{FixBlock.CUSTOMER_PREFIX}{number}", text=f"{head} · told ✓")
    note = quote(personal_note(first, fix), 2500)
    return SectionBlock(
        block_id=f"{FixBlock.CUSTOMER_PREFIX}{number}",
        text=f"{head}\n{note}",
        accessory=ButtonElement(
            text="Mark told",
            action_id=FixAction.MARK_TOLD,
            value=f"{fix.id}:{row.customer_id}"[:2000],
        ),
    )


def tell_message(fix: FixLike, rows: Sequence[CustomerLike]) -> tuple[str, list[Block]]:
    """An owner's DM: their customers who raised the theme, each with a note to send."""
    theme = safe(fix.theme, 200)
    untold = sum(not r.told for r in rows)
    text = truncate(
        f"{theme} is fixed: {plural(len(rows), 'customer')} of yours raised it.", FALLBACK_LIMIT
    )
    blocks: list[Block] = [
        SectionBlock(
            block_id=FixBlock.INTRO,
            text=f"*{theme}* is fixed (shipped {day(fix.shipped_on)}). "
            f"These customers of yours raised it; tell each of them, then mark them told.",
        )
    ]
    shown = rows[:CUSTOMER_ROWS]
    blocks += [_customer_row(n, fix, row) for n, row in enumerate(shown, start=1)]
    if untold:
        blocks.append(
            ActionsBlock(
                block_id=FixBlock.ALL,
                elements=[
                    ButtonElement(
                        text="Mark all told", action_id=FixAction.MARK_ALL_TOLD, value=str(fix.id)
                    )
                ],
            )
        )
    return text, blocks


def announcement_context(fix: FixLike, *, team: str = "Customer Success") -> dict[str, Any]:
    """The variables the announcement template receives."""
    return {
        "theme": fix.theme,
        "what_changed": fix.what_changed.strip(),
        "shipped_on": fix.shipped_on,
        "team": team,
    }
