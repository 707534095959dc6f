"""The application: database, intake writer, outbox, scheduler and Bolt behind one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from bot.app import metrics
from bot.app.health import health_router
from bot.app.openapi import describe_webhooks
from bot.app.scrape import registry_for, router
from bot.app.wiring import Services
from handlers.account_webhook import EVENTS_PATH, OLD_EVENTS_PATH, account_route
from handlers.directory_webhook import accounts_route, touchpoints_route
from handlers.platform_webhook import PLATFORM_PREFIX, platform_route
from handlers.slack_events import slack_router
from handlers.survey_webhook import survey_route

log = logging.getLogger(__name__)


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
    registry = registry_for(services.engine, services.timers.oldest_overdue)
    app.include_router(router(registry, token=services.settings.metrics_token))
    describe_webhooks(app)
    if sandbox is not None:  # the sandbox's page and Slack stand-in, when running as one
        app.include_router(sandbox)

    app.include_router(health_router(services))

    names = services.platforms.sources if services.platforms is not None else {}
    return metrics.RequestMetrics(IntakeFastPath(app, intake, platforms), survey_sources=names)


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
