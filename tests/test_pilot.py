"""`[pilot]`: only the responses it matches get cards and timers; the rest are stored and counted
as outside the pilot only."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import Session, select

from bot.config.rules import RulesError, rules_from_mapping
from bot.domain.playbook import in_pilot
from storage.models import EscalationStep, FollowUpCase, OutboxMessage, SurveyResponse
from tests.conftest import TEST_RULES, post_survey, services_of, survey_body

PILOT = {**TEST_RULES, "pilot": {"segments": ["detractor"]}}


def test_in_pilot_needs_every_list_it_sets():
    rules = rules_from_mapping(
        {**TEST_RULES, "pilot": {"segments": ["detractor"], "owners": ["Alice@Example.com"]}}
    )
    pilot = rules.pilot
    assert in_pilot(pilot, segment="detractor", owner="alice@example.com", source="native")
    assert not in_pilot(pilot, segment="promoter", owner="alice@example.com", source="native")
    assert not in_pilot(pilot, segment="detractor", owner="bob@example.com", source="native")
    assert not in_pilot(pilot, segment="detractor", owner=None, source="native")
    everyone = rules_from_mapping(TEST_RULES).pilot
    assert in_pilot(everyone, segment="passive", owner=None, source="typeform")
    sources = rules_from_mapping({**TEST_RULES, "pilot": {"sources": ["typeform-nps"]}}).pilot
    assert in_pilot(sources, segment="passive", owner=None, source="typeform-nps")
    assert not in_pilot(sources, segment="passive", owner=None, source="native")


def test_a_bad_pilot_is_named_by_its_key():
    with pytest.raises(RulesError) as caught:
        rules_from_mapping({**TEST_RULES, "pilot": {"segments": ["detractors"], "teams": []}})
    assert {key for key, _ in caught.value.problems} == {"pilot.segments[0]", "pilot.teams"}


def test_outside_the_pilot_is_stored_without_card_or_timers_and_counted_apart(
    make_client, fake_slack
):
    client = make_client(PILOT)
    assert post_survey(client, survey_body("r-in", score=2)).status_code == 202
    assert post_survey(client, survey_body("r-out", score=10, comment="Great")).status_code == 202
    engine = services_of(client).engine
    with Session(engine) as session:
        cases = {c.response_id: c for c in session.exec(select(FollowUpCase))}
        assert (cases["r-in"].outside_pilot, cases["r-out"].outside_pilot) == (False, True)
        out = cases["r-out"].id
        assert session.exec(select(EscalationStep).where(EscalationStep.case_id == out)).all() == []
        assert session.exec(select(OutboxMessage).where(OutboxMessage.case_id == out)).all() == []
        response = session.exec(
            select(SurveyResponse).where(SurveyResponse.response_id == "r-out")
        ).one()
        assert response.outside_pilot
    fake_slack.wait_for("chat.postMessage", count=1, timeout=20)
    time.sleep(0.5)  # nothing else is coming: the outside response has no card
    cards = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0ALICE"]
    assert len(cards) == 1 and "Dana" in json.dumps(cards[0].args["blocks"])
    report = services_of(client).reports.kpi("30d")
    text = json.dumps([b.to_dict() for b in report.blocks])
    assert "1 response outside the pilot: stored, not counted." in text
    rows, _ = services_of(client).workflow.home("U0ALICE")
    assert [row.case_id for row in rows] == [cases["r-in"].id]
