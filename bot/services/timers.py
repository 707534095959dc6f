"""The timer sweep: escalation ladder, overdue cards, follow-up reminders and re-surveys.

One APScheduler interval job calls `Timers.tick()`; every due time lives in the database, so a
restart loses nothing and steps that fell due while the bot was down fire once, late, and say so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from bot.config.rules import Rules
from bot.delivery.destinations import Destinations, NoDestination
from bot.delivery.slack import UserDirectory
from bot.domain.calendar import Calendar
from storage import resolution
from storage import timers as store

log = logging.getLogger(__name__)

REMINDER_HOUR = 9  # follow-up reminders go out from 09:00 in the rules' time zone


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TickReport:
    """What one sweep did."""

    fired: int
    breaches: int
    reminders: int
    resurveys: int
    resolutions: int = 0


class Timers:
    """Sweeps every due timer from the database; safe to run on several replicas at once."""

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
        self.destinations = Destinations(rules)
        self.wake = wake
        self.clock = clock
        self.tick_every = rules.scheduler.tick.as_timedelta()
        self._lock = threading.Lock()

    def target(self, notify: str, owner_ref: str | None, owner_user_id: str | None) -> str | None:
        """The Slack user a ladder step goes to, or None when nobody is configured."""
        try:
            ref = self.destinations.alert_target(notify, owner_ref, owner_user_id)
        except NoDestination:
            return None
        try:
            return self.directory.resolve(ref, now=self.clock())
        except Exception:  # Slack unreachable: the step still fires, the outbox retries
            log.warning("timers.resolve_failed notify=%s", notify)
            return None

    def today(self, now: datetime) -> date:
        return now.astimezone(self.rules.tzinfo).date()

    def tick(self) -> TickReport:
        """One sweep of every kind of timer; concurrent calls in one process run one at a time."""
        if not self._lock.acquire(blocking=False):
            return TickReport(0, 0, 0, 0)
        try:
            return self._tick()
        finally:
            self._lock.release()

    def _tick(self) -> TickReport:
        now = self.clock()
        fired = store.fire_due_steps(
            self.engine, now=now, target=self.target, late_after=2 * self.tick_every
        )
        for step in fired:
            late = f" late_by={int(step.late_by.total_seconds())}s" if step.late_by else ""
            log.info(
                "timers.escalated case_id=%s step_id=%s notify=%s reassigned=%s%s",
                step.case_id,
                step.step_id,
                step.notify,
                step.reassigned,
                late,
            )
        breaches = store.note_breaches(self.engine, now=now)
        local = now.astimezone(self.rules.tzinfo)
        today = local.date()
        reminders: list[int] = []
        if local.hour >= REMINDER_HOUR:
            reminders = store.send_reminders(self.engine, today=today, now=now)
        resurveys = store.request_resurveys(
            self.engine, today=today, now=now, webhook=bool(self.rules.resurvey.webhook_url)
        )
        resolutions = self._resolutions(now)
        report = TickReport(len(fired), len(breaches), len(reminders), len(resurveys), resolutions)
        if any((report.fired, report.breaches, report.reminders, report.resurveys, resolutions)):
            log.info(
                "timers.tick fired=%s breaches=%s reminders=%s resurveys=%s",
                *(report.fired, report.breaches, report.reminders, report.resurveys),
            )
            self.wake()
        return report

    def _resolutions(self, now: datetime) -> int:
        """Resolution reminders and passed resolution deadlines: how many cases moved."""
        reminded = resolution.remind_resolutions(
            self.engine,
            now=now,
            remind_at=lambda policy, due: Calendar.from_policy(policy).business_day_before(due),
        )
        overdue = resolution.note_resolution_overdue(self.engine, now=now)
        return len(reminded) + len(overdue)

    def oldest_overdue(self) -> timedelta | None:
        """How long the oldest step has been due but unfired, past two ticks of grace."""
        now = self.clock()
        due = store.oldest_overdue_step(self.engine, now=now, grace=2 * self.tick_every)
        return now - due if due else None
