"""The application: database, intake writer, outbox, scheduler and Bolt behind one ASGI app."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from slack_bolt import App, BoltContext
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from bot.app import metrics
from bot.app.openapi import describe_webhooks
from bot.config.rules import Rules
from bot.config.settings import Settings
from bot.delivery.health import outbox_health
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import UserDirectory, Workspace, make_client
from bot.services.fetcher import Fetcher
from bot.services.intake import IntakeWriter, Router
from bot.services.platforms import PlatformIntake, build_sources, to_record
from bot.services.reports import Reports
from bot.services.timers import Timers
from bot.services.workflow import Workflow
from handlers.account_webhook import EVENTS_PATH, OLD_EVENTS_PATH, account_route
from handlers.directory_webhook import accounts_route, touchpoints_route
from handlers.listeners import register_listeners
from handlers.platform_webhook import PLATFORM_PREFIX, platform_route
from handlers.slack_events import slack_router
from handlers.survey_webhook import survey_route
from storage.db import create_db_engine, migrate, ping
from storage.directory import DirectoryCache

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
    directory = UserDirectory(client, DirectoryCache(engine))
    workspace = Workspace(client)
    reports = Reports(engine, rules, directory, workspace)
    # The outbox paces itself and defers a throttled row instead of sleeping in the client; its
    # own directory and workspace use that paced client, so a 429 on a lookup defers one row.
    outbox = OutboxWorker(
        engine,
        client,
        rules,
        webhook_secret=settings.survey_webhook_secret,
        reports=reports,
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
        next()

    bolt.use(inject)
    register_listeners(bolt)
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


def create_app(
    services: Services, *, run_migrations: bool = True, sandbox: APIRouter | None = None
) -> metrics.RequestMetrics:
    """The ASGI app; starting it starts the writer, the outbox and the scheduler."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.start, run_migrations=run_migrations)
        try:
            yield
        finally:
            await run_in_threadpool(services.stop)

    app = FastAPI(title="nps-bot", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.services = services
    intake = survey_route(
        secret=services.settings.survey_webhook_secret or "",
        writer=services.writer,
        clock=services.workflow.clock,
    )
    app.router.routes.append(intake)
    secret = services.settings.survey_webhook_secret or ""
    token = services.settings.directory_token
    for path in (EVENTS_PATH, OLD_EVENTS_PATH):
        app.router.routes.append(account_route(secret=secret, engine=services.engine, path=path))
    app.router.routes.append(accounts_route(secret=secret, token=token, engine=services.engine))
    app.router.routes.append(touchpoints_route(secret=secret, token=token, engine=services.engine))
    platforms = platform_route(services.platforms) if services.platforms is not None else None
    app.router.routes.extend([platforms] if platforms is not None else [])
    if not services.settings.socket_mode:
        app.include_router(
            slack_router(services.bolt, signing_secret=services.settings.slack_signing_secret or "")
        )
    scrape = metrics.registry_for(services.engine, services.timers.oldest_overdue)
    app.include_router(metrics.router(scrape, token=services.settings.metrics_token))
    describe_webhooks(app)
    if sandbox is not None:  # the sandbox's page and Slack stand-in, when running as one
        app.include_router(sandbox)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if not await run_in_threadpool(ping, services.engine):
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        outbox = await run_in_threadpool(
            outbox_health, services.engine, services.outbox.state(), now=datetime.now(UTC)
        )
        stuck = await run_in_threadpool(services.timers.oldest_overdue)
        sources = await run_in_threadpool(services.platforms.health) if services.platforms else {}
        return JSONResponse(
            {
                "status": "degraded" if outbox.degraded else "ok",
                "database": "ok",
                # Degraded while delivery is paused (the token) or the oldest pending delivery
                # has waited too long; `last_error` is the last Slack error code met.
                "outbox": outbox.as_dict(),
                # Seconds the oldest escalation step has been due but not fired (past two
                # ticks of grace); anything but null means the scheduler is stuck.
                "timers": {
                    "oldest_overdue_step_seconds": int(stuck.total_seconds()) if stuck else None
                },
                "sources": sources,
            },
            status_code=503 if outbox.degraded else 200,
        )

    return metrics.RequestMetrics(IntakeFastPath(app, intake, platforms))


class IntakeFastPath:
    """The ASGI entry point: survey webhooks go straight to their routes, the rest to FastAPI.

    Intake is the one path that takes thousands of requests a second, from nps-bot's own
    webhook and from the survey platforms'; skipping FastAPI's middleware layers there is a
    measurable share of the per-request cost.
    """

    def __init__(self, api: FastAPI, intake: Route, platforms: Route | None = None) -> None:
        self.api = api
        self.intake = intake
        self.platforms = platforms
        self.state = api.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == self.intake.path:
                await self.intake.handle(scope, receive, send)
                return
            if self.platforms is not None and path.startswith(PLATFORM_PREFIX):
                match, child = self.platforms.matches(scope)
                if match is not Match.NONE:  # PARTIAL: a method the route refuses, so 405
                    scope.update(child)
                    await self.platforms.handle(scope, receive, send)
                    return
        await self.api(scope, receive, send)
