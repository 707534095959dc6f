"""The standup digest, the KPIs and the root-cause rollup: queries, periods and who sees what."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from blocks import kpi_report as kpi_views
from blocks import reports as views
from blocks.advocacy_report import advocacy_blocks, outside_pilot_blocks
from blocks.themes import ThemeContext
from bot.config.rules import Rules
from bot.delivery.chart import weekly_chart_png
from bot.delivery.slack import UserDirectory, Workspace
from bot.domain.calendar import Calendar
from bot.domain.periods import (
    Period,
    last_month,
    last_quarters,
    parse_period,
    previous_period,
)
from bot.domain.periods import (
    month as month_period,
)
from storage.advocacy import advocacy_counts
from storage.digest import digest_counts, digest_rows
from storage.fixes import told_counts
from storage.kpi import KpiSummary, kpi_summary, weekly_series
from storage.open_cases import OpenCase
from storage.outbox import claim_daily_digest, claim_monthly_review
from storage.outcomes import Windows
from storage.pilot import outside_pilot
from storage.rollup import root_cause_rollup

log = logging.getLogger(__name__)

QUARTERS = "quarters"
QUARTER_COUNT = 4
DIGEST_LIMIT = 200  # rows read for a digest; the message shows the first 40 and counts the rest


@dataclass(frozen=True)
class ThemeView:
    """A theme as a report shows it: the owner resolved to a Slack id where possible."""

    name: str
    owner: str
    mandate: str


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
        if text.strip().lower() == QUARTERS:
            return self.kpi_quarters()
        now = self.clock()
        period = parse_period(text, now=now, tz=self.rules.tzinfo)
        summary = self._summary(period, now)
        blocks = kpi_views.kpi_blocks(summary, label=period.label)
        blocks += advocacy_blocks(advocacy_counts(self.engine, start=period.start, end=period.end))
        blocks += outside_pilot_blocks(
            outside_pilot(self.engine, start=period.start, end=period.end)
        )
        return Report(kpi_views.kpi_text(summary, period.label), blocks)

    def _summary(self, period: Period, now: datetime) -> KpiSummary:
        """The KPIs of one period with the rules' cost and windows."""
        kpi = self.rules.kpi
        low, high = kpi.recovery_window
        windows = Windows(
            recovery=(low.as_timedelta(), high.as_timedelta()),
            churn=kpi.churn_window.as_timedelta(),
        )
        return kpi_summary(
            self.engine,
            start=period.start,
            end=period.end,
            now=now,
            monthly_cost=kpi.monthly_cost,
            windows=windows,
            tz=self.rules.tzinfo,
        )

    def kpi_quarters(self) -> Report:
        """The five KPIs for the last four whole quarters, side by side against their targets."""
        now = self.clock()
        columns = [
            (period.label, self._summary(period, now))
            for period in last_quarters(now, self.rules.tzinfo, QUARTER_COUNT)
        ]
        return Report(kpi_views.quarter_text(columns), kpi_views.quarter_blocks(columns))

    def rootcause(self, text: str) -> Report:
        """Root-cause themes with count, average score, ARR at risk, owner and mandate, and the
        change since the period before (default: last month)."""
        now = self.clock()
        tz = self.rules.tzinfo
        period: Period = parse_period(text, now=now, tz=tz) if text.strip() else last_month(now, tz)
        return self._rollup(period, label=period.label)

    def _rollup(self, period: Period, *, label: str) -> Report:
        """The period's themes beside the period before, each owner resolved to a mention."""
        tz = self.rules.tzinfo
        rows = root_cause_rollup(self.engine, start=period.start, end=period.end)
        before = previous_period(period, tz)
        earlier = root_cause_rollup(self.engine, start=before.start, end=before.end)
        themes = [
            ThemeView(t.name, self._id(t.owner) or t.owner, t.mandate) for t in self.rules.themes
        ]
        context = ThemeContext.of(themes, earlier, before.label, told_counts(self.engine))
        return Report(
            views.root_cause_text(rows, label=label),
            views.root_cause_blocks(rows, label=label, context=context),
        )

    # --- the monthly review ------------------------------------------------------------------

    def review(self, month: str) -> Report:
        """The review posted in `month` ("YYYY-MM"): the month before's themes and owners."""
        year, number = (int(part) for part in month.split("-"))
        tz = self.rules.tzinfo
        period = last_month(month_period(year, number, tz).start, tz)
        return self._rollup(period, label=f"monthly review · {period.label}")

    def due_for_review(self, now: datetime) -> bool:
        """On or after the month's first business day, past `digest.time` on that day."""
        local = now.astimezone(self.rules.tzinfo)
        first = local.date().replace(day=1)
        while not self.calendar.is_business_day(first):
            first += timedelta(days=1)
        if local.date() != first:
            return local.date() > first
        return local.time() >= self.rules.digest.time

    def queue_monthly_review(self) -> bool:
        """Queue last month's review once per month, whatever the replicas; the outbox sends it."""
        channel = self.rules.review.channel or self.rules.digest.channel
        now = self.clock()
        if not channel or not self.due_for_review(now):
            return False
        month = now.astimezone(self.rules.tzinfo).date().replace(day=1)
        if not claim_monthly_review(self.engine, month=month, channel=channel, now=now):
            return False
        log.info("reports.review_queued month=%s", month.isoformat()[:7])
        self.wake()
        return True

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
