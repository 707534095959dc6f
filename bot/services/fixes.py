"""Themes marked fixed and customers told: who may, then one change each, then a wake-up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

import sqlalchemy as sa

from blocks import fixes as views
from bot.config.rules import Rules
from bot.delivery.slack import UserDirectory
from bot.domain.permissions import Act, may_for, refusal
from bot.services.workflow import Outcome
from storage import fixes as store

log = logging.getLogger(__name__)

UNKNOWN_THEME = "That theme is not in the rules any more."
UNKNOWN_FIX = "That fix no longer exists."


def _now() -> datetime:
    return datetime.now(UTC)


class Fixes:
    """Mark a theme fixed (the announcement and the owners' lists follow), mark customers told."""

    def __init__(
        self,
        engine: sa.Engine,
        rules: Rules,
        directory: UserDirectory,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.directory = directory
        self.wake = wake
        self.clock = clock

    def today(self) -> date:
        """Today in the rules' time zone."""
        return self.clock().astimezone(self.rules.tzinfo).date()

    def _id(self, ref: str | None) -> str | None:
        return self.directory.known(ref, now=self.clock()) if ref else None

    def _may(self, actor: str, responsible: str | None) -> bool:
        people = self.rules.people
        cx_lead, vp = self._id(people.cx_lead), self._id(people.vp_customer_success)
        return may_for(actor, self._id(responsible), cx_lead, vp)

    def check_fix(self, theme: str, actor: str) -> Outcome:
        """Whether `actor` may mark `theme` fixed: its owner, the CX lead or the VP."""
        found = next((t for t in self.rules.themes if t.name.casefold() == theme.casefold()), None)
        if found is None:
            return Outcome(False, UNKNOWN_THEME)
        if not self._may(actor, found.owner):
            log.info("fixes.refused act=%s", Act.MARK_FIXED)
            return Outcome(False, refusal(Act.MARK_FIXED))
        return Outcome(True)

    def mark_fixed(self, theme: str, actor: str, entry: object) -> Outcome:
        """Record the fix; the CX lead's draft and the owners' lists go through the outbox."""
        allowed = self.check_fix(theme, actor)
        if not allowed.ok:
            return allowed
        name = next(t.name for t in self.rules.themes if t.name.casefold() == theme.casefold())
        fix_id = store.record_fix(
            self.engine,
            theme=name,
            what_changed=entry.what_changed,  # type: ignore[attr-defined]
            shipped_on=entry.shipped_on,  # type: ignore[attr-defined]
            actor=actor,
            cx_lead=self.rules.people.cx_lead,
            now=self.clock(),
        )
        log.info("fixes.fixed fix_id=%s actor=%s", fix_id, actor)
        self.wake()
        return Outcome(True)

    def mark_told(self, fix_id: int, customer_id: str | None, actor: str) -> Outcome:
        """Mark one customer told (None: all of the actor's customers still to tell), once."""
        fix = store.get_fix(self.engine, fix_id)
        if fix is None:
            return Outcome(False, UNKNOWN_FIX)
        rows = store.customers_to_tell(self.engine, fix)
        if customer_id is not None:
            rows = [r for r in rows if r.customer_id == customer_id]
            allowed = [r for r in rows if self._may(actor, r.account_owner)]
        else:
            allowed = [r for r in rows if self._id(r.account_owner) == actor]
        if not allowed:
            log.info("fixes.refused fix_id=%s act=%s", fix_id, Act.MARK_TOLD)
            return Outcome(False, refusal(Act.MARK_TOLD))
        ids = [r.customer_id for r in allowed if not r.told]
        count = store.mark_told(self.engine, fix_id, ids, actor=actor, now=self.clock())
        log.info("fixes.told fix_id=%s count=%s actor=%s", fix_id, count, actor)
        return Outcome(True)

    def owner_message(self, fix_id: int, actor: str) -> tuple[str, list] | None:
        """The actor's list for a fix as it stands now (told marked), to re-render their DM."""
        fix = store.get_fix(self.engine, fix_id)
        if fix is None:
            return None
        rows = [
            r
            for r in store.customers_to_tell(self.engine, fix)
            if self._id(r.account_owner) == actor
        ]
        return views.tell_message(fix, rows) if rows else None
