"""Thread lines for the playbook's actions: insights, advocacy and recoveries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blocks.text import safe


def insight_logged(by: str, detail: Mapping[str, Any]) -> str:
    """An insight and its theme."""
    theme = detail.get("theme")
    return f":bulb: {by} logged an insight" + (f": *{safe(str(theme), 150)}*." if theme else ".")


def advocacy_logged(by: str, detail: Mapping[str, Any]) -> str:
    """An advocacy ask: its kind and stage."""
    kind = str(detail.get("kind") or "advocacy").replace("_", " ")
    stage = str(detail.get("stage") or "").strip()
    return f":star2: {by} logged advocacy: {safe(kind, 50)}" + (
        f" ({safe(stage, 20)})." if stage else "."
    )


def recovered(by: str, detail: Mapping[str, Any]) -> str:
    """A re-survey answer: the score before and after."""
    was, now = detail.get("score"), detail.get("recovery_score")
    return (
        f":chart_with_upwards_trend: Re-survey answered: {safe(str(was), 5)} → {safe(str(now), 5)}."
    )
