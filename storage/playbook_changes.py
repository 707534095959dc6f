"""Changes to Passive and Promoter cases: insights and advocacy, each a compare-and-set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.details import AdvocacyDetail, InsightDetail
from bot.domain.vocabulary import Action, AdvocacyKind, AdvocacyStage, CaseStatus, Segment
from storage.changes import Change, Plan, apply_change
from storage.models import FollowUpCase

THEME_MAX = 100  # the root_cause column's length


def log_insight(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    theme: str,
    quick_win: str | None,
    notes: str | None,
    now: datetime,
) -> Change:
    """Record what a Passive told us: the theme (as the root cause, so it reaches the rollup),
    a quick win and notes."""
    theme = theme.strip()
    if not theme or len(theme) > THEME_MAX:
        raise ValueError(f"a theme takes 1 to {THEME_MAX} characters")
    detail: InsightDetail = {"theme": theme, "quick_win": quick_win, "notes": notes}

    def decide(case: FollowUpCase) -> Plan | str:
        if case.segment != Segment.PASSIVE:
            return "not_passive"
        if case.status == CaseStatus.RESOLVED:
            return "resolved"
        values: dict[str, Any] = {
            "root_cause": theme,
            "root_cause_notes": notes,
            "action_items": quick_win,
        }
        return Plan(values, dict(detail))

    return apply_change(
        engine, case_id, actor=actor, action=Action.INSIGHT_LOGGED, now=now, decide=decide
    )


def log_advocacy(
    engine: sa.Engine,
    case_id: int,
    *,
    actor: str,
    kind: AdvocacyKind,
    stage: AdvocacyStage,
    notes: str | None,
    now: datetime,
) -> Change:
    """Record an advocacy ask of a Promoter and how far it has come."""
    detail: AdvocacyDetail = {
        "kind": AdvocacyKind(kind).value,
        "stage": AdvocacyStage(stage).value,
        "notes": notes,
    }

    def decide(case: FollowUpCase) -> Plan | str:
        if case.segment != Segment.PROMOTER:
            return "not_promoter"
        return Plan({}, dict(detail))

    return apply_change(
        engine, case_id, actor=actor, action=Action.ADVOCACY_LOGGED, now=now, decide=decide
    )
