"""The case card: shape, Slack's limits, status per state, buttons, escaping."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from blocks.card import alert_text, card_blocks, card_text, status_text
from blocks.ids import CardAction, CardBlock
from blocks.scripts import Script
from storage.case_view import CaseView
from storage.models import Account, Customer, FollowUpCase, SurveyResponse

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
HOSTILE = "<@U123> & Co <!channel> @here <!everyone>"


def make_view(
    *,
    segment: str = "detractor",
    score: int = 3,
    comment: str | None = "The export broke twice this month.",
    status: str = "open",
    customer_name: str = "Dana Scully",
    account_name: str = "Acme Corp",
    touchpoints: Sequence[dict[str, Any]] = (),
    earlier_scores: Sequence[tuple[datetime, int]] = (),
    **case_fields: Any,
) -> CaseView:
    """A CaseView built straight from model instances, no database."""
    account = Account(
        id="acc-1",
        name=account_name,
        arr=120_000,
        owner="am@example.com",
        plan="Enterprise",
        renewal_date=date(2024, 9, 1),
        created_at=NOW,
        updated_at=NOW,
    )
    customer = Customer(
        id="cus-1",
        account_id="acc-1",
        name=customer_name,
        email="dana@example.com",
        phone="+1 555 0100",
        created_at=NOW,
        updated_at=NOW,
    )
    response = SurveyResponse(
        id=1,
        response_id="resp-1",
        customer_id="cus-1",
        account_id="acc-1",
        score=score,
        comment=comment,
        submitted_at=NOW - timedelta(hours=2),
        received_at=NOW - timedelta(hours=2),
        touchpoints=list(touchpoints),
    )
    fields: dict[str, Any] = {
        "id": 42,
        "response_id": "resp-1",
        "account_id": "acc-1",
        "customer_id": "cus-1",
        "segment": segment,
        "score": score,
        "status": status,
        "reasons": [],
        "owner_ref": "am@example.com",
        "owner_user_id": "U0OWNER",
        "received_at": NOW - timedelta(hours=2),
        "contact_due_at": NOW + timedelta(hours=46),
        "resolution_due_at": NOW + timedelta(days=14),
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(case_fields)
    case = FollowUpCase(**fields)
    return CaseView(case, response, account, customer, list(earlier_scores))


def dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """to_dict() runs slack_sdk's validators; parsing back and validating again must agree."""
    out = []
    for block in blocks:
        data = block.to_dict()
        parsed = Block.parse(data)
        assert parsed is not None
        parsed.validate_json()
        assert parsed.to_dict() == data
        out.append(data)
    return out


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def assert_within_limits(data: list[dict[str, Any]], *, max_blocks: int = 50) -> None:
    """Slack's documented limits on everything a builder emits."""
    assert 0 < len(data) <= max_blocks
    for block in data:
        kind = block["type"]
        if kind == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        if kind == "header":
            assert len(block["text"]["text"]) <= 150
        if kind == "context":
            assert len(block["elements"]) <= 10
            for element in block["elements"]:
                assert len(element["text"]) <= 3000
        if kind == "actions":
            assert len(block["elements"]) <= 25
    for node in walk(data):
        for key in ("block_id", "action_id"):
            if key in node:
                assert len(node[key]) <= 255
        if node.get("type") == "button":
            assert len(node["text"]["text"]) <= 75
            assert len(node.get("value", "")) <= 2000


def by_id(data: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in data if b.get("block_id") == block_id)


def buttons(data: list[dict[str, Any]]) -> list[str]:
    actions = [b for b in data if b["type"] == "actions"]
    return [e["action_id"] for b in actions for e in b["elements"]]


def huge_view(segment: str, status: str, **fields: Any) -> CaseView:
    return make_view(
        segment=segment,
        score={"detractor": 2, "passive": 7, "promoter": 10}[segment],
        status=status,
        comment=("word <!channel> & " * 2000)[:20_000],
        customer_name="N" * 500,
        account_name="A" * 500,
        touchpoints=[
            {"at": f"2024-04-{(i % 28) + 1:02d}T10:00:00Z", "kind": "k" * 300, "summary": "s" * 900}
            for i in range(50)
        ],
        earlier_scores=[(NOW - timedelta(days=30 * i), i % 11) for i in range(1, 31)],
        reasons=["churn_intent", "top_revenue", "product_complaint", "service_complaint"],
        **fields,
    )


