"""Tests for the routing policy: segments, reasons, business-day arithmetic and case plans."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config.rules import DEFAULT_RULES, Routing, Rules, rules_from_mapping
from bot.domain.calendar import Calendar
from bot.domain.durations import Duration, parse_duration
from bot.domain.policy import (
    Alert,
    CasePlan,
    Matchers,
    PlannedStep,
    WordMatcher,
    classify,
    is_top_revenue,
    plan_case,
    segment_for,
    steps_from_policy,
    top_revenue_threshold,
)
from bot.domain.vocabulary import Reason, Segment

CPH = ZoneInfo("Europe/Copenhagen")
NYC = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
MATCHERS = Matchers.from_routing(DEFAULT_RULES.routing)
UTC_CALENDAR = Calendar.from_rules(DEFAULT_RULES)
WEDNESDAY = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def cph(*args: int) -> datetime:
    """An aware Copenhagen datetime."""
    return datetime(*args, tzinfo=CPH)  # type: ignore[misc]


def nyc(*args: int) -> datetime:
    """An aware New York datetime."""
    return datetime(*args, tzinfo=NYC)  # type: ignore[misc]


# --- segments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "segment"),
    [(score, Segment.DETRACTOR) for score in range(7)]
    + [(7, Segment.PASSIVE), (8, Segment.PASSIVE), (9, Segment.PROMOTER), (10, Segment.PROMOTER)],
)
def test_segment_for(score: int, segment: Segment) -> None:
    assert segment_for(score) is segment


@pytest.mark.parametrize("score", [-1, 11, 100, -100, 5.0, True, "5", None])
def test_segment_for_rejects(score: object) -> None:
    with pytest.raises(ValueError, match="is not an NPS score"):
        segment_for(score)


def test_enum_values() -> None:
    assert [s.value for s in Segment] == ["detractor", "passive", "promoter"]
    assert [r.value for r in Reason] == [
        "churn_intent",
        "top_revenue",
        "product_complaint",
        "service_complaint",
        "no_comment",
        "critical_tier",
    ]


# --- word matching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "text", "expected"),
    [
        (("cancel",), "We will Cancel!", True),
        (("cancel",), "we will cancel.", True),
        (("cancel",), "CANCEL", True),
        (("cancel",), "cancel", True),
        (("cancel",), "(cancel)", True),
        (("cancel",), "pre-cancel", True),
        (("cancel",), "cancellation fee", False),
        (("cancel",), "cancelled", False),
        (("cancel",), "uncancel", False),
        (("cancel",), "cancel_me", False),
        (("cancel",), "", False),
        (("not renew",), "we will not renew", True),
        (("not renew",), "We will NOT RENEW.", True),
        (("not renew",), "we will not   renew", True),
        (("not renew",), "we will not\nrenew", True),
        (("not renew",), "we will not\trenew next year", True),
        (("not renew",), "notrenew", False),
        (("not renew",), "not renewing", False),
        (("not renew",), "cannot renew", False),
        (("not renew",), "not-renew", False),
        (("  not   renew ",), "we will not renew", True),
        (("response time",), "Response time was awful", True),
        (("competitor",), "a competitor's offer", True),
        (("competitor",), "competitors", False),
        (("c++",), "we use c++ daily", True),
        (("c++",), "we use C++", True),
        (("c++",), "we use c++x", False),
        (("a.b",), "axb", False),
        (("a.b",), "see a.b now", True),
        (("käse",), "KÄSE!", True),
        (("bug", "crash"), "it crashed", False),
        (("bug", "crash"), "it will crash", True),
        (("bug", "crash"), "a bug", True),
        (("bug", "debug"), "debug mode", True),
        ((), "anything", False),
        (("", "  "), "anything", False),
    ],
)
def test_word_matcher(words: tuple[str, ...], text: str, expected: bool) -> None:
    assert WordMatcher(words).matches(text) is expected


def test_word_matcher_equality_ignores_the_pattern() -> None:
    assert WordMatcher(("a", "b")) == WordMatcher(("a", "b"))
    assert WordMatcher(("a",)) != WordMatcher(("b",))


def test_matchers_from_routing() -> None:
    rules = rules_from_mapping(
        {"routing": {"churn_words": ["terminate"], "product_words": [], "service_words": ["slow"]}}
    )
    matchers = Matchers.from_routing(rules.routing)
    assert matchers.churn.matches("we will terminate")
    assert not matchers.churn.matches("we will cancel")
    assert not matchers.product.matches("bug")
    assert matchers.service.matches("so slow")


# --- classification ---------------------------------------------------------------------------

NC = Reason.NO_COMMENT
CHURN = Reason.CHURN_INTENT
TOP = Reason.TOP_REVENUE
PRODUCT = Reason.PRODUCT_COMPLAINT
SERVICE = Reason.SERVICE_COMPLAINT


@pytest.mark.parametrize(
    ("score", "comment", "top_revenue", "expected"),
    [
        # no comment, any score
        (0, None, False, {NC}),
        (0, None, True, {NC, TOP}),
        (3, "   ", True, {NC, TOP}),
        (4, None, True, {NC}),
        (5, "", False, {NC}),
        (6, "\n\t", False, {NC}),
        (7, None, False, {NC}),
        (8, "", True, {NC, TOP}),
        (9, None, True, {NC, TOP}),
        (10, " ", False, {NC}),
        # 0-3: churn words and top revenue
        (0, "We will cancel", False, {CHURN}),
        (1, "We will NOT RENEW.", False, {CHURN}),
        (2, "Cancellation was hard", False, set()),
        (3, "switching to a competitor", True, {CHURN, TOP}),
        (3, "great people, but I'm leaving", False, {CHURN}),
        (3, "meh", True, {TOP}),
        (3, "the app has a bug and support is rude", False, set()),
        (0, "churn", False, {CHURN}),
        # 4-6: product and service words
        (4, "we will cancel", True, set()),
        (4, "Crash on login", False, {PRODUCT}),
        (4, "missing exports", True, {PRODUCT}),
        (5, "response time is slow", False, {SERVICE}),
        (5, "response-time is slow", False, set()),
        (6, "support ticket still waiting", False, {SERVICE}),
        (6, "Bug reported; support never answered!", False, {PRODUCT, SERVICE}),
        (6, "debugging is hard", False, set()),
        (6, "fine", False, set()),
        # 7-10: nothing but the missing comment and top revenue (a call suggestion)
        (7, "bug, crash, cancel, support", True, {TOP}),
        (8, "we will cancel", True, {TOP}),
        (9, "cancel", True, {TOP}),
        (9, "cancel", False, set()),
        (10, "love the new feature", False, set()),
    ],
)
def test_classify(
    score: int, comment: str | None, top_revenue: bool, expected: set[Reason]
) -> None:
    assert classify(score, comment, top_revenue=top_revenue, matchers=MATCHERS) == frozenset(
        expected
    )


@pytest.mark.parametrize("score", [-1, 11])
def test_classify_rejects_bad_scores(score: int) -> None:
    with pytest.raises(ValueError):
        classify(score, "cancel", top_revenue=True, matchers=MATCHERS)


# --- top revenue ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arr", "threshold", "expected"),
    [
        (None, 100.0, False),
        (100.0, None, False),
        (None, None, False),
        (100.0, 100.0, True),
        (100.01, 100.0, True),
        (99.99, 100.0, False),
        (0.0, 0.0, True),
    ],
)
def test_is_top_revenue(arr: float | None, threshold: float | None, expected: bool) -> None:
    assert is_top_revenue(arr, threshold=threshold) is expected


ARRS_DESC = [500.0, 400.0, 300.0, 200.0, 100.0, 90.0, 80.0, 70.0, 60.0, 50.0]


def ranked(arrs: list[float | None], calls: list[int]) -> Callable[[int], float | None]:
    """A rank lookup over arrs (1-based) that records the ranks asked for."""

    def at_rank(rank: int) -> float | None:
        calls.append(rank)
        return arrs[rank - 1]

    return at_rank


def routing_with(share: float = 0.2, arr: float = 0) -> Routing:
    """Routing rules with the given top-revenue settings."""
    data = {"routing": {"top_revenue_share": share, "top_revenue_arr": arr}}
    return rules_from_mapping(data).routing


@pytest.mark.parametrize(
    ("share", "known", "rank", "expected"),
    [
        (0.2, 10, 2, 400.0),
        (0.3, 10, 3, 300.0),
        (0.7, 10, 7, 80.0),
        (0.2, 3, 1, 500.0),
        (0.05, 10, 1, 500.0),
        (0.25, 10, 3, 300.0),
        (1.0, 10, 10, 50.0),
        (0.2, 1, 1, 500.0),
        (0.5, 5, 3, 300.0),
    ],
)
def test_top_revenue_threshold_by_share(
    share: float, known: int, rank: int, expected: float
) -> None:
    calls: list[int] = []
    routing = routing_with(share)
    assert top_revenue_threshold(routing, ranked(ARRS_DESC, calls), known) == expected
    assert calls == [rank]


def test_top_revenue_threshold_without_accounts() -> None:
    calls: list[int] = []
    assert top_revenue_threshold(routing_with(), ranked(ARRS_DESC, calls), 0) is None
    assert calls == []


def test_top_revenue_threshold_fixed_arr() -> None:
    calls: list[int] = []
    routing = routing_with(arr=250_000)
    assert top_revenue_threshold(routing, ranked(ARRS_DESC, calls), 10) == 250_000
    assert calls == []


def test_top_revenue_threshold_passes_on_a_missing_rank() -> None:
    assert top_revenue_threshold(routing_with(), ranked([None], []), 1) is None


# --- calendar ---------------------------------------------------------------------------------

CHRISTMAS = frozenset({date(2026, 12, 25)})


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        (UTC_CALENDAR, date(2026, 1, 7), True),
        (UTC_CALENDAR, date(2026, 1, 10), False),
        (UTC_CALENDAR, date(2026, 1, 11), False),
        (UTC_CALENDAR, date(2026, 12, 25), True),
        (Calendar(UTC, WEEKDAYS, CHRISTMAS), date(2026, 12, 25), False),
        (Calendar(UTC, WEEKDAYS, CHRISTMAS), date(2026, 12, 24), True),
        (Calendar(UTC, WEEKDAYS, frozenset(), "US"), date(2026, 11, 26), False),
        (Calendar(UTC, WEEKDAYS, frozenset(), "US"), date(2026, 11, 27), True),
        (Calendar(UTC, WEEKDAYS, frozenset(), "US"), date(2026, 12, 25), False),
        (Calendar(UTC, WEEKDAYS, frozenset(), "US"), date(2026, 7, 3), False),
        (Calendar(UTC, WEEKDAYS, frozenset(), "US"), date(2027, 1, 1), False),
        (Calendar(UTC, WEEKDAYS, frozenset(), "DK"), date(2026, 4, 6), False),
        (Calendar(UTC, WEEKDAYS, frozenset(), "DK"), date(2026, 11, 26), True),
        (Calendar(UTC, frozenset({6, 0, 1, 2, 3}), frozenset()), date(2026, 1, 11), True),
        (Calendar(UTC, frozenset({6, 0, 1, 2, 3}), frozenset()), date(2026, 1, 9), False),
    ],
)
def test_is_business_day(calendar: Calendar, day: date, expected: bool) -> None:
    assert calendar.is_business_day(day) is expected


US_EAST = Calendar(NYC, WEEKDAYS, frozenset(), "US")


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [
        # plain durations are exact elapsed time, whatever the calendar
        (UTC_CALENDAR, utc(2026, 1, 9, 17), "48h", utc(2026, 1, 11, 17)),
        (UTC_CALENDAR, utc(2026, 1, 9, 17), "90s", utc(2026, 1, 9, 17, 1, 30)),
        (UTC_CALENDAR, utc(2026, 1, 9, 17), "15m", utc(2026, 1, 9, 17, 15)),
        (UTC_CALENDAR, utc(2026, 1, 9, 17), "7d", utc(2026, 1, 16, 17)),
        (US_EAST, nyc(2026, 11, 25, 10), "1d", utc(2026, 11, 26, 15)),
        (Calendar(CPH, WEEKDAYS, frozenset()), cph(2026, 3, 28, 12), "1d", utc(2026, 3, 29, 11)),
        (Calendar(CPH, WEEKDAYS, frozenset()), cph(2026, 3, 28, 12), "24h", utc(2026, 3, 29, 11)),
        # business days in UTC
        (UTC_CALENDAR, WEDNESDAY, "1bd", utc(2026, 1, 8, 10)),
        (UTC_CALENDAR, WEDNESDAY, "2bd", utc(2026, 1, 9, 10)),
        (UTC_CALENDAR, WEDNESDAY, "3bd", utc(2026, 1, 12, 10)),
        (UTC_CALENDAR, WEDNESDAY, "5bd", utc(2026, 1, 14, 10)),
        (UTC_CALENDAR, WEDNESDAY, "10bd", utc(2026, 1, 21, 10)),
        (UTC_CALENDAR, utc(2026, 1, 9, 17, 30), "1bd", utc(2026, 1, 12, 17, 30)),
        (UTC_CALENDAR, utc(2026, 1, 9, 23, 59, 59), "1bd", utc(2026, 1, 12, 23, 59, 59)),
        # start on a weekend: counting begins at 00:00 of the next business day
        (UTC_CALENDAR, utc(2026, 1, 10, 15), "1bd", utc(2026, 1, 13)),
        (UTC_CALENDAR, utc(2026, 1, 11, 23, 59), "1bd", utc(2026, 1, 13)),
        (UTC_CALENDAR, utc(2026, 1, 10, 0, 0), "5bd", utc(2026, 1, 19)),
        # explicit holidays
        (Calendar(UTC, WEEKDAYS, CHRISTMAS), utc(2026, 12, 24, 10), "1bd", utc(2026, 12, 28, 10)),
        (Calendar(UTC, WEEKDAYS, CHRISTMAS), utc(2026, 12, 25, 10), "1bd", utc(2026, 12, 29)),
        (Calendar(UTC, WEEKDAYS, CHRISTMAS), utc(2026, 12, 23, 9), "2bd", utc(2026, 12, 28, 9)),
        # the US holiday calendar, in New York time
        (US_EAST, nyc(2026, 11, 25, 10), "1bd", utc(2026, 11, 27, 15)),
        (US_EAST, nyc(2026, 11, 26, 9), "1bd", utc(2026, 11, 30, 5)),
        (US_EAST, nyc(2026, 12, 24, 10), "1bd", utc(2026, 12, 28, 15)),
        (US_EAST, nyc(2026, 12, 31, 10), "1bd", utc(2027, 1, 4, 15)),
        (US_EAST, nyc(2026, 7, 2, 10), "1bd", utc(2026, 7, 6, 14)),
        (Calendar(NYC, WEEKDAYS, frozenset()), nyc(2026, 11, 25, 10), "1bd", utc(2026, 11, 26, 15)),
        # the local day decides, not the UTC day
        (Calendar(NYC, WEEKDAYS, frozenset()), utc(2026, 1, 7, 3), "1bd", utc(2026, 1, 8, 3)),
        (Calendar(NYC, WEEKDAYS, frozenset()), utc(2026, 1, 10, 1), "1bd", utc(2026, 1, 13, 1)),
        (UTC_CALENDAR, utc(2026, 1, 10, 1), "1bd", utc(2026, 1, 13)),
        (Calendar(CPH, WEEKDAYS, frozenset()), utc(2026, 1, 9, 23, 30), "1bd",
         utc(2026, 1, 12, 23)),
        # DST changes keep the local wall-clock time
        (Calendar(CPH, WEEKDAYS, frozenset()), cph(2026, 3, 27, 10), "1bd", utc(2026, 3, 30, 8)),
        (Calendar(CPH, WEEKDAYS, frozenset()), cph(2026, 10, 23, 10), "1bd", utc(2026, 10, 26, 9)),
        (Calendar(CPH, WEEKDAYS, frozenset()), cph(2026, 3, 28, 15), "1bd", utc(2026, 3, 30, 22)),
        (Calendar(NYC, WEEKDAYS, frozenset()), nyc(2026, 3, 6, 9), "1bd", utc(2026, 3, 9, 13)),
        (Calendar(NYC, WEEKDAYS, frozenset()), nyc(2026, 10, 30, 9), "1bd", utc(2026, 11, 2, 14)),
        (Calendar(NYC, frozenset(range(7)), frozenset()), nyc(2026, 3, 7, 2, 30), "1bd",
         utc(2026, 3, 8, 7, 30)),
        # other business weeks
        (Calendar(UTC, frozenset({6, 0, 1, 2, 3}), frozenset()), utc(2026, 1, 8, 10), "1bd",
         utc(2026, 1, 11, 10)),
        (Calendar(UTC, frozenset({2}), frozenset()), WEDNESDAY, "2bd", utc(2026, 1, 21, 10)),
    ],
)  # fmt: skip
def test_calendar_add(
    calendar: Calendar, start: datetime, duration: str, expected: datetime
) -> None:
    result = calendar.add(start, parse_duration(duration))
    assert result == expected
    assert result.tzinfo is UTC


def test_calendar_add_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        UTC_CALENDAR.add(datetime(2026, 1, 7, 10), Duration(1, "bd"))
    with pytest.raises(ValueError, match="aware"):
        UTC_CALENDAR.add(datetime(2026, 1, 7, 10), Duration(1, "h"))


def test_calendar_needs_a_business_day() -> None:
    with pytest.raises(ValueError, match="business day"):
        Calendar(UTC, frozenset(), frozenset())


def test_calendar_from_rules() -> None:
    rules = rules_from_mapping(
        {
            "timezone": "Europe/Copenhagen",
            "business_days": ["mon", "tue"],
            "holidays": ["2026-12-24"],
            "holiday_calendar": "DK",
        }
    )
    calendar = Calendar.from_rules(rules)
    assert calendar == Calendar(CPH, frozenset({0, 1}), frozenset({date(2026, 12, 24)}), "DK")


# --- case plans -------------------------------------------------------------------------------


def plan(
    score: int,
    comment: str | None = "fine",
    *,
    received_at: datetime = WEDNESDAY,
    top_revenue: bool = False,
    rules: Rules = DEFAULT_RULES,
) -> CasePlan:
    """The plan for one response under rules."""
    return plan_case(
        score=score,
        comment=comment,
        received_at=received_at,
        top_revenue=top_revenue,
        rules=rules,
        calendar=Calendar.from_rules(rules),
        matchers=Matchers.from_routing(rules.routing),
    )


DEFAULT_LADDER = (
    PlannedStep(1, utc(2026, 1, 8, 10), "manager", False),
    PlannedStep(2, utc(2026, 1, 8, 22), "cx_lead", True),
)


@pytest.mark.parametrize(
    ("score", "segment", "contact", "resolution", "steps"),
    [
        (0, Segment.DETRACTOR, utc(2026, 1, 9, 10), utc(2026, 1, 16, 10), DEFAULT_LADDER),
        (6, Segment.DETRACTOR, utc(2026, 1, 9, 10), utc(2026, 1, 16, 10), DEFAULT_LADDER),
        (7, Segment.PASSIVE, utc(2026, 1, 14, 10), utc(2026, 1, 21, 10), ()),
        (8, Segment.PASSIVE, utc(2026, 1, 14, 10), utc(2026, 1, 21, 10), ()),
        (9, Segment.PROMOTER, utc(2026, 1, 14, 10), utc(2026, 1, 21, 10), ()),
        (10, Segment.PROMOTER, utc(2026, 1, 14, 10), utc(2026, 1, 21, 10), ()),
    ],
)
def test_plan_deadlines_and_ladder(
    score: int,
    segment: Segment,
    contact: datetime,
    resolution: datetime,
    steps: tuple[PlannedStep, ...],
) -> None:
    result = plan(score)
    assert result.segment is segment
    assert result.contact_due_at == contact
    assert result.resolution_due_at == resolution
    assert result.steps == steps
    assert result.alerts == ()
    assert result.reasons == frozenset()
    assert result.suggest_email_first is False


CHURN_RULES = {
    "48h": rules_from_mapping({}),
    "12h": rules_from_mapping({"sla": {"detractor": "12h"}}),
    "2bd": rules_from_mapping({"sla": {"detractor": "2bd"}}),
}


@pytest.mark.parametrize(
    ("sla", "score", "comment", "received_at", "contact"),
    [
        ("48h", 2, "we will cancel", WEDNESDAY, utc(2026, 1, 8, 10)),
        ("48h", 3, "We will SWITCH vendors.", WEDNESDAY, utc(2026, 1, 8, 10)),
        ("48h", 2, "we are unhappy", WEDNESDAY, utc(2026, 1, 9, 10)),
        ("48h", 5, "we will cancel", WEDNESDAY, utc(2026, 1, 9, 10)),
        ("12h", 2, "we will cancel", WEDNESDAY, utc(2026, 1, 7, 22)),
        ("2bd", 2, "we will cancel", utc(2026, 1, 9, 10), utc(2026, 1, 10, 10)),
        ("2bd", 2, "we are unhappy", utc(2026, 1, 9, 10), utc(2026, 1, 13, 10)),
        ("2bd", 0, "cancel", cph(2026, 1, 9, 10), utc(2026, 1, 10, 9)),
    ],
)
def test_churn_intent_is_contacted_within_24h(
    sla: str, score: int, comment: str, received_at: datetime, contact: datetime
) -> None:
    result = plan(score, comment, received_at=received_at, rules=CHURN_RULES[sla])
    assert result.contact_due_at == contact
    assert result.contact_due_at.tzinfo is UTC
    assert result.resolution_due_at == Calendar.from_rules(CHURN_RULES[sla]).add(
        contact, Duration(5, "bd")
    )


@pytest.mark.parametrize(
    ("score", "comment", "top_revenue", "alerts"),
    [
        (1, "cancel now", True, [("cx_lead", CHURN), ("vp_customer_success", TOP)]),
        (1, "cancel now", False, [("cx_lead", CHURN)]),
        (1, None, True, [("vp_customer_success", TOP)]),
        (5, "a bug, and support never replied", True, [
            ("product_channel", PRODUCT), ("support_lead", SERVICE)]),
        (5, "slow ticket response", False, [("support_lead", SERVICE)]),
        (4, "feature missing", False, [("product_channel", PRODUCT)]),
        (8, "cancel, bug, support", True, []),
        (10, None, True, []),
    ],
)  # fmt: skip
def test_plan_alerts(
    score: int, comment: str | None, top_revenue: bool, alerts: list[tuple[str, Reason]]
) -> None:
    result = plan(score, comment, top_revenue=top_revenue)
    assert result.alerts == tuple(Alert(notify, reason) for notify, reason in alerts)


@pytest.mark.parametrize(
    ("score", "comment", "expected", "no_comment"),
    [
        (0, None, True, True),
        (5, " ", True, True),
        (7, "", False, True),
        (10, None, False, True),
        (3, "hm", False, False),
    ],
)
def test_plan_suggests_email_to_silent_detractors_only(
    score: int, comment: str | None, expected: bool, no_comment: bool
) -> None:
    result = plan(score, comment)
    assert result.suggest_email_first is expected
    assert (Reason.NO_COMMENT in result.reasons) is no_comment


def test_plan_rejects_naive_and_bad_input() -> None:
    with pytest.raises(ValueError):
        plan(5, received_at=datetime(2026, 1, 7, 10))
    with pytest.raises(ValueError):
        plan(11)


# --- policy snapshots -------------------------------------------------------------------------

CUSTOM_RULES = rules_from_mapping(
    {
        "timezone": "Europe/Copenhagen",
        "business_days": ["mon", "tue", "wed", "thu", "fri"],
        "holidays": ["2026-12-24", "2026-12-31"],
        "holiday_calendar": "DK",
        "sla": {"detractor": "2bd", "resolution": "3bd"},
        "escalation": {
            "steps": [
                {"after": "4h", "notify": "support_lead"},
                {"after": "1bd", "notify": "manager"},
                {"after": "3bd", "notify": "U0VPCS", "reassign": True},
            ]
        },
    }
)


def test_policy_snapshot_contents() -> None:
    assert plan(2).policy == {
        "sla": {
            "detractor": "48h",
            "passive": "5bd",
            "promoter": "7d",
            "resolution": "5bd",
            "resurvey_after": "30d",
        },
        "escalation_steps": [
            {"after": "24h", "notify": "manager", "reassign": False},
            {"after": "36h", "notify": "cx_lead", "reassign": True},
        ],
        "timezone": "UTC",
        "business_days": ["mon", "tue", "wed", "thu", "fri"],
        "holidays": [],
        "holiday_calendar": None,
    }
    custom = plan(2, rules=CUSTOM_RULES).policy
    assert custom["holidays"] == ["2026-12-24", "2026-12-31"]
    assert custom["holiday_calendar"] == "DK"
    assert custom["timezone"] == "Europe/Copenhagen"


@pytest.mark.parametrize("score", [7, 8, 9, 10])
def test_policy_snapshot_has_no_ladder_outside_detractors(score: int) -> None:
    assert plan(score).policy["escalation_steps"] == []


@pytest.mark.parametrize("rules", [DEFAULT_RULES, CUSTOM_RULES], ids=["defaults", "custom"])
@pytest.mark.parametrize("score", range(11))
@pytest.mark.parametrize(
    "received_at",
    [WEDNESDAY, utc(2026, 12, 23, 15), cph(2026, 3, 27, 16), utc(2026, 1, 10, 12)],
    ids=["wednesday", "before-christmas", "before-dst", "saturday"],
)
def test_steps_from_policy_matches_the_plan(
    rules: Rules, score: int, received_at: datetime
) -> None:
    result = plan(score, "we will cancel", received_at=received_at, rules=rules)
    stored = json.loads(json.dumps(result.policy))
    assert steps_from_policy(stored, received_at) == result.steps
    assert bool(result.steps) is (score <= 6)


def test_custom_ladder_uses_business_days_and_holidays() -> None:
    result = plan(1, "cancel", received_at=cph(2026, 12, 23, 9), rules=CUSTOM_RULES)
    assert result.steps == (
        PlannedStep(1, utc(2026, 12, 23, 12), "support_lead", False),
        PlannedStep(2, utc(2026, 12, 28, 8), "manager", False),
        PlannedStep(3, utc(2026, 12, 30, 8), "U0VPCS", True),
    )
    assert result.contact_due_at == utc(2026, 12, 24, 8)


def test_changed_rules_do_not_rewrite_a_running_case() -> None:
    result = plan(2, "cancel", rules=DEFAULT_RULES)
    changed = dataclasses.replace(
        DEFAULT_RULES,
        timezone="America/New_York",
        escalation_steps=CUSTOM_RULES.escalation_steps,
    )
    assert plan(2, "cancel", rules=changed).steps != result.steps
    assert steps_from_policy(result.policy, WEDNESDAY) == DEFAULT_LADDER


@pytest.mark.parametrize("policy", [{}, {"escalation_steps": []}])
def test_steps_from_policy_without_steps(policy: dict[str, object]) -> None:
    assert steps_from_policy(policy, WEDNESDAY) == ()


def test_case_plan_is_frozen() -> None:
    result = plan(5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.contact_due_at = WEDNESDAY + timedelta(hours=1)  # type: ignore[misc]
