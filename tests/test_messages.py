"""Thread lines and the small messages: DMs, tickets, reviews, escalations and alerts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from blocks.ids import ManagerAction, MessageBlock
from blocks.messages import (
    alert_message,
    case_summary,
    escalation_dm,
    reassigned_dm,
    support_review_message,
    thread_line,
    ticket_message,
)
from tests.test_card import NOW, assert_within_limits, buttons, dicts, make_view

LINK = "https://acme.slack.com/archives/C1/p1714999999000100"
HOSTILE = "<@U123> & Co <!channel> @here"


def block(data: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in data if b.get("block_id") == block_id)


@pytest.mark.parametrize(
    ("action", "detail", "expected"),
    [
        ("received", {"response_id": "r-1", "segment": "detractor"}, "Survey response received."),
        ("claimed", {}, "<@U0AM> claimed this case."),
        (
            "contact_logged",
            {"how": "phone", "outcome": "voicemail", "notes": "SECRET NOTES"},
            "<@U0AM> logged a call: left a voicemail.",
        ),
        (
            "contact_logged",
            {"how": "email", "outcome": "reached", "next_follow_up": "2024-05-09"},
            "logged an email: reached the customer. Next follow-up Thu 9 May 2024.",
        ),
        (
            "root_cause_logged",
            {"cause": "Onboarding", "notes": "SECRET NOTES", "action_items": "SECRET"},
            "<@U0AM> logged the root cause: *Onboarding*.",
        ),
        ("resolved", {"satisfied": True, "summary": "SECRET"}, "customer satisfied: yes."),
        ("resolved", {"satisfied": False}, "customer satisfied: no."),
        ("done", {}, "<@U0AM> marked the follow-up done."),
        (
            "reassigned",
            {"from": "U0OLD", "to": "U0NEW"},
            "<@U0AM> reassigned the case from <@U0OLD> to <@U0NEW>.",
        ),
        (
            "escalated",
            {"to": "U0BOSS", "role": "manager"},
            "Escalated to the manager <@U0BOSS>.",
        ),
        (
            "escalated",
            {"to": "U0LEAD", "role": "CX lead", "reassigned": True},
            "Escalated to the CX lead <@U0LEAD>; the case is now theirs.",
        ),
        ("overdue", {"due": "2024-05-06T10:00:00+00:00"}, "first contact is overdue (due <!date^"),
    ],
)
def test_thread_lines(action: str, detail: dict[str, Any], expected: str) -> None:
    line = thread_line(action, "U0AM", detail)
    assert expected in line
    assert "SECRET" not in line
    assert "\n" not in line and len(line) <= 500


def test_thread_line_escapes_everything() -> None:
    line = thread_line("root_cause_logged", "U0AM", {"cause": HOSTILE})
    assert "<@U123" not in line and "<!channel" not in line and "@here" not in line
    assert "&lt;@U123&gt; &amp; Co" in line
    line = thread_line("reassigned", "<b>bot</b>", {"from": "a@example.com", "to": HOSTILE})
    assert "<b>" not in line and "<@U123" not in line
    assert thread_line("something_new", "U0AM", {}) == "<@U0AM>: something new."
    long = thread_line("root_cause_logged", "U0AM", {"cause": "x" * 5000})
    assert len(long) <= 500


def test_case_summary() -> None:
    view = make_view(comment="Slow exports & <b>bugs</b> " * 100, reasons=["churn_intent"])
    data = dicts(case_summary(view, permalink=LINK, waited=timedelta(days=2, hours=3)))
    assert_within_limits(data)
    facts = block(data, MessageBlock.SUMMARY)["text"]["text"]
    assert "*Detractor · 3/10*" in facts and "Dana Scully" in facts and "*Acme Corp*" in facts
    assert "$120k ARR" in facts and "<@U0OWNER>" in facts and "Open" in facts
    comment = block(data, MessageBlock.COMMENT)["text"]["text"]
    assert comment.startswith("> Slow exports &amp; &lt;b&gt;bugs&lt;/b&gt;")
    assert len(comment) <= 500
    footer = block(data, MessageBlock.FOOTER)["elements"][0]["text"]
    assert "Waiting 2 days 3 h" in footer and f"<{LINK}|Open the card>" in footer
    bare = dicts(case_summary(make_view(comment=None), permalink=None))
    assert "No comment left" in block(bare, MessageBlock.COMMENT)["text"]["text"]
    assert MessageBlock.FOOTER not in [b.get("block_id") for b in bare]


def test_reassigned_dm() -> None:
    text, blocks = reassigned_dm(make_view(), by="U0BOSS", permalink=LINK)
    data = dicts(blocks)
    assert_within_limits(data)
    assert "Dana Scully" in text and len(text) <= 300
    intro = block(data, MessageBlock.INTRO)["text"]["text"]
    assert "<@U0BOSS>" in intro and "single point of contact" in intro


def test_ticket_and_support_review() -> None:
    view = make_view(
        status="contacted", first_contact_at=NOW, root_cause="Product bug", comment="Export fails"
    )
    text, blocks = ticket_message(
        view,
        cause="Product bug",
        notes="Fails above 10k rows & <!here>",
        action_items="Fix by 20 May",
        by="U0AM",
        permalink=LINK,
    )
    data = dicts(blocks)
    assert_within_limits(data)
    assert text.startswith("Product ticket:")
    intro = block(data, MessageBlock.INTRO)["text"]["text"]
    assert "<@U0AM>" in intro and "<@U0OWNER> stays the customer's single point of contact" in intro
    details = block(data, MessageBlock.DETAILS)["text"]["text"]
    assert "*Root cause:* Product bug" in details
    assert "Fails above 10k rows &amp; &lt;!here&gt;" in details and "Fix by 20 May" in details

    text, blocks = support_review_message(view, cause=None, notes=None, by="U0AM", permalink=None)
    data = dicts(blocks)
    assert text.startswith("Support review requested:")
    assert "not logged yet" in block(data, MessageBlock.DETAILS)["text"]["text"]
    assert "review" in block(data, MessageBlock.INTRO)["text"]["text"]


def test_escalation_dm_for_the_manager_has_nudge_and_reassign() -> None:
    view = make_view(contact_due_at=NOW - timedelta(hours=5))
    text, blocks = escalation_dm(
        view, permalink=LINK, waited=timedelta(hours=53), to_role="manager", reassigned=False
    )
    data = dicts(blocks)
    assert_within_limits(data)
    assert text.startswith("Escalation:")
    assert buttons(data) == [ManagerAction.NUDGE, ManagerAction.REASSIGN]
    actions = block(data, MessageBlock.ACTIONS)["elements"]
    assert [a["text"]["text"] for a in actions] == ["Nudge the owner", "Reassign"]
    assert all(a["value"] == "42" for a in actions)
    intro = block(data, MessageBlock.INTRO)["text"]["text"]
    assert "2 days 5 h" in intro and "<@U0OWNER>" in intro


def test_escalation_dm_for_the_cx_lead_when_reassigned() -> None:
    text, blocks = escalation_dm(
        make_view(), permalink=LINK, waited=timedelta(hours=80), to_role="CX lead", reassigned=True
    )
    data = dicts(blocks)
    assert "This case is now yours" in block(data, MessageBlock.INTRO)["text"]["text"]
    assert buttons(data) == []
    assert "now yours" in text or "reassigned" in text


@pytest.mark.parametrize(
    ("reason", "headline"),
    [
        ("churn_intent", "Churn risk"),
        ("top_revenue", "Top-revenue account"),
        ("product_complaint", "Product complaint"),
        ("service_complaint", "Service complaint"),
        (None, "Needs attention"),
    ],
)
def test_alert_message(reason: str | None, headline: str) -> None:
    text, blocks = alert_message(
        make_view(reasons=[reason] if reason else []), reason=reason, permalink=LINK
    )
    data = dicts(blocks)
    assert_within_limits(data)
    assert headline in block(data, MessageBlock.INTRO)["text"]["text"]
    assert "Dana Scully" in text and len(text) <= 300


def test_messages_stay_safe_and_small_with_hostile_huge_input() -> None:
    view = make_view(
        customer_name=HOSTILE + " " + "N" * 500,
        account_name=HOSTILE + " " + "A" * 500,
        comment=(HOSTILE + " ") * 1000,
        owner_user_id=None,
        owner_ref=HOSTILE,
        resolution_summary="s" * 5000,
        next_follow_up_on=date(2024, 5, 9),
    )
    built = [
        reassigned_dm(view, by="U0BOSS", permalink=LINK),
        ticket_message(
            view,
            cause=HOSTILE,
            notes=HOSTILE * 100,
            action_items=HOSTILE * 100,
            by="U0AM",
            permalink=LINK,
        ),
        support_review_message(view, cause=HOSTILE, notes=HOSTILE * 100, by="U0AM", permalink=LINK),
        escalation_dm(
            view, permalink=LINK, waited=timedelta(days=9), to_role=HOSTILE, reassigned=False
        ),
        escalation_dm(
            view, permalink=LINK, waited=timedelta(days=9), to_role="lead", reassigned=True
        ),
        alert_message(view, reason="churn_intent", permalink=LINK),
    ]
    for text, blocks in built:
        data = dicts(blocks)
        assert_within_limits(data)
        assert len(text) <= 300
        raw = json.dumps([text, data])
        assert "<@U123" not in raw and "<!channel" not in raw and "@here" not in raw
