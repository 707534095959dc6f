"""The standup digest, the KPIs and the root-cause rollup: queries, periods and who sees what."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from blocks import reports as views
from blocks.advocacy_report import advocacy_blocks
from bot.config.rules import Rules
from bot.delivery.chart import weekly_chart_png
from bot.delivery.slack import UserDirectory, Workspace
from bot.domain.calendar import Calendar
from bot.domain.periods import Period, last_month, parse_period
from storage.advocacy import advocacy_counts
from storage.digest import digest_counts, digest_rows
from storage.kpi import kpi_summary, weekly_series
from storage.open_cases import OpenCase
from storage.outbox import claim_daily_digest
from storage.rollup import root_cause_rollup

log = logging.getLogger(__name__)

DIGEST_LIMIT = 200  # rows read for a digest; the message shows the first 40 and counts the rest


@dataclass(frozen=True)
class Report:
    """A message to show: fallback text and Block Kit blocks."""

    text: str
    blocks: list[Any]


def _now() -> datetime:
    return datetime.now(UTC)


class Reports:
    """Builds every report from SQL aggregates; queues the scheduled digest once a day."""

    def __init__(
        self,
        engine: sa.Engine,
        rules: Rules,
        directory: UserDirectory,
        workspace: Workspace,
        *,
        clock: Callable[[], datetime] = _now,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.directory = directory
        self.workspace = workspace
        self.clock = clock
        self.wake = wake
        self.calendar = Calendar.from_rules(rules)

    def _id(self, ref: str | None) -> str | None:
        if not ref:
            return None
        try:
            return self.directory.resolve(ref, now=self.clock())
        except Exception:
            log.warning("reports.resolve_failed")
            return None

    def team_of(self, user: str) -> set[str] | None:
        """The owners whose cases `user` runs standup for; None means everyone's.

        The CX lead and the VP see every case; a manager sees their owners' and their own; an
        owner sees their own.
        """
        people = self.rules.people
        if user in {self._id(people.cx_lead), self._id(people.vp_customer_success)} - {None}:
            return None
        team = {user}
        for owner in people.owners:
            if owner.manager and self._id(owner.manager) == user:
                member = self._id(owner.user)
                if member:
                    team.add(member)
        return team

    def _links(self, rows: list[OpenCase], workspace: Workspace) -> dict[int, str]:
        """Links to the cards of the rows the digest shows (each link is one Slack call)."""
        links = {}
        for row in rows[: views.DIGEST_ROWS]:
            if row.card_channel and row.card_ts:
                link = workspace.permalink(row.card_channel, row.card_ts)
                if link:
                    links[row.case_id] = link
        return links

    def digest(
        self, *, owners: set[str] | None, scope: str, workspace: Workspace | None = None
    ) -> Report:
        """Open cases, highest ARR first, then today's counts and the 7-day contact rate.

        `workspace` asks Slack for the links; the outbox passes its own, paced one.
        """
        now = self.clock()
        rows = digest_rows(self.engine, owners=owners, now=now, limit=DIGEST_LIMIT)
        local = now.astimezone(self.rules.tzinfo)
        day_start = datetime.combine(local.date(), time(), self.rules.tzinfo).astimezone(UTC)
        counts = digest_counts(
            self.engine, day_start=day_start, day_end=day_start + timedelta(days=1), now=now
        )
        title = local.strftime("%a %d %b")
        blocks = views.digest_blocks(
            rows,
            counts,
            now=now,
            links=self._links(rows, workspace or self.workspace),
            title=title,
            scope=scope,
        )
        return Report(views.digest_text(rows, counts, title=title), blocks)

    def kpi(self, text: str) -> Report:
        """The five KPIs and the NPS for a period (`PeriodError` on a bad period)."""
        now = self.clock()
        period = parse_period(text, now=now, tz=self.rules.tzinfo)
        summary = kpi_summary(
            self.engine,
            start=period.start,
            end=period.end,
            now=now,
            monthly_cost=self.rules.kpi.monthly_cost,
        )
        blocks = views.kpi_blocks(summary, label=period.label)
        blocks += advocacy_blocks(advocacy_counts(self.engine, start=period.start, end=period.end))
        return Report(views.kpi_text(summary, period.label), blocks)

    def rootcause(self, text: str) -> Report:
        """Root-cause themes with count, average score and ARR at risk (default: last month)."""
        now = self.clock()
        period: Period = (
            parse_period(text, now=now, tz=self.rules.tzinfo)
            if text.strip()
            else last_month(now, self.rules.tzinfo)
        )
        rows = root_cause_rollup(self.engine, start=period.start, end=period.end)
        return Report(
            views.root_cause_text(rows, label=period.label),
            views.root_cause_blocks(rows, label=period.label),
        )

    # --- the scheduled digest ----------------------------------------------------------------

    def due_for_digest(self, now: datetime) -> bool:
        """A business day, past `digest.time` in the rules' time zone."""
        local = now.astimezone(self.rules.tzinfo)
        return (
            self.calendar.is_business_day(local.date()) and local.time() >= self.rules.digest.time
        )

    def queue_daily_digest(self) -> bool:
        """Queue the day's digest (and Monday's chart) once per day, whatever the replicas.

        Claiming the day and queueing its outbox rows are one transaction; the outbox renders
        the digest and the chart when it sends them, and retries them like any message.
        """
        channel = self.rules.digest.channel
        now = self.clock()
        if not channel or not self.due_for_digest(now):
            return False
        day = now.astimezone(self.rules.tzinfo).date()
        chart = day.weekday() == 0
        if not claim_daily_digest(self.engine, day=day, channel=channel, now=now, chart=chart):
            return False
        log.info("reports.digest_queued day=%s chart=%s", day.isoformat(), chart)
        self.wake()
        return True

    def weekly_chart_png(self) -> bytes:
        """Contact rate, resolution rate and NPS by week, as a PNG."""
        points = weekly_series(self.engine, weeks=12, end=self.clock())
        return weekly_chart_png(points, title="Contact rate, resolution rate and NPS by week")
