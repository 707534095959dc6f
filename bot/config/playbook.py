"""The playbook's tables of the rules file: routing by touchpoint, SLA tiers, the pilot."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
)
from pydantic.dataclasses import dataclass

from bot.config.fields import (
    BLANK_IS_MISSING,
    AnyDuration,
    OptionalChannel,
    Person,
    Word,
    listed,
    problem,
)
from bot.config.values import Notify
from bot.domain.durations import Duration

TABLE = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

_RANGE = re.compile(r"^\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?$")


def _score_range(value: Any) -> tuple[int, int]:
    """ "0-3" (or "5", or a built pair) as the lowest and highest score it includes."""
    if isinstance(value, tuple) and len(value) == 2:
        low, high = value
    else:
        match = _RANGE.match(value) if isinstance(value, str) else None
        if match is None:
            raise problem(f'expected a score range such as "0-3", not {str(value)[:20]!r}')
        low = int(match.group(1))
        high = int(match.group(2) or low)
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= 10):
        raise problem(f"{low}-{high} is not a range of NPS scores (0 to 10, low to high)")
    return (low, high)


def _range_text(value: tuple[int, int]) -> str:
    low, high = value
    return f"{low}-{high}" if low != high else str(low)


ScoreRange = Annotated[
    tuple[int, int],
    PlainValidator(_score_range),
    PlainSerializer(_range_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}(-\d{1,2})?$"}),
]
"""Scores written "0-3" or "5", held as (lowest, highest)."""


def _kind(text: str) -> str:
    return text.casefold()


@dataclass(frozen=True, config=TABLE)
class TouchpointRoute:
    """Route a case by what broke: a recent touchpoint kind (or comment words) picks the owner."""

    kind: Annotated[Word, BLANK_IS_MISSING, AfterValidator(_kind)]
    owner: Annotated[Person, BLANK_IS_MISSING]
    within: AnyDuration = Duration(30, "d")
    channel: OptionalChannel = None
    words: Annotated[tuple[Word, ...], listed("words")] = ()


@dataclass(frozen=True, config=TABLE)
class Tier:
    """A tier of cases with its own contact deadline, Critical priority and people told at once."""

    name: Annotated[Word, BLANK_IS_MISSING]
    contact_within: AnyDuration
    scores: ScoreRange | None = None
    top_revenue: StrictBool = False
    churn_intent: StrictBool = False
    notify: Annotated[tuple[Notify, ...], listed("people keys or users")] = ()


Tiers = Annotated[tuple[Tier, ...], listed("tier tables")]
TouchpointRoutes = Annotated[tuple[TouchpointRoute, ...], listed("routing tables")]


SegmentName = Literal["detractor", "passive", "promoter"]


@dataclass(frozen=True, config=TABLE)
class Pilot:
    """`[pilot]`: with any list set, only the responses it matches get cards and timers."""

    segments: Annotated[tuple[SegmentName, ...], listed("segments")] = ()
    owners: Annotated[tuple[Person, ...], listed("people")] = ()
    sources: Annotated[tuple[Word, ...], listed("source names")] = ()
