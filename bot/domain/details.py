"""What each activity row's `detail` holds, by action: the one contract between writers and readers.

Details are stored as JSON, so dates arrive as ISO strings and every key may be missing in rows
written by older versions; readers use `.get`.
"""

from __future__ import annotations

from typing import TypedDict


class ReceivedDetail(TypedDict):
    response_id: str
    segment: str
    reasons: list[str]


class ContactDetail(TypedDict):
    how: str
    outcome: str
    notes: str | None
    next_follow_up: str | None


class RootCauseDetail(TypedDict):
    cause: str
    notes: str | None
    action_items: str | None
    next_follow_up: str | None
    escalation: str | None


class ResolvedDetail(TypedDict):
    summary: str
    satisfied: bool | None
    root_cause: str | None
    resurvey_on: str | None


# "from" is a keyword, hence the functional form.
ReassignedDetail = TypedDict("ReassignedDetail", {"from": str | None, "to": str})

EscalatedDetail = TypedDict(
    "EscalatedDetail",
    {
        "step_id": int,
        "notify": str,
        "role": str,
        "to": str | None,
        "reassigned": bool,
        "from": str | None,
        "late_seconds": int,
    },
)


class NudgedDetail(TypedDict):
    to: str | None


class OverdueDetail(TypedDict):
    due: str


class InsightDetail(TypedDict):
    theme: str
    quick_win: str | None
    notes: str | None


class AdvocacyDetail(TypedDict):
    kind: str
    stage: str
    notes: str | None


class RecoveredDetail(TypedDict):
    response_id: str
    score: int
    recovery_score: int


class AnswerUpdatedDetail(TypedDict):
    fields: list[str]
