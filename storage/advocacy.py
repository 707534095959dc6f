"""Advocacy counts for the KPI report: Promoters' reviews, case studies and referrals by stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from bot.domain.vocabulary import Action, AdvocacyKind, AdvocacyStage
from storage.measures import CASE, check_period, counted
from storage.models import Activity

ACTIVITY = Activity.__table__


@dataclass(frozen=True)
class AdvocacyCounts:
    """Promoter cases by advocacy kind and the furthest stage logged in a period."""

    start: datetime
    end: datetime
    by_kind: dict[AdvocacyKind, dict[AdvocacyStage, int]] = field(default_factory=dict)

    def total(self, stage: AdvocacyStage) -> int:
        """Cases of every kind at `stage`."""
        return sum(stages.get(stage, 0) for stages in self.by_kind.values())


def advocacy_counts(engine: sa.Engine, *, start: datetime, end: datetime) -> AdvocacyCounts:
    """Distinct cases per advocacy kind and stage, from advocacy logged in [start, end)."""
    start, end = check_period(start, end)
    kind = ACTIVITY.c.detail["kind"].as_string()
    stage = ACTIVITY.c.detail["stage"].as_string()
    query = (
        sa.select(kind, stage, sa.func.count(sa.distinct(ACTIVITY.c.case_id)))
        .where(
            ACTIVITY.c.action == Action.ADVOCACY_LOGGED.value,
            ACTIVITY.c.case_id.in_(sa.select(CASE.c.id).where(counted())),
            ACTIVITY.c.at >= start,
            ACTIVITY.c.at < end,
        )
        .group_by(kind, stage)
    )
    by_kind: dict[AdvocacyKind, dict[AdvocacyStage, int]] = {}
    with engine.connect() as conn:
        for kind_value, stage_value, count in conn.execute(query):
            if kind_value in set(AdvocacyKind) and stage_value in set(AdvocacyStage):
                stages = by_kind.setdefault(AdvocacyKind(kind_value), {})
                stages[AdvocacyStage(stage_value)] = int(count)
    return AdvocacyCounts(start, end, by_kind)
