"""Call scripts and emails: one template per segment, user overrides, escaping by the card."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from blocks.card import card_blocks
from blocks.ids import CardBlock
from blocks.scripts import Script, Scripts, script_context, script_for, template_name
from tests.test_card import NOW, by_id, dicts, make_view

SCORES = {"detractor": 3, "passive": 7, "promoter": 10}


@pytest.mark.parametrize("segment", ["detractor", "passive", "promoter"])
@pytest.mark.parametrize("comment", ["The export is slow & flaky", None])
def test_every_segment_renders_with_and_without_comment(segment: str, comment: str | None) -> None:
    view = make_view(segment=segment, score=SCORES[segment], comment=comment)
    script = script_for(view, owner_name="Sam Lee")
    assert isinstance(script, Script)
    assert script.title and script.text
    assert "Sam Lee" in script.text and "Dana" in script.text
    assert str(SCORES[segment]) in script.text
    assert "{{" not in script.text and "{%" not in script.text
    if comment:
        assert "The export is slow & flaky" in script.text
    data = dicts(card_blocks(view, now=NOW, script=script))
    assert len(by_id(data, CardBlock.SCRIPT)["text"]["text"]) <= 3000


def test_template_and_title_per_segment() -> None:
    cases = [
        ("detractor", "Broken", "detractor_call.j2", "Call script"),
        ("detractor", None, "detractor_email.j2", "Email first: no comment was left"),
        ("detractor", "  ", "detractor_email.j2", "Email first: no comment was left"),
        ("passive", None, "passive_email.j2", "Personal email"),
        ("passive", "Fine", "passive_email.j2", "Personal email"),
        ("promoter", "Love it", "promoter_thanks.j2", "Thank-you and advocacy ask"),
    ]
    for segment, comment, name, title in cases:
        view = make_view(segment=segment, score=SCORES[segment], comment=comment)
        assert template_name(view) == name
        assert script_for(view, owner_name="Sam").title == title


def test_detractor_call_follows_the_playbook() -> None:
    view = make_view(reasons=["churn_intent"])
    text = script_for(view, owner_name="Sam Lee", team="Customer Care", company="Initech").text
    assert "Hi Dana, this is Sam Lee from the Customer Care team at Initech." in text
    assert "Thank you" in text and "3 out of 10" in text
    for step in ("Listen", "Acknowledge", "Commit", "next check-in"):
        assert step in text
    assert "Don't defend" in text
    assert "[date]" in text
    assert "2024-09-01" in text  # the renewal, for a churn risk


def test_passive_and_promoter_asks() -> None:
    passive = script_for(make_view(segment="passive", score=8), owner_name="Sam").text
    assert "5 business days" in passive and "9 or a 10" in passive
    promoter = script_for(make_view(segment="promoter", score=9), owner_name="Sam").text
    assert "7 days" in promoter
    assert "review" in promoter and "introduction" in promoter and "case study" in promoter


def test_missing_owner_name_and_customer_name_fall_back() -> None:
    view = make_view(customer_name="")
    text = script_for(view, owner_name=None).text
    assert "Hi there, this is [your name] from the Customer Success team." in text
    context = script_context(make_view(customer_name="  Dana   Scully "), owner_name="  ")
    assert context["first_name"] == "Dana"
    assert context["owner_name"] == "[your name]"


def test_context_variables() -> None:
    view = make_view(reasons=["top_revenue"])
    context = script_context(view, owner_name="Sam", team="CS")
    assert context == {
        "customer_name": "Dana Scully",
        "first_name": "Dana",
        "account_name": "Acme Corp",
        "owner_name": "Sam",
        "team": "CS",
        "company": None,
        "score": 3,
        "comment": "The export broke twice this month.",
        "segment": "detractor",
        "reasons": ["top_revenue"],
        "plan": "Enterprise",
        "renewal_date": date(2024, 9, 1),
        "contact_due_at": view.case.contact_due_at,
        "arr": 120_000,
        "tier": None,
        "top_revenue": True,
        "routed_by": None,
        "touchpoints": [],
        "last_touchpoint": None,
    }


def test_context_carries_touchpoints_tier_and_routing() -> None:
    touchpoints = [
        {"at": "2024-05-18T09:00:00+00:00", "kind": "invoice_dispute", "summary": "Q2 invoice"},
        {"at": "2024-05-02T09:00:00+00:00", "kind": "support_ticket", "summary": ""},
    ]
    routed = {"rule": 0, "owner": "U0BILL", "kind": "invoice_dispute", "days_before": 2}
    view = make_view(touchpoints=touchpoints, tier="Critical", routed_by=routed)
    context = script_context(view, owner_name="Sam")
    assert context["tier"] == "Critical" and context["routed_by"] == routed
    assert context["last_touchpoint"] == {
        "kind": "invoice dispute",
        "on": date(2024, 5, 18),
        "day": "18 May",
        "summary": "Q2 invoice",
    }
    assert [t["kind"] for t in context["touchpoints"]] == ["invoice dispute", "support ticket"]


def test_detractor_call_names_the_last_touchpoint_and_asks_three_questions() -> None:
    touchpoints = [{"at": "2024-11-18T09:00:00+00:00", "kind": "invoice_dispute"}]
    text = script_for(make_view(touchpoints=touchpoints), owner_name="Sam").text
    assert "I saw that your invoice dispute on 18 November" in text
    for question in (
        "What disappointed you most?",
        "What would make this right for you?",
        "What would it take to earn back your confidence in us?",
    ):
        assert question in text
    assert "I saw that" not in script_for(make_view(), owner_name="Sam").text


def test_top_revenue_passive_gets_a_call_script() -> None:
    view = make_view(segment="passive", score=8, reasons=["top_revenue"])
    script = script_for(view, owner_name="Sam")
    assert template_name(view) == "passive_call.j2"
    assert script.title == "Call script: top-revenue Passive"
    assert "120,000 ARR" in script.text and "9 or a 10" in script.text
    assert template_name(make_view(segment="passive", score=8)) == "passive_email.j2"


def test_user_folder_overrides_one_template(tmp_path: Path) -> None:
    (tmp_path / "passive_email.j2").write_text(
        "Hello {{ first_name }} at {{ account_name }}: {{ score }}/10. {{ owner_name }}\n"
    )
    scripts = Scripts(tmp_path)
    passive = scripts.script_for(make_view(segment="passive", score=7), owner_name="Sam")
    assert passive.text == "Hello Dana at Acme Corp: 7/10. Sam"
    assert passive.title == "Personal email"
    promoter = scripts.script_for(make_view(segment="promoter", score=10), owner_name="Sam")
    assert (
        promoter.text == script_for(make_view(segment="promoter", score=10), owner_name="Sam").text
    )
    again = script_for(make_view(segment="passive", score=7), owner_name="Sam", scripts=scripts)
    assert again == passive
    assert (
        Scripts(str(tmp_path)).script_for(make_view(segment="passive", score=7), owner_name="Sam")
        == passive
    )


def test_templates_render_text_only_and_strictly(tmp_path: Path) -> None:
    (tmp_path / "promoter_thanks.j2").write_text("<b>{{ customer_name }}</b> {{ not_a_variable }}")
    with pytest.raises(UndefinedError):
        Scripts(tmp_path).script_for(make_view(segment="promoter", score=9), owner_name="Sam")
    (tmp_path / "promoter_thanks.j2").write_text("<b>{{ customer_name }}</b>")
    text = (
        Scripts(tmp_path)
        .script_for(make_view(segment="promoter", score=9, customer_name="A & B"), owner_name=None)
        .text
    )
    assert text == "<b>A & B</b>"  # no HTML autoescape: the card escapes for mrkdwn


def test_card_escapes_the_rendered_script() -> None:
    view = make_view(
        customer_name="<@U123> & Co",
        account_name="Evil <!channel> Inc",
        comment="Call me @here <!everyone>",
    )
    script = script_for(view, owner_name="<@U0SAM>", company="<!here>")
    assert "<@U123>" in script.text  # raw in the text ...
    data = dicts(card_blocks(view, now=NOW, script=script))
    raw = json.dumps(by_id(data, CardBlock.SCRIPT))
    assert "<@" not in raw and "<!" not in raw and "@here" not in raw  # ... escaped on the card
    assert "Hi &lt;@U123&gt;, this is &lt;@U0SAM&gt;" in raw
    body = json.dumps([b for b in data if b.get("block_id") != CardBlock.HEADER])
    assert "<@U123" not in body and "<!channel" not in body