@pytest.mark.parametrize("segment", ["detractor", "passive", "promoter"])
@pytest.mark.parametrize("status", ["open", "claimed", "contacted", "resolved"])
def test_card_stays_within_limits_whatever_the_input(segment: str, status: str) -> None:
    view = huge_view(
        segment,
        status,
        claimed_by="U0CLAIM" if status != "open" else None,
        first_contact_at=NOW if status in ("contacted", "resolved") else None,
        resolved_at=NOW if status == "resolved" else None,
        root_cause="r" * 100,
        root_cause_notes="n" * 5000,
        action_items="a" * 5000,
        resolution_summary="z" * 5000,
        customer_satisfied=True,
        next_follow_up_on=date(2024, 5, 10),
        resurvey_on=date(2024, 8, 1),
        contact_count=3,
        last_contact_at=NOW,
        owner_user_id=None,
        owner_ref="x" * 320,
    )
    script = Script(title="T" * 400, text="<@U1> & line\n" * 1000)
    data = dicts(card_blocks(view, now=NOW, script=script))
    assert_within_limits(data)
    assert len(json.dumps(data)) < 40_000
    assert len(card_text(view)) <= 300
    assert len(alert_text(view, "churn_intent")) <= 3000


def test_card_shows_the_case_at_a_glance() -> None:
    view = make_view(
        touchpoints=[
            {"at": f"2024-04-0{i}T10:00:00Z", "kind": "ticket", "summary": f"issue {i}"}
            for i in range(1, 6)
        ],
        earlier_scores=[
            (datetime(2024, 1, 5, tzinfo=UTC), 6),
            (datetime(2023, 7, 1, tzinfo=UTC), 8),
        ],
        reasons=["churn_intent", "top_revenue"],
    )
    data = dicts(card_blocks(view, now=NOW))
    header = by_id(data, CardBlock.HEADER)["text"]
    assert header["type"] == "plain_text"
    assert "Detractor" in header["text"] and "3/10" in header["text"]
    assert "Acme Corp" in header["text"]
    status = by_id(data, CardBlock.STATUS)["text"]["text"]
    assert "Open" in status and "overdue" not in status
    assert f"<!date^{int(view.case.contact_due_at.timestamp())}^" in status
    facts = [f["text"] for f in by_id(data, CardBlock.FACTS)["fields"]]
    assert any("Dana Scully" in f and "dana@example.com" in f and "+1 555 0100" in f for f in facts)
    assert any("Acme Corp" in f and "$120k ARR" in f and "Enterprise" in f for f in facts)
    assert any("Renews Sun 1 Sep 2024" in f for f in facts)
    assert any("<@U0OWNER>" in f for f in facts)
    assert by_id(data, CardBlock.COMMENT)["text"]["text"] == "> The export broke twice this month."
    history = " ".join(e["text"] for e in by_id(data, CardBlock.HISTORY)["elements"])
    assert "issue 5" in history and "issue 3" in history and "issue 2" not in history
    assert "and 2 earlier" in history
    assert "6 (2024-01-05)" in history and "8 (2023-07-01)" in history
    routing = by_id(data, CardBlock.ROUTING)["elements"][0]["text"]
    assert "churn intent" in routing and "top-revenue account" in routing


