"""The playbook's decisions: who owns a case by what broke, and which tier a case falls in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.calendar import Calendar
from bot.domain.durations import Duration
from bot.domain.words import WordMatcher

RECENT_TOUCHPOINTS = 3
"""How many touchpoints before the answer a routing rule looks at."""


class RouteRule(Protocol):
    """One `[[routing.by_touchpoint]]` entry."""

    @property
    def kind(self) -> str: ...
    @property
    def within(self) -> Duration: ...
    @property
    def owner(self) -> str: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def words(self) -> tuple[str, ...]: ...


class TierRule(Protocol):
    """One `[[sla.tiers]]` entry."""

    @property
    def name(self) -> str: ...
    @property
    def scores(self) -> tuple[int, int] | None: ...
    @property
    def top_revenue(self) -> bool: ...
    @property
    def churn_intent(self) -> bool: ...
    @property
    def contact_within(self) -> Duration: ...
    @property
    def notify(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Route:
    """Who owns a routed case, where its card goes, and why (as stored on the case)."""

    owner: str
    channel: str | None
    reason: dict[str, Any]


def _moment(value: Any) -> datetime | None:
    """A touchpoint's time as an aware datetime, or None when it has none that reads as one."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo is not None and moment.utcoffset() is not None else None


def recent_touchpoints(
    touchpoints: Sequence[Mapping[str, Any]], *, before: datetime
) -> list[tuple[datetime, str]]:
    """The (time, kind) of the latest touchpoints up to `before`, newest first."""
    dated = []
    for item in touchpoints:
        at = _moment(item.get("at")) if isinstance(item, Mapping) else None
        if at is not None and at <= before:
            dated.append((at, str(item.get("kind") or "").strip()))
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return dated[:RECENT_TOUCHPOINTS]


def _touchpoint_reason(
    rule: RouteRule,
    recent: list[tuple[datetime, str]],
    *,
    arrived: datetime,
    calendar: Calendar,
) -> dict[str, Any] | None:
    for position, (at, kind) in enumerate(recent):
        if kind.casefold() == rule.kind and calendar.add(at, rule.within) >= arrived:
            return {
                "kind": kind,
                "at": at.isoformat(),
                "days_before": (arrived - at).days,
                "latest": position == 0,
            }
    return None


def route(
    rules: Sequence[RouteRule],
    *,
    touchpoints: Sequence[Mapping[str, Any]],
    comment: str | None,
    answered_at: datetime,
    arrived_at: datetime,
    calendar: Calendar,
) -> Route | None:
    """The first rule a recent touchpoint or the comment matches; None keeps the account owner.

    A touchpoint counts among the latest three up to `answered_at`, and at most the rule's
    `within` old at `arrived_at`; comment words match as whole words, ignoring case.
    """
    recent = recent_touchpoints(touchpoints, before=answered_at)
    text = (comment or "").strip()
    for index, rule in enumerate(rules):
        reason = _touchpoint_reason(rule, recent, arrived=arrived_at, calendar=calendar)
        if reason is None and text and rule.words:
            word = next((w for w in rule.words if WordMatcher((w,)).matches(text)), None)
            reason = {"kind": rule.kind, "word": word} if word else None
        if reason is not None:
            return Route(rule.owner, rule.channel, {"rule": index, "owner": rule.owner, **reason})
    return None


def match_tier(
    tiers: Sequence[TierRule], *, score: int, top_revenue: bool, churn_intent: bool
) -> TierRule | None:
    """The first tier whose conditions all hold; a condition left out holds for every case."""
    for tier in tiers:
        if tier.scores is not None and not tier.scores[0] <= score <= tier.scores[1]:
            continue
        if tier.top_revenue and not top_revenue:
            continue
        if tier.churn_intent and not churn_intent:
            continue
        return tier
    return None


def tier_snapshot(tier: TierRule) -> dict[str, Any]:
    """The tier as a case's policy snapshot keeps it."""
    return {
        "name": tier.name,
        "contact_within": str(tier.contact_within),
        "notify": list(tier.notify),
    }


class PilotRule(Protocol):
    """`[pilot]` as the rules file gives it."""

    @property
    def segments(self) -> tuple[str, ...]: ...
    @property
    def owners(self) -> tuple[str, ...]: ...
    @property
    def sources(self) -> tuple[str, ...]: ...


def in_pilot(pilot: PilotRule, *, segment: str, owner: str | None, source: str) -> bool:
    """Whether a response is in the pilot: every list the pilot sets must name it (owners
    ignoring case); a pilot that sets none takes everything."""
    owners = {o.casefold() for o in pilot.owners}
    return (
        (not pilot.segments or segment in pilot.segments)
        and (not owners or (owner or "").casefold() in owners)
        and (not pilot.sources or source in pilot.sources)
    )
