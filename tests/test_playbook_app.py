"""The playbook end to end through the app and the fake Slack: routing by what broke, tiers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from bot.domain.vocabulary import Priority
from storage.models import FollowUpCase, OutboxMessage
from tests.conftest import TEST_RULES, post_survey, services_of, survey_body

PLAYBOOK = {
    **TEST_RULES,
    "routing": {
        **TEST_RULES["routing"],
        "by_touchpoint": [
            {"kind": "onboarding", "within": "14d", "owner": "U0ONBOARD"},
            {"kind": "billing", "within": "14d", "owner": "U0OPS", "channel": "C0OPS"},
        ],
    },
    "sla": {
        "tiers": [
            {
                "name": "Critical recovery",
                "scores": "0-3",
                "top_revenue": True,
                "contact_within": "4h",
                "notify": ["vp_customer_success"],
            }
        ]
    },
}


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def case_of(engine, case_id: int) -> FollowUpCase:
    with Session(engine) as session:
        return session.get(FollowUpCase, case_id)


def body_at(now: datetime, response_id: str, score: int, **overrides):
    """A response answered a minute ago, with a billing touchpoint three days before it."""
    answered = now - timedelta(minutes=1)
    touchpoint = {
        "at": (answered - timedelta(days=3)).isoformat(),
        "kind": "Billing",
        "summary": "Invoice disputed",
    }
    values = {"submitted_at": answered.isoformat(), "touchpoints": [touchpoint], **overrides}
    return survey_body(response_id, score=score, **values)


def test_a_billing_touchpoint_routes_to_ops_and_tells_the_account_owner(make_client, fake_slack):
    client = make_client(PLAYBOOK)
    services_of(client).outbox.channel_interval = 0.0
    engine = services_of(client).engine
    case_id = post_survey(client, body_at(datetime.now(UTC), "r-bill", 5)).json()["case_id"]

    card = wait_until(lambda: fake_slack.messages_in("C0OPS"))[0]
    blocks = json.dumps(card["blocks"], ensure_ascii=False)
    assert "Routed to <@U0OPS>" in blocks
    assert "last touchpoint: Billing, 3 days before the response" in blocks
    assert "Account owner: alice@example.com" in blocks
    assert fake_slack.messages_in("C0ALICE") == []

    stored = wait_until(lambda: (c := case_of(engine, case_id)).card_ts and c)
    assert (stored.owner_user_id, stored.card_channel) == ("U0OPS", "C0OPS")
    assert stored.routed_by["kind"] == "Billing"
    dm = wait_until(lambda: fake_slack.messages_in("U0ALICE"))[0]
    assert "routed to <@U0OPS>" in json.dumps(dm["blocks"], ensure_ascii=False)
    assert "Open the card" in json.dumps(dm["blocks"], ensure_ascii=False)


def test_without_a_matching_touchpoint_the_account_owner_keeps_the_case(make_client, fake_slack):
    client = make_client(PLAYBOOK)
    services_of(client).outbox.channel_interval = 0.0
    old = body_at(datetime.now(UTC) - timedelta(days=20), "r-old", 5)
    case_id = post_survey(client, old).json()["case_id"]
    wait_until(lambda: fake_slack.messages_in("C0ALICE"))
    stored = case_of(services_of(client).engine, case_id)
    assert stored.routed_by is None and stored.owner_ref == "alice@example.com"
    with Session(services_of(client).engine) as session:
        kinds = session.exec(select(OutboxMessage.kind)).all()
    assert "routed" not in kinds


def test_a_critical_tier_sets_four_hours_alerts_the_vp_and_shows_on_the_card(
    make_client, fake_slack
):
    client = make_client(PLAYBOOK)
    services_of(client).outbox.channel_interval = 0.0
    engine = services_of(client).engine
    now = datetime.now(UTC)
    body = body_at(now, "r-crit", 2, touchpoints=[], comment="Nothing works")
    answer = post_survey(client, body).json()
    stored = case_of(engine, answer["case_id"])
    assert stored.priority == Priority.CRITICAL and stored.tier == "Critical recovery"
    assert stored.contact_due_at - stored.received_at == timedelta(hours=4)
    assert stored.policy["tier"]["contact_within"] == "4h"

    card = wait_until(lambda: fake_slack.messages_in("C0ALICE"))[0]
    assert "Critical · Critical recovery" in json.dumps(card["blocks"], ensure_ascii=False)
    vp = wait_until(lambda: fake_slack.messages_in("U0VP"))
    assert len(vp) == 1  # the top-revenue alert and the tier do not tell the VP twice
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert rows[0].kind == "card" and rows[0].priority == 0


def test_the_feed_table_routes_in_the_writers_transaction(engine):
    from bot.config.rules import rules_from_mapping
    from bot.services.intake import IntakeWriter, parse_survey, to_response_data
    from bot.services.router import Router
    from storage.touchpoints import TouchpointRecord, record_touchpoints

    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    onboarding = TouchpointRecord(at - timedelta(days=2), "onboarding", account_id="a-1")
    record_touchpoints(engine, [onboarding], now=at)
    body = survey_body("r-feed", score=7, touchpoints=[], submitted_at=at.isoformat())
    record = to_response_data(
        parse_survey(json.dumps(body).encode()), received_at=at, webhook_id="m"
    )
    writer = IntakeWriter(engine, Router(rules_from_mapping(PLAYBOOK)), clock=lambda: at)
    case_id = writer._write([record])["r-feed"].case_id

    stored = case_of(engine, case_id)
    assert (stored.owner_ref, stored.priority) == ("U0ONBOARD", Priority.MEDIUM)
    assert stored.routed_by == {
        "rule": 0,
        "owner": "U0ONBOARD",
        "kind": "onboarding",
        "at": (at - timedelta(days=2)).isoformat(),
        "days_before": 2,
        "latest": True,
    }
    with Session(engine) as session:
        routed = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "routed")).one()
    assert routed.payload == {"to": "alice@example.com"} and routed.channel is None


def test_critical_cases_lead_the_open_lists_before_larger_accounts(engine):
    from storage.open_cases import open_cases
    from tests.test_timers import T0, make_case

    tiers = {**TEST_RULES, "sla": {"tiers": [{"name": "Churn", "churn_intent": True,
                                               "contact_within": "4h"}]}}  # fmt: skip
    big = make_case(engine, "r-big", score=5, comment="slow", at=T0)
    small = make_case(
        engine,
        "r-small",
        score=5,
        comment="we may cancel",
        customer={"id": "c-2", "name": "Bo"},
        account={"id": "a-2", "name": "Small", "arr": 1000, "owner": "U0ALICE"},
        rules=tiers,
        at=T0,
    )
    rows = open_cases(engine, now=T0, owners=None, limit=10)
    assert [(r.case_id, r.priority, r.tier) for r in rows] == [
        (small, Priority.CRITICAL, "Churn"),
        (big, Priority.HIGH, None),
    ]