def test_status_claimed_contacted_resolved() -> None:
    claimed = make_view(status="claimed", claimed_by="U0CLAIM", claimed_at=NOW)
    assert "Claimed by <@U0CLAIM>" in status_text(claimed, NOW)

    contacted = make_view(
        status="contacted",
        claimed_by="U0CLAIM",
        first_contact_at=NOW - timedelta(hours=3),
        last_contact_at=NOW - timedelta(hours=1),
        contact_count=2,
        next_follow_up_on=date(2024, 5, 9),
    )
    text = status_text(contacted, NOW)
    assert "Contacted" in text and "2 contacts" in text
    assert f"<!date^{int((NOW - timedelta(hours=1)).timestamp())}^" in text
    data = dicts(card_blocks(contacted, now=NOW))
    assert "*Next follow-up:* Thu 9 May 2024" in by_id(data, CardBlock.STATUS)["text"]["text"]

    resolved = make_view(
        status="resolved",
        first_contact_at=NOW - timedelta(days=1),
        resolved_at=NOW,
        resolution_summary="Fixed the export & <b>credited</b> a month",
        customer_satisfied=False,
        root_cause="Product bug",
        resurvey_on=date(2024, 8, 5),
    )
    section = by_id(dicts(card_blocks(resolved, now=NOW)), CardBlock.STATUS)["text"]["text"]
    assert "Resolved" in section and "customer satisfied: *no*" in section
    assert "Fixed the export &amp; &lt;b&gt;credited&lt;/b&gt; a month" in section
    assert "*Root cause:* Product bug" in section
    assert "Re-survey:* Mon 5 Aug 2024" in section

    happy = make_view(status="resolved", resolved_at=NOW, customer_satisfied=True)
    assert "customer satisfied: *yes*" in status_text(happy, NOW)
    done = make_view(segment="promoter", score=10, status="resolved", resolved_at=NOW)
    assert "Done" in status_text(done, NOW)


def test_root_cause_and_agreed_actions_show_once_logged() -> None:
    view = make_view(
        status="contacted",
        first_contact_at=NOW,
        root_cause="Onboarding",
        root_cause_notes="Never got training",
        action_items="Book two sessions by Friday",
    )
    section = by_id(dicts(card_blocks(view, now=NOW)), CardBlock.STATUS)["text"]["text"]
    assert "*Root cause:* Onboarding · Never got training" in section
    assert "*Agreed actions:* Book two sessions by Friday" in section


def test_overdue_once_the_deadline_passes_without_first_contact() -> None:
    due = NOW - timedelta(minutes=1)
    for status in ("open", "claimed"):
        view = make_view(status=status, claimed_by="U0CLAIM", contact_due_at=due)
        assert ":warning: overdue" in status_text(view, NOW)
        assert "overdue" not in status_text(view, due - timedelta(seconds=1))
    contacted = make_view(status="contacted", first_contact_at=due, contact_due_at=due)
    assert "overdue" not in status_text(contacted, NOW)
    resolved = make_view(status="resolved", resolved_at=NOW, contact_due_at=due)
    assert "overdue" not in status_text(resolved, NOW)
    data = dicts(card_blocks(make_view(contact_due_at=due), now=NOW))
    assert ":warning: overdue" in by_id(data, CardBlock.STATUS)["text"]["text"]


DETRACTOR_ALL = [
    CardAction.CLAIM,
    CardAction.LOG_CONTACT,
    CardAction.ROOT_CAUSE,
    CardAction.RESOLVE,
    CardAction.REASSIGN,
]


@pytest.mark.parametrize(
    ("segment", "status", "extra", "expected"),
    [
        ("detractor", "open", {}, DETRACTOR_ALL),
        ("detractor", "claimed", {"claimed_by": "U0CLAIM"}, DETRACTOR_ALL[1:]),
        ("detractor", "contacted", {"first_contact_at": NOW}, DETRACTOR_ALL[1:]),
        ("detractor", "resolved", {"resolved_at": NOW}, []),
        ("passive", "open", {}, [CardAction.LOG_CONTACT, CardAction.LOG_INSIGHT, CardAction.DONE]),
        (
            "passive",
            "contacted",
            {"first_contact_at": NOW},
            [CardAction.LOG_CONTACT, CardAction.LOG_INSIGHT, CardAction.DONE],
        ),
        (
            "promoter",
            "open",
            {},
            [CardAction.LOG_CONTACT, CardAction.LOG_ADVOCACY, CardAction.DONE],
        ),
        ("promoter", "resolved", {"resolved_at": NOW}, []),
    ],
)
def test_buttons_by_segment_and_status(
    segment: str, status: str, extra: dict[str, Any], expected: list[CardAction]
) -> None:
    score = {"detractor": 3, "passive": 7, "promoter": 9}[segment]
    view = make_view(segment=segment, score=score, status=status, **extra)
    data = dicts(card_blocks(view, now=NOW))
    assert buttons(data) == [str(a) for a in expected]
    for node in walk(data):
        if node.get("type") == "button":
            assert node["value"] == "42"
    assert buttons(dicts(card_blocks(view, now=NOW, actions=False))) == []
    assert (CardBlock.ACTIONS in [b.get("block_id") for b in data]) == bool(expected)


