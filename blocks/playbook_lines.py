"""Thread lines for the playbook's actions: insights and advocacy."""

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
