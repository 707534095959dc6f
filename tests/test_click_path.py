"""A click never waits on Slack lookups, and who may act is decided on the locked row."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from slack_sdk import WebClient
from sqlmodel import Session, select

from bot.config.rules import rules_from_mapping
from bot.delivery.slack import UserDirectory
from bot.domain.permissions import Act
from bot.services.intake import IntakeWriter, to_response_data
from bot.services.payloads import parse_survey
from bot.services.router import Router
from bot.services.workflow import Workflow
from storage import cases
from storage.changes import NOT_ALLOWED, only_if
from storage.models import Activity, FollowUpCase
from storage.slack_users import SlackUserCache
from tests.conftest import TEST_RULES, post_survey, services_of, survey_body
from tests.fake_slack import FakeSlack

OWNERS = [f"owner{i}@example.com" for i in range(20)]


def a_case(client) -> int:
    assert post_survey(client, survey_body()).status_code == 202
    with Session(services_of(client).engine) as session:
        return session.exec(select(FollowUpCase)).one().id


def test_a_permission_check_asks_slack_nothing_even_with_twenty_unknown_owners(client):
    case_id = a_case(client)
    engine = services_of(client).engine
    users = {email: f"U0OWN{i:02d}" for i, email in enumerate(OWNERS)}
    rules = rules_from_mapping(
        {**TEST_RULES, "people": {**TEST_RULES["people"], "owners": [{"user": e} for e in OWNERS]}}
    )
    with FakeSlack(token="xoxb-test", users=users, latency=0.15) as slow:
        directory = UserDirectory(WebClient("xoxb-test", base_url=slow.url), SlackUserCache(engine))
        workflow = Workflow(engine, rules, directory)
        started = time.monotonic()
        outcome = workflow.check(Act.LOG_CONTACT, case_id, "U0STRANGER")
        took = time.monotonic() - started
        # One lookup at a time, 20 owners at 150 ms, took 3.3 s before: past a trigger id's life.
        assert took < 1.0
        assert not outcome.ok
        # The unknown owners are looked up in the background, for the next click.
        case = cases.get_case(engine, case_id)
        deadline = time.monotonic() + 15
        while workflow.roles(case).listed_owners != frozenset(users.values()):
            assert time.monotonic() < deadline, "the background lookups did not happen"
            time.sleep(0.05)
        assert len(slow.calls_to("users.lookupByEmail")) == len(OWNERS)  # each once


def test_who_may_act_is_decided_on_the_locked_row(engine):
    # A case made through the writer, then a change refused by the permit on the locked row.
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    writer.start()
    try:
        record = to_response_data(
            parse_survey(json.dumps(survey_body()).encode()),
            received_at=datetime.now(UTC),
            webhook_id=None,
        )
        case_id = writer.submit(record).result(timeout=10).case_id
    finally:
        writer.stop()
    seen: list[int] = []

    def permit(case: FollowUpCase) -> bool:
        seen.append(case.id)
        return False

    with only_if(permit):
        refused = cases.claim(engine, case_id, actor="U0STRANGER", now=datetime.now(UTC))
    assert (refused.ok, refused.reason, seen) == (False, NOT_ALLOWED, [case_id])
    assert cases.get_case(engine, case_id).claimed_by is None
    with Session(engine) as session:
        assert [a.action for a in session.exec(select(Activity))] == ["received"]
    assert cases.claim(engine, case_id, actor="U0ALICE", now=datetime.now(UTC)).ok
