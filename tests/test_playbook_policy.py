"""The playbook's pure decisions: routing by touchpoint, tiers, priorities, and their rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.rules import DEFAULT_RULES, RulesError, rules_from_mapping
from bot.domain.calendar import Calendar
from bot.domain.playbook import match_tier, recent_touchpoints, route
from bot.domain.policy import Alert, Matchers, plan_case
from bot.domain.vocabulary import Priority, Reason

ANSWERED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday
CALENDAR = Calendar.from_rules(DEFAULT_RULES)

ROUTES = rules_from_mapping(
    {
        "routing": {
            "by_touchpoint": [
                {"kind": "Onboarding", "within": "14d", "owner": "U0ONBOARD"},
                {
                    "kind": "billing",
                    "within": "5bd",
                    "owner": "ops@example.com",
                    "channel": "C0OPS",
                    "words": ["invoice", "charged"],
                },
            ]
        }
    }
).routing.by_touchpoint


def tp(kind: str, days_before: float, **extra: object) -> dict[str, object]:
    return {"kind": kind, "at": (ANSWERED - timedelta(days=days_before)).isoformat(), **extra}


def decide(touchpoints, comment=None, arrived=ANSWERED):
    return route(
        ROUTES,
        touchpoints=touchpoints,
        comment=comment,
        answered_at=ANSWERED,
        arrived_at=arrived,
        calendar=CALENDAR,
    )


def test_no_rules_or_no_match_keeps_the_account_owner() -> None:
    assert route((), touchpoints=[tp("billing", 1)], comment="invoice", answered_at=ANSWERED,
                 arrived_at=ANSWERED, calendar=CALENDAR) is None  # fmt: skip
    assert decide([]) is None
    assert decide([tp("support", 1)], comment="all good") is None


def test_a_recent_touchpoint_kind_routes_ignoring_case() -> None:
    routed = decide([tp("ONBOARDING", 3, summary="Kick-off")])
    assert routed is not None
    assert (routed.owner, routed.channel) == ("U0ONBOARD", None)
    assert routed.reason["kind"] == "ONBOARDING"
    assert routed.reason["days_before"] == 3
    assert routed.reason["latest"] is True
    assert routed.reason["rule"] == 0


def test_the_first_matching_rule_wins() -> None:
    routed = decide([tp("billing", 1), tp("onboarding", 2)])
    assert routed is not None and routed.owner == "U0ONBOARD"
    assert routed.reason["latest"] is False


def test_only_the_last_three_touchpoints_count() -> None:
    older = [tp("support", 1), tp("support", 2), tp("support", 3), tp("onboarding", 4)]
    assert decide(older) is None
    assert decide(older[1:]) is not None


def test_touchpoints_after_the_answer_or_without_a_time_do_not_count() -> None:
    assert decide([tp("onboarding", -1)]) is None
    assert decide([{"kind": "onboarding", "at": "yesterday"}]) is None
    assert decide([{"kind": "onboarding", "at": "2026-11-19T10:00:00"}]) is None  # naive
    assert recent_touchpoints([tp("a", 1), "junk", tp("b", 0.5)], before=ANSWERED)[0][1] == "b"


@pytest.mark.parametrize(("days", "routed"), [(13, True), (14, True), (14.01, False), (30, False)])
def test_within_is_measured_when_the_response_arrives(days: float, routed: bool) -> None:
    assert (decide([tp("onboarding", days)]) is not None) is routed


def test_within_counts_business_days() -> None:
    # Monday 09:00 + 5 business days = next Monday 09:00; the answer arrives that Monday.
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    on_time = [{"kind": "billing", "at": "2026-11-16T09:00:00+00:00"}]
    late = [{"kind": "billing", "at": "2026-11-16T08:59:00+00:00"}]
    for touchpoints, routed in ((on_time, True), (late, False)):
        found = route(ROUTES, touchpoints=touchpoints, comment=None, answered_at=monday,
                      arrived_at=monday, calendar=CALENDAR)  # fmt: skip
        assert (found is not None) is routed


def test_a_late_arrival_ages_the_touchpoint() -> None:
    assert decide([tp("onboarding", 10)], arrived=ANSWERED + timedelta(days=5)) is None


@pytest.mark.parametrize(
    ("comment", "word"),
    [
        ("The INVOICE was wrong", "invoice"),
        ("we were charged twice", "charged"),
        ("invoices", None),
    ],
)
def test_comment_words_match_whole_words(comment: str, word: str | None) -> None:
    routed = decide([], comment=comment)
    if word is None:
        assert routed is None
        return
    assert routed is not None
    assert (routed.owner, routed.channel, routed.reason["word"]) == (
        "ops@example.com",
        "C0OPS",
        word,
    )


def test_routing_rules_are_checked() -> None:
    with pytest.raises(RulesError, match=r"routing\.by_touchpoint"):
        rules_from_mapping({"routing": {"by_touchpoint": [{"kind": "billing"}]}})
    with pytest.raises(RulesError, match="owner"):
        rules_from_mapping({"routing": {"by_touchpoint": [{"kind": "x", "owner": "nobody"}]}})


# --- tiers ------------------------------------------------------------------------------------

TIERS = {
    "sla": {
        "tiers": [
            {
                "name": "Critical recovery",
                "scores": "0-3",
                "top_revenue": True,
                "contact_within": "4h",
                "notify": ["vp_customer_success", "U0CFO"],
            },
            {"name": "Churn watch", "churn_intent": True, "contact_within": "8h"},
            {"name": "Any six", "scores": "6", "contact_within": "1bd"},
        ]
    }
}
TIER_RULES = rules_from_mapping(TIERS)


@pytest.mark.parametrize(
    ("score", "top", "churn", "name"),
    [
        (0, True, False, "Critical recovery"),
        (3, True, True, "Critical recovery"),
        (4, True, False, None),
        (2, False, False, None),
        (2, False, True, "Churn watch"),
        (9, False, True, "Churn watch"),
        (6, False, False, "Any six"),
        (7, True, False, None),
    ],
)
def test_the_first_matching_tier(score: int, top: bool, churn: bool, name: str | None) -> None:
    tier = match_tier(TIER_RULES.sla.tiers, score=score, top_revenue=top, churn_intent=churn)
    assert (tier.name if tier else None) == name


def plan(score: int, comment: str | None = "fine", *, top: bool = False, rules=TIER_RULES):
    return plan_case(
        score=score,
        comment=comment,
        received_at=ANSWERED,
        top_revenue=top,
        rules=rules,
        calendar=Calendar.from_rules(rules),
        matchers=Matchers.from_routing(rules.routing),
    )


def test_a_tier_sets_the_deadline_priority_alerts_and_snapshot() -> None:
    result = plan(2, "awful", top=True)
    assert result.contact_due_at == ANSWERED + timedelta(hours=4)
    assert result.priority is Priority.CRITICAL
    assert result.tier == "Critical recovery"
    assert result.policy["tier"] == {
        "name": "Critical recovery",
        "contact_within": "4h",
        "notify": ["vp_customer_success", "U0CFO"],
    }
    # The VP hears of a top-revenue Detractor once, the CFO because of the tier.
    assert result.alerts == (
        Alert("vp_customer_success", Reason.TOP_REVENUE),
        Alert("U0CFO", Reason.CRITICAL_TIER),
    )


def test_a_tier_may_lengthen_or_shorten_the_segment_deadline() -> None:
    assert plan(6).contact_due_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 1bd from Friday
    assert plan(9, "we may switch").contact_due_at == ANSWERED + timedelta(hours=8)


@pytest.mark.parametrize(
    ("score", "priority"), [(2, Priority.HIGH), (7, Priority.MEDIUM), (10, Priority.LOW)]
)
def test_without_a_tier_the_segment_sets_priority(score: int, priority: Priority) -> None:
    result = plan(score, rules=DEFAULT_RULES)
    assert (result.priority, result.tier) == (priority, None)
    assert "tier" not in result.policy


def test_tiers_are_checked() -> None:
    for bad in ("3-0", "0-11", "low", 5):
        with pytest.raises(RulesError, match="scores"):
            rules_from_mapping(
                {"sla": {"tiers": [{"name": "x", "scores": bad, "contact_within": "1h"}]}}
            )
    with pytest.raises(RulesError, match="notify"):
        rules_from_mapping(
            {"sla": {"tiers": [{"name": "x", "contact_within": "1h", "notify": ["nobody"]}]}}
        )
