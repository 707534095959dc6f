"""The bot's long-lived parts, assembled from settings and rules, and their start and stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App, BoltContext
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.app import metrics
from bot.config.rules import Rules
from bot.config.settings import Settings
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import UserDirectory, Workspace, make_client
from bot.services.fetcher import Fetcher
from bot.services.fixes import Fixes
from bot.services.intake import IntakeWriter
from bot.services.platforms import PlatformIntake, build_sources, to_record
from bot.services.reports import Reports
from bot.services.router import Router
from bot.services.timers import Timers
from bot.services.workflow import Workflow
from handlers.listeners import register_listeners
from storage.db import create_db_engine, migrate
from storage.slack_users import SlackUserCache

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived parts of a running bot, shared by the HTTP routes and the listeners."""

    settings: Settings
    rules: Rules
    engine: sa.Engine
    client: WebClient
    bolt: App
    writer: IntakeWriter
    outbox: OutboxWorker
    workflow: Workflow
    timers: Timers
    reports: Reports
    platforms: PlatformIntake | None = None
    fetcher: Fetcher | None = None
    scheduler: BackgroundScheduler = field(default_factory=BackgroundScheduler)
    socket_mode: SocketModeHandler | None = None

    def start(self, *, run_migrations: bool) -> None:
        if run_migrations:
            migrate(self.engine)
        self.writer.start()
        self.outbox.start()
        self.workflow.warm()
        if self.fetcher is not None:
            self.fetcher.start()
        tick = self.rules.scheduler.tick.as_timedelta().total_seconds()
        # One interval job sweeps every timer from the database; a missed run is simply the
        # next run's work, so runs never pile up.
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=tick,
            id="timers",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        metrics.watch_scheduler(self.scheduler)
        self.scheduler.start()
        if self.settings.socket_mode:
            self.socket_mode = SocketModeHandler(self.bolt, self.settings.slack_app_token)
            threading.Thread(target=self._connect_socket_mode, daemon=True).start()
        log.info("bot.started %r", self.settings)

    def _tick(self) -> None:
        try:
            with metrics.timer_sweep():
                self.timers.tick()
        except Exception:
            log.exception("timers.tick_failed")
        self.outbox.wake()
        try:
            self.reports.queue_daily_digest()
        except Exception:
            log.exception("reports.digest_failed")
        try:
            self.reports.queue_monthly_review()
        except Exception:
            log.exception("reports.review_failed")

    def _connect_socket_mode(self) -> None:
        """Open the Socket Mode connection, retrying while Slack is unreachable."""
        delay = 1.0
        while self.socket_mode is not None:
            try:
                self.socket_mode.connect()
                log.info("socket_mode.connected")
                return
            except Exception as exc:
                log.warning(
                    "socket_mode.connect_failed error=%s retry_in=%ss", type(exc).__name__, delay
                )
                time.sleep(delay)
                delay = min(delay * 2, 60.0)

    def stop(self) -> None:
        if self.socket_mode is not None:
            handler, self.socket_mode = self.socket_mode, None
            handler.close()
        self.scheduler.shutdown(wait=True)  # let a running sweep finish before the engine goes
        if self.fetcher is not None:
            self.fetcher.stop()
        self.writer.stop()
        self.outbox.stop()
        self.engine.dispose()
        log.info("bot.stopped")


class _QuietTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when given `authorize`; that is on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "will be unused" not in text and "will be ignored" not in text


def build_services(
    settings: Settings, rules: Rules, *, clock: Callable[[], datetime] | None = None
) -> Services:
    """Assemble the bot's parts, unstarted; `clock`, when given, is every part's now."""
    timed: dict[str, Any] = {} if clock is None else {"clock": clock}
    engine = create_db_engine(settings.database_url)
    client = make_client(settings.slack_bot_token, settings.slack_api_url)
    metrics.watch_slack(client)
    metrics.watch_database(engine)
    directory = UserDirectory(client, SlackUserCache(engine))
    workspace = Workspace(client)
    reports = Reports(engine, rules, directory, workspace, **timed)
    # The outbox paces itself and defers a throttled row instead of sleeping in the client; its
    # own directory and workspace use that paced client, so a 429 on a lookup defers one row.
    outbox = OutboxWorker(
        engine,
        client,
        rules,
        webhook_secret=settings.survey_webhook_secret,
        reports=reports,
        observe=metrics.delivery_outcome,
        on_card=metrics.card_posted,
        **timed,
    )
    reports.wake = outbox.wake
    workflow = Workflow(engine, rules, directory, wake=outbox.wake, workspace=workspace, **timed)
    timers = Timers(engine, rules, directory, wake=outbox.wake, **timed)
    writer = IntakeWriter(engine, Router(rules), on_commit=outbox.wake, **timed)
    sources = build_sources(rules.sources, settings.environment)
    platforms = PlatformIntake(engine, writer, sources, to_record=to_record, **timed)
    fetcher = Fetcher(engine, sources, platforms.store_fetched, **timed)
    platforms.wake_fetcher = fetcher.wake

    fixes = Fixes(engine, rules, directory, wake=outbox.wake, **timed)
    bolt = _bolt(settings, client, workspace, workflow, reports, fixes)
    return Services(
        settings,
        rules,
        engine,
        client,
        bolt,
        writer,
        outbox,
        workflow,
        timers,
        reports,
        platforms=platforms,
        fetcher=fetcher,
    )


def _bolt(
    settings: Settings,
    client: WebClient,
    workspace: Workspace,
    workflow: Workflow,
    reports: Reports,
    fixes: Fixes,
) -> App:
    """Bolt with the listeners, authorising with the one workspace's token."""
    logging.getLogger("slack_bolt.App").addFilter(_QuietTokenWarning())

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        """The one workspace's bot token; never waits on Slack, so clicks work in an outage."""
        facts = workspace.facts(wait=False) or {}
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=settings.slack_bot_token,
            bot_user_id=facts.get("user_id"),
            bot_id=facts.get("bot_id"),
        )

    bolt = App(
        client=client,
        authorize=authorize,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        token_verification_enabled=False,
        request_verification_enabled=not settings.socket_mode,
    )

    def inject(context: BoltContext, next: Callable[[], None]) -> None:
        context["workflow"] = workflow
        context["reports"] = reports
        context["fixes"] = fixes
        next()

    bolt.use(inject)
    register_listeners(bolt)
    return bolt
