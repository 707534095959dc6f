"""Who may do what to a case: pure rules over Slack user ids."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Act(StrEnum):
    CLAIM = "claim"
    LOG_CONTACT = "log_contact"
    ROOT_CAUSE = "root_cause"
    RESOLVE = "resolve"
    REASSIGN = "reassign"
    DONE = "done"
    NUDGE = "nudge"
    INSIGHT = "insight"
    ADVOCACY = "advocacy"
    MARK_FIXED = "mark_fixed"
    MARK_TOLD = "mark_told"


# Working a case is open to the whole customer-success bench; closing or moving it is not.
WORKERS = {Act.CLAIM, Act.LOG_CONTACT, Act.ROOT_CAUSE, Act.INSIGHT, Act.ADVOCACY}

REFUSALS = {
    Act.CLAIM: "Only the account owner, their manager, the CX lead, the VP of Customer Success "
    "or an account owner listed in the rules can work this case.",
    Act.RESOLVE: "Only the case owner, their manager, the CX lead or the VP of Customer Success "
    "can resolve this case.",
    Act.REASSIGN: "Only the case owner, their manager, the CX lead or the VP of Customer Success "
    "can reassign this case.",
}
for _act in (Act.LOG_CONTACT, Act.ROOT_CAUSE, Act.INSIGHT, Act.ADVOCACY):
    REFUSALS[_act] = REFUSALS[Act.CLAIM]
REFUSALS[Act.DONE] = REFUSALS[Act.RESOLVE].replace("resolve", "close")
REFUSALS[Act.NUDGE] = (
    "Only the owner's manager, the CX lead or the VP of Customer Success can nudge the owner."
)


REFUSALS[Act.MARK_FIXED] = (
    "Only the theme's owner, the CX lead or the VP of Customer Success can mark a theme fixed."
)
REFUSALS[Act.MARK_TOLD] = (
    "Only the account owner, the CX lead or the VP of Customer Success can mark customers told."
)


@dataclass(frozen=True)
class CaseRoles:
    """The Slack user ids that matter for one case."""

    owner: str | None
    claimed_by: str | None
    manager: str | None
    cx_lead: str | None
    vp: str | None
    listed_owners: frozenset[str]


def may(act: Act, actor: str, roles: CaseRoles) -> bool:
    """Whether `actor` may do `act` on the case."""
    leads = {roles.owner, roles.manager, roles.cx_lead, roles.vp} - {None}
    if act is Act.NUDGE:
        return actor in {roles.manager, roles.cx_lead, roles.vp} - {None}
    if act in WORKERS:
        return actor in leads or actor == roles.claimed_by or actor in roles.listed_owners
    return actor in leads


def refusal(act: Act) -> str:
    """The short explanation shown to someone who may not do `act`."""
    return REFUSALS[act]


def may_for(actor: str, responsible: str | None, cx_lead: str | None, vp: str | None) -> bool:
    """Whether `actor` is the responsible owner (of a theme or an account), the CX lead or VP."""
    return actor in {responsible, cx_lead, vp} - {None}
