"""The routing policy: segments, escalation reasons, deadlines and the plan of a new case."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Any, Protocol

from bot.domain.calendar import Calendar
from bot.domain.durations import DAY_NAMES, Duration, parse_duration
from bot.domain.playbook import match_tier, tier_snapshot
from bot.domain.vocabulary import SEGMENT_PRIORITY, Priority, Reason, Segment
from bot.domain.words import WordMatcher


class StepRule(Protocol):
    """One rung of the configured escalation ladder."""

    @property
    def after(self) -> Duration: ...
    @property
    def notify(self) -> str: ...
    @property
    def reassign(self) -> bool: ...


class RoutingRules(Protocol):
    """The word lists and top-revenue settings the policy reads."""

    @property
    def churn_words(self) -> tuple[str, ...]: ...
    @property
    def product_words(self) -> tuple[str, ...]: ...
    @property
    def service_words(self) -> tuple[str, ...]: ...
    @property
    def top_revenue_share(self) -> float: ...
    @property
    def top_revenue_arr(self) -> float | None: ...


class PolicyRules(Protocol):
    """What the policy reads of the rules file (the configuration's `Rules` is one)."""

    @property
    def timezone(self) -> str: ...
    @property
    def business_days(self) -> frozenset[int]: ...
    @property
    def holidays(self) -> frozenset[Any]: ...
    @property
    def holiday_calendar(self) -> str | None: ...
    @property
    def sla(self) -> Any: ...
    @property
    def escalation_steps(self) -> Sequence[StepRule]: ...
    @property
    def routing(self) -> RoutingRules: ...


CHURN_CONTACT_WITHIN = timedelta(hours=24)


def segment_for(score: int) -> Segment:
    """The segment of an NPS score: 0-6 detractor, 7-8 passive, 9-10 promoter."""
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise ValueError(f"{score!r} is not an NPS score (an integer 0-10)")
    if score <= 6:
        return Segment.DETRACTOR
    return Segment.PASSIVE if score <= 8 else Segment.PROMOTER


@dataclass(frozen=True)
class Matchers:
    """The word matchers for churn, product and service comments."""

    churn: WordMatcher
    product: WordMatcher
    service: WordMatcher

    @classmethod
    def from_routing(cls, routing: RoutingRules) -> Matchers:
        """The matchers for the routing rules' word lists."""
        return cls(
            churn=WordMatcher(routing.churn_words),
            product=WordMatcher(routing.product_words),
            service=WordMatcher(routing.service_words),
        )


def classify(
    score: int, comment: str | None, *, top_revenue: bool, matchers: Matchers
) -> frozenset[Reason]:
    """The escalation reasons for a response, following the close-the-loop matrix."""
    segment_for(score)
    text = (comment or "").strip()
    reasons: set[Reason] = set()
    if not text:
        reasons.add(Reason.NO_COMMENT)
    if score <= 3:
        if text and matchers.churn.matches(text):
            reasons.add(Reason.CHURN_INTENT)
        if top_revenue:
            reasons.add(Reason.TOP_REVENUE)
    elif score <= 6 and text:
        if matchers.product.matches(text):
            reasons.add(Reason.PRODUCT_COMPLAINT)
        if matchers.service.matches(text):
            reasons.add(Reason.SERVICE_COMPLAINT)
    elif score >= 7 and top_revenue:
        reasons.add(Reason.TOP_REVENUE)  # a call suggestion on the card, never an alert
    return frozenset(reasons)


def is_top_revenue(arr: float | None, *, threshold: float | None) -> bool:
    """Whether an account's ARR reaches the top-revenue threshold."""
    return arr is not None and threshold is not None and arr >= threshold


def top_revenue_threshold(
    routing: RoutingRules, arrs_desc_at_rank: Callable[[int], float | None], known_accounts: int
) -> float | None:
    """The fixed ARR threshold, else the ARR at the top-share rank among known accounts."""
    if routing.top_revenue_arr is not None:
        return routing.top_revenue_arr
    if known_accounts <= 0:
        return None
    rank = math.ceil(Fraction(repr(routing.top_revenue_share)) * known_accounts)
    return arrs_desc_at_rank(min(max(rank, 1), known_accounts))


@dataclass(frozen=True)
class Alert:
    """An immediate notification decided at intake."""

    notify: str
    reason: Reason


ALERT_TARGETS: tuple[tuple[Reason, str], ...] = (
    (Reason.CHURN_INTENT, "cx_lead"),
    (Reason.TOP_REVENUE, "vp_customer_success"),
    (Reason.PRODUCT_COMPLAINT, "product_channel"),
    (Reason.SERVICE_COMPLAINT, "support_lead"),
)


def alerts_for(reasons: Iterable[Reason]) -> tuple[Alert, ...]:
    """The immediate alerts for a set of reasons, in a fixed order."""
    present = set(reasons)
    return tuple(Alert(notify, reason) for reason, notify in ALERT_TARGETS if reason in present)


@dataclass(frozen=True)
class PlannedStep:
    """One rung of a case's escalation ladder."""

    seq: int
    due_at: datetime
    notify: str
    reassign: bool


@dataclass(frozen=True)
class CasePlan:
    """Everything intake decides about a new case."""

    segment: Segment
    reasons: frozenset[Reason]
    contact_due_at: datetime
    resolution_due_at: datetime
    alerts: tuple[Alert, ...]
    steps: tuple[PlannedStep, ...]
    suggest_email_first: bool
    policy: dict[str, Any]
    priority: Priority = Priority.HIGH
    tier: str | None = None


def _step_snapshot(step: StepRule) -> dict[str, Any]:
    return {"after": str(step.after), "notify": step.notify, "reassign": step.reassign}


@lru_cache(maxsize=32)
def policy_snapshot(rules: PolicyRules, segment: Segment) -> dict[str, Any]:
    """The JSON-ready rules a case keeps; only Detractors carry escalation steps.

    Cached per rules and segment: treat the returned mapping as read-only.
    """
    sla = rules.sla
    steps = rules.escalation_steps if segment is Segment.DETRACTOR else ()
    return {
        "sla": {
            name: str(getattr(sla, name))
            for name in ("detractor", "passive", "promoter", "resolution", "resurvey_after")
        },
        "escalation_steps": [_step_snapshot(step) for step in steps],
        "timezone": rules.timezone,
        "business_days": [DAY_NAMES[d] for d in sorted(rules.business_days)],
        "holidays": [d.isoformat() for d in sorted(rules.holidays)],
        "holiday_calendar": rules.holiday_calendar,
    }


def _ladder(
    steps: Iterable[tuple[Duration, str, bool]], received_at: datetime, calendar: Calendar
) -> tuple[PlannedStep, ...]:
    return tuple(
        PlannedStep(seq, calendar.add(received_at, after), notify, reassign)
        for seq, (after, notify, reassign) in enumerate(steps, start=1)
    )


def steps_from_policy(policy: Mapping[str, Any], received_at: datetime) -> tuple[PlannedStep, ...]:
    """The escalation ladder recorded in a case's policy snapshot."""
    entries = policy.get("escalation_steps") or []
    if not entries:
        return ()
    steps = [
        (parse_duration(e["after"]), e["notify"], bool(e.get("reassign", False))) for e in entries
    ]
    return _ladder(steps, received_at, Calendar.from_policy(policy))


def plan_case(
    *,
    score: int,
    comment: str | None,
    received_at: datetime,
    top_revenue: bool,
    rules: PolicyRules,
    calendar: Calendar,
    matchers: Matchers,
) -> CasePlan:
    """The deadlines, alerts and escalation ladder for a new response."""
    segment = segment_for(score)
    reasons = classify(score, comment, top_revenue=top_revenue, matchers=matchers)
    contact_due_at = calendar.add(received_at, getattr(rules.sla, segment.value))
    if segment is Segment.DETRACTOR and Reason.CHURN_INTENT in reasons:
        contact_due_at = min(contact_due_at, received_at.astimezone(UTC) + CHURN_CONTACT_WITHIN)
    tier = match_tier(
        getattr(rules.sla, "tiers", ()),
        score=score,
        top_revenue=top_revenue,
        churn_intent=bool(comment and matchers.churn.matches(comment)),
    )
    policy = policy_snapshot(rules, segment)
    alerts = alerts_for(reasons if segment is Segment.DETRACTOR else ())
    if tier is not None:
        contact_due_at = calendar.add(received_at, tier.contact_within)
        policy = {**policy, "tier": tier_snapshot(tier)}
        alerts += _tier_alerts(tier.notify, alerts)
    steps = rules.escalation_steps if segment is Segment.DETRACTOR else ()
    return CasePlan(
        segment=segment,
        reasons=reasons,
        contact_due_at=contact_due_at,
        resolution_due_at=calendar.add(contact_due_at, rules.sla.resolution),
        alerts=alerts,
        steps=_ladder(((s.after, s.notify, s.reassign) for s in steps), received_at, calendar),
        suggest_email_first=segment is Segment.DETRACTOR and Reason.NO_COMMENT in reasons,
        policy=policy,
        priority=Priority.CRITICAL if tier is not None else SEGMENT_PRIORITY[segment],
        tier=tier.name if tier is not None else None,
    )


def _tier_alerts(notify: Sequence[str], already: Sequence[Alert]) -> tuple[Alert, ...]:
    """An alert to each person a tier names who is not told already."""
    told = {a.notify for a in already}
    fresh = [n for n in dict.fromkeys(notify) if n not in told]
    return tuple(Alert(n, Reason.CRITICAL_TIER) for n in fresh)