def test_no_comment_suggests_email_first() -> None:
    view = make_view(comment=None, suggest_email_first=True, reasons=["no_comment"])
    text = by_id(dicts(card_blocks(view, now=NOW)), CardBlock.COMMENT)["text"]["text"]
    assert "No comment left" in text and "email outreach first" in text
    plain = make_view(comment="   ", segment="promoter", score=10)
    text = by_id(dicts(card_blocks(plain, now=NOW)), CardBlock.COMMENT)["text"]["text"]
    assert "No comment left" in text and "email" not in text


def test_long_comment_is_quoted_and_cut_to_fit() -> None:
    view = make_view(comment="line & more\n" * 5000)
    text = by_id(dicts(card_blocks(view, now=NOW)), CardBlock.COMMENT)["text"]["text"]
    assert len(text) <= 3000 and text.endswith("…")
    assert all(line.startswith("> ") for line in text.splitlines())
    assert "&am…" not in text and "&…" not in text


def test_customer_text_cannot_ping_or_format_mentions() -> None:
    view = make_view(
        customer_name="<@U123> & Co",
        comment="Hey <!channel> and @here and @channel, <@U999> look <https://evil|here>",
        touchpoints=[{"at": "2024-05-01", "kind": "<!here>", "summary": "<@U123> & @everyone"}],
    )
    script = Script(title="Call script", text="Hi <@U123> & Co, <!channel>")
    data = dicts(card_blocks(view, now=NOW, script=script))
    raw = json.dumps(data)
    assert "<@U123" not in raw and "<@U999" not in raw
    assert "<!channel" not in raw and "<!here" not in raw and "<https" not in raw
    for word in ("@here", "@channel", "@everyone"):
        assert word not in raw
    assert "&lt;@U123&gt; &amp; Co" in raw
    text = card_text(view)
    assert "<@" not in text and "Co" in text and "export" not in text
    assert "<@" not in alert_text(view, "churn_intent")


def test_card_text_is_short_and_has_no_comment() -> None:
    view = make_view(comment="secret details of the complaint")
    text = card_text(view)
    assert text == "Detractor 3/10 from Dana Scully (Acme Corp)"
    assert "secret" not in text


def test_script_section_is_escaped_and_cut() -> None:
    view = make_view()
    script = Script(title="Call script", text="Say <hello> & listen. " * 500)
    data = dicts(card_blocks(view, now=NOW, script=script))
    text = by_id(data, CardBlock.SCRIPT)["text"]["text"]
    assert text.startswith("*Call script*\nSay &lt;hello&gt; &amp; listen.")
    assert len(text) <= 3000
    assert CardBlock.SCRIPT not in [b.get("block_id") for b in dicts(card_blocks(view, now=NOW))]
    resolved = make_view(status="resolved", resolved_at=NOW)
    data = dicts(card_blocks(resolved, now=NOW, script=script))
    assert CardBlock.SCRIPT not in [b.get("block_id") for b in data]


def test_owner_without_slack_id_is_shown_escaped() -> None:
    view = make_view(owner_user_id=None, owner_ref="<b>am</b>@example.com")
    facts = by_id(dicts(card_blocks(view, now=NOW)), CardBlock.FACTS)["fields"]
    assert any("&lt;b&gt;am&lt;/b&gt;@example.com" in f["text"] for f in facts)
    nobody = make_view(owner_user_id=None, owner_ref=None)
    facts = by_id(dicts(card_blocks(nobody, now=NOW)), CardBlock.FACTS)["fields"]
    assert any("unassigned" in f["text"] for f in facts)


def test_touchpoints_with_odd_shapes_do_not_break_the_card() -> None:
    view = make_view(
        touchpoints=[
            {"at": datetime(2024, 4, 2, tzinfo=UTC), "kind": "call"},
            {"summary": "no date"},
            "not a dict",  # type: ignore[list-item]
        ]
    )
    data = dicts(card_blocks(view, now=NOW))
    history = by_id(data, CardBlock.HISTORY)["elements"][0]["text"]
    assert "call (2024-04-02)" in history and "no date" in history
