"""The owner's workflow: permission checks, then one compare-and-set state change each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from bot.config.rules import Rules
from bot.delivery.slack import UserDirectory, Workspace
from bot.domain.calendar import Calendar
from bot.domain.permissions import Act, CaseRoles, may, refusal
from bot.domain.vocabulary import CaseStatus
from storage import cases, playbook_changes
from storage.changes import NOT_ALLOWED, only_if
from storage.models import FollowUpCase
from storage.open_cases import OpenCase

log = logging.getLogger(__name__)

EXPLAIN = {
    "not_found": "That case no longer exists.",
    "resolved": "This case is already resolved.",
    "same_owner": "They already own this case.",
    "root_cause_required": "Log a root cause before resolving.",
    "not_passive": "Insights are logged on Passive cases.",
    "not_promoter": "Advocacy is logged on Promoter cases.",
}


@dataclass(frozen=True)
class Outcome:
    """What happened: `ok`, or a short explanation for the person who clicked."""

    ok: bool
    message: str | None = None
    case: FollowUpCase | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Workflow:
    """Every action on a case goes through here: who may, then the change, then a wake-up."""

    def __init__(
        self,
        engine: sa.Engine,
        rules: Rules,
        directory: UserDirectory,
        *,
        wake: Callable[[], None] = lambda: None,
        workspace: Workspace | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.directory = directory
        self.wake = wake
        self.workspace = workspace
        self.clock = clock
        self.calendar = Calendar.from_rules(rules)

    def today(self) -> date:
        """Today in the rules' time zone."""
        return self.clock().astimezone(self.rules.tzinfo).date()

    def resurvey_default(self) -> date:
        """The re-survey date a resolution proposes: `sla.resurvey_after` from now."""
        due = self.calendar.add(self.clock(), self.rules.sla.resurvey_after)
        return due.astimezone(self.rules.tzinfo).date()

    def _id(self, ref: str | None) -> str | None:
        """A person's Slack id as already known: a click never waits on a Slack lookup (an
        unknown email grants nothing now and is looked up in the background for next time)."""
        return self.directory.known(ref, now=self.clock()) if ref else None

    def warm(self) -> None:
        """Look up every person the rules name, in the background, so clicks find them known."""
        people = self.rules.people
        refs = [people.cx_lead, people.vp_customer_success, people.support_lead]
        for owner in people.owners:
            refs += [owner.user, owner.manager]
        self.directory.warm(refs, now=self.clock())

    def roles(self, case: FollowUpCase) -> CaseRoles:
        """The Slack ids of the people who matter for a case, from the case and the rules."""
        people = self.rules.people
        entry = people.owner_entry(case.owner_ref or "") or people.owner_entry(
            case.owner_user_id or ""
        )
        listed = frozenset(filter(None, (self._id(o.user) for o in people.owners)))
        return CaseRoles(
            owner=case.owner_user_id or self._id(case.owner_ref),
            claimed_by=case.claimed_by,
            manager=self._id(entry.manager) if entry else None,
            cx_lead=self._id(people.cx_lead),
            vp=self._id(people.vp_customer_success),
            listed_owners=listed,
        )

    def check(self, act: Act, case_id: int, actor: str) -> Outcome:
        """Whether `actor` may do `act` now; used before opening a modal."""
        case = cases.get_case(self.engine, case_id)
        if case is None:
            return Outcome(False, EXPLAIN["not_found"])
        if case.status == CaseStatus.RESOLVED:
            return Outcome(False, EXPLAIN["resolved"], case)
        if not may(act, actor, self.roles(case)):
            log.info("workflow.refused case_id=%s act=%s", case_id, act)
            return Outcome(False, refusal(act), case)
        return Outcome(True, case=case)

    def _run(
        self, act: Act, case_id: int, actor: str, change: Callable[[], cases.Change]
    ) -> Outcome:
        allowed = self.check(act, case_id, actor)
        if not allowed.ok:
            return allowed
        # Checked again on the locked row: the case may have moved between the two reads.
        with only_if(lambda case: may(act, actor, self.roles(case))):
            result = change()
        if result.reason == NOT_ALLOWED:
            log.info("workflow.refused case_id=%s act=%s", case_id, act)
            return Outcome(False, refusal(act), result.case)
        if not result.ok:
            message = EXPLAIN.get(result.reason or "", "Nothing changed.")
            if result.reason == "already_claimed" and result.case and result.case.claimed_by:
                message = f"Already claimed by <@{result.case.claimed_by}>."
            return Outcome(False, message, result.case)
        log.info("workflow.%s case_id=%s actor=%s", act, case_id, actor)
        self.wake()
        return Outcome(True, case=result.case)

    def home(self, user: str) -> tuple[list[OpenCase], dict[int, str]]:
        """The user's open cases for App Home, with links to their cards."""
        rows = cases.open_cases_for(self.engine, user, now=self.clock())
        links = {}
        if self.workspace is not None:
            for row in rows:
                if row.card_channel and row.card_ts:
                    link = self.workspace.permalink(row.card_channel, row.card_ts)
                    if link:
                        links[row.case_id] = link
        return rows, links

    def claim(self, case_id: int, actor: str) -> Outcome:
        return self._run(
            Act.CLAIM,
            case_id,
            actor,
            lambda: cases.claim(self.engine, case_id, actor=actor, now=self.clock()),
        )

    def _change(
        self, act: Act, case_id: int, actor: str, change: Callable[..., Any], entry: object
    ) -> Outcome:
        """Run a change whose keyword arguments are a modal's parsed fields, named alike."""
        fields = vars(entry)
        return self._run(
            act,
            case_id,
            actor,
            lambda: change(self.engine, case_id, actor=actor, now=self.clock(), **fields),
        )

    def log_contact(self, case_id: int, actor: str, entry: object) -> Outcome:
        return self._change(Act.LOG_CONTACT, case_id, actor, cases.log_contact, entry)

    def root_cause(self, case_id: int, actor: str, entry: object) -> Outcome:
        return self._change(Act.ROOT_CAUSE, case_id, actor, cases.log_root_cause, entry)

    def resolve(self, case_id: int, actor: str, entry: object) -> Outcome:
        return self._change(Act.RESOLVE, case_id, actor, cases.resolve, entry)

    def done(self, case_id: int, actor: str) -> Outcome:
        return self._run(
            Act.DONE,
            case_id,
            actor,
            lambda: cases.mark_done(self.engine, case_id, actor=actor, now=self.clock()),
        )

    def nudge(self, case_id: int, actor: str) -> Outcome:
        return self._run(
            Act.NUDGE,
            case_id,
            actor,
            lambda: cases.nudge(self.engine, case_id, actor=actor, now=self.clock()),
        )

    def reassign(self, case_id: int, actor: str, new_owner: str) -> Outcome:
        return self._run(
            Act.REASSIGN,
            case_id,
            actor,
            lambda: cases.reassign(
                self.engine, case_id, actor=actor, new_owner=new_owner, now=self.clock()
            ),
        )

    def insight(self, case_id: int, actor: str, entry: object) -> Outcome:
        return self._change(Act.INSIGHT, case_id, actor, playbook_changes.log_insight, entry)

    def advocacy(self, case_id: int, actor: str, entry: object) -> Outcome:
        return self._change(Act.ADVOCACY, case_id, actor, playbook_changes.log_advocacy, entry)
