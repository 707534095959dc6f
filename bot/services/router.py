"""From a stored response to its case draft: the policy, routing by what broke, tiers, the pilot."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.config.rules import Rules
from bot.delivery.destinations import Destinations
from bot.domain.calendar import Calendar
from bot.domain.patterns import is_user_id
from bot.domain.playbook import Route, in_pilot, route
from bot.domain.policy import CasePlan, Matchers, is_top_revenue, plan_case, top_revenue_threshold
from bot.domain.vocabulary import StepKind
from storage import intake as store


class Router:
    """Turns a stored response into its case draft under the current rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.calendar = Calendar.from_rules(rules)
        self.matchers = Matchers.from_routing(rules.routing)
        self.destinations = Destinations(rules)

    def threshold(self, conn: sa.Connection) -> float | None:
        """The ARR at or above which an account counts as top revenue."""
        known = store.count_accounts_with_arr(conn)
        return top_revenue_threshold(
            self.rules.routing, lambda rank: store.arr_at_rank(conn, rank), known
        )

    def route(
        self, response: store.ResponseData, touchpoints: Sequence[Mapping[str, Any]]
    ) -> Route | None:
        """The `[[routing.by_touchpoint]]` rule that picks this response's owner, if any."""
        return route(
            self.rules.routing.by_touchpoint,
            touchpoints=touchpoints,
            comment=response.comment,
            answered_at=response.submitted_at,
            arrived_at=response.received_at,
            calendar=self.calendar,
        )

    def _steps(self, plan: CasePlan, owner: str | None, at: datetime) -> list[store.StepDraft]:
        """The ladder's rungs, then the alerts sent at once."""
        steps = [
            store.StepDraft(StepKind.LADDER, s.seq, s.notify, s.due_at, s.reassign)
            for s in plan.steps
        ]
        return steps + [
            store.StepDraft(
                StepKind.ALERT,
                i,
                a.notify,
                at,
                reason=a.reason.value,
                channel=self.destinations.known_channel(a.notify, owner),
            )
            for i, a in enumerate(plan.alerts, start=1)
        ]

    def draft(
        self,
        response: store.ResponseData,
        *,
        arr: float | None,
        threshold: float | None,
        owner: str | None = None,
        touchpoints: Sequence[Mapping[str, Any]] = (),
    ) -> store.CaseDraft:
        """The case the policy decides for one response; `owner` is the account's, as stored.

        `touchpoints` are the latest before the answer (feed and payload) that routing reads.
        """
        plan = plan_case(
            score=response.score,
            comment=response.comment,
            received_at=response.received_at,
            top_revenue=is_top_revenue(arr, threshold=threshold),
            rules=self.rules,
            calendar=self.calendar,
            matchers=self.matchers,
        )
        account_owner = owner or response.account.owner
        routed = self.route(response, touchpoints or response.touchpoints)
        owner = routed.owner if routed else account_owner
        piloted = in_pilot(
            self.rules.pilot, segment=plan.segment.value, owner=owner, source=response.source
        )
        if not piloted:  # stored and counted as outside the pilot only: no card, no timers
            plan = dataclasses.replace(plan, steps=(), alerts=())
        steps = self._steps(plan, owner, response.received_at)
        return store.CaseDraft(
            segment=plan.segment.value,
            priority=plan.priority,
            arr=arr,
            reasons=sorted(r.value for r in plan.reasons),
            suggest_email_first=plan.suggest_email_first,
            contact_due_at=plan.contact_due_at,
            resolution_due_at=plan.resolution_due_at,
            policy=plan.policy,
            steps=steps,
            card_channel=(routed and routed.channel) or self.destinations.card_channel(owner),
            owner_user_id=owner if is_user_id(owner) else None,
            owner_ref=owner,
            tier=plan.tier,
            routed_by=routed.reason if routed else None,
            account_owner=account_owner if routed and account_owner != owner else None,
            outside_pilot=not piloted,
        )
