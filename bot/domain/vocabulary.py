"""The project's words, defined once: segments, statuses, kinds and actions as enums."""

from __future__ import annotations

from enum import StrEnum


class Segment(StrEnum):
    """The NPS group a score falls in."""

    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


class Reason(StrEnum):
    """Why a response needs more than the segment's standard follow-up."""

    CHURN_INTENT = "churn_intent"
    TOP_REVENUE = "top_revenue"
    PRODUCT_COMPLAINT = "product_complaint"
    SERVICE_COMPLAINT = "service_complaint"
    NO_COMMENT = "no_comment"
    CRITICAL_TIER = "critical_tier"
    """Not a comment reason: the alert to those a matching `[[sla.tiers]]` entry notifies."""


class Priority(StrEnum):
    """How urgent a case is: Critical for a tier, else by segment."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CaseStatus(StrEnum):
    """Where a follow-up case stands."""

    OPEN = "open"
    CLAIMED = "claimed"
    CONTACTED = "contacted"
    RESOLVED = "resolved"


class OutboxStatus(StrEnum):
    """Where a delivery to Slack (or a webhook) stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class StepKind(StrEnum):
    """An escalation step: a rung of the ladder, or an alert sent at intake."""

    LADDER = "ladder"
    ALERT = "alert"


class DeliveryKind(StrEnum):
    """What an outbox row sends; each kind has one renderer."""

    CARD = "card"
    CARD_UPDATE = "card_update"
    THREAD = "thread"
    ALERT = "alert"
    DM = "dm"
    TICKET = "ticket"
    SUPPORT_REVIEW = "support_review"
    ESCALATION = "escalation"
    NUDGE = "nudge"
    REMINDER = "reminder"
    RESURVEY = "resurvey"
    RESURVEY_WEBHOOK = "resurvey_webhook"
    ROUTED = "routed"
    RESOLUTION_REMINDER = "resolution_reminder"
    RESOLUTION_OVERDUE = "resolution_overdue"
    RECOVERY = "recovery"
    DIGEST = "digest"
    WEEKLY_CHART = "weekly_chart"
    MONTHLY_REVIEW = "monthly_review"
    FIX_DRAFT = "fix_draft"
    FIX_TELL = "fix_tell"


class Action(StrEnum):
    """What an activity row records."""

    RECEIVED = "received"
    CLAIMED = "claimed"
    CONTACT_LOGGED = "contact_logged"
    ROOT_CAUSE_LOGGED = "root_cause_logged"
    RESOLVED = "resolved"
    DONE = "done"
    REASSIGNED = "reassigned"
    ESCALATED = "escalated"
    NUDGED = "nudged"
    OVERDUE = "overdue"
    ANSWER_UPDATED = "answer_updated"
    INSIGHT_LOGGED = "insight_logged"
    ADVOCACY_LOGGED = "advocacy_logged"
    RECOVERED = "recovered"


class ContactMethod(StrEnum):
    """How an owner reached out."""

    PHONE = "phone"
    EMAIL = "email"
    VIDEO = "video"
    MEETING = "meeting"


class ContactOutcome(StrEnum):
    """What came of a contact attempt; only REACHED counts as the first contact."""

    REACHED = "reached"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"


class AdvocacyKind(StrEnum):
    """What a Promoter does for us."""

    REVIEW = "review"
    CASE_STUDY = "case_study"
    TESTIMONIAL = "testimonial"
    REFERRAL = "referral"
    REFERENCE_CALL = "reference_call"


class AdvocacyStage(StrEnum):
    """How far an advocacy ask has come."""

    ASKED = "asked"
    AGREED = "agreed"
    DONE = "done"


class Handoff(StrEnum):
    """Who a root cause can be handed to while the owner stays the contact."""

    PRODUCT = "product"
    SUPPORT = "support"


SYSTEM_ACTOR = "system"
"""The actor of activity rows written by intake and the timers."""

SEGMENT_PRIORITY = {
    Segment.DETRACTOR: Priority.HIGH,
    Segment.PASSIVE: Priority.MEDIUM,
    Segment.PROMOTER: Priority.LOW,
}
"""A case's priority by segment, when no tier makes it Critical."""

PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}
"""The order of priorities: lower goes first (the outbox, the digest and App Home)."""

INTERACTIVE_PRIORITY = -1
"""The outbox priority of feedback on a click: it goes out before any new card."""

UNMATCHED_ACCOUNT = "~unmatched"
"""The account of a response the directory could not place; its card says no account matched."""
UNMATCHED_ACCOUNT_NAME = "No matching account"

DETRACTOR_RECOVERY = "detractor recovery"
"""The tag of a Detractor case whose re-survey answer came back (card, export)."""


def case_tags(segment: str, recovery_score: int | None) -> list[str]:
    """The tags a case carries, derived from its stored state."""
    return (
        [DETRACTOR_RECOVERY] if segment == Segment.DETRACTOR and recovery_score is not None else []
    )


NATIVE_SOURCE = "native"
"""The survey source of nps-bot's own JSON at POST /webhooks/survey (and its platform's name)."""
