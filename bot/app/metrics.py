"""Prometheus metrics: event counters fed by hooks, and gauges read from the database at scrape.

Every replica is scraped on its own. Counters and histograms count what this process did; the
gauges read from the database (outbox depth, overdue escalation steps) are the same on every
replica, so alert rules take `max` of them rather than `sum`.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler import events
from apscheduler.schedulers.base import BaseScheduler
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.models import OutboxMessage

disable_created_metrics()  # no `_created` twin for every counter series
# The text format every Prometheus since 2.0 reads; the names here need none of 1.0.0's escaping.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

EVENTS = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    EVENTS.register(_collector)

# --- event metrics: what this process did -------------------------------------------------

REQUESTS = Counter(
    "nps_bot_intake_requests",
    "Inbound requests answered, by source (survey, account, slack) and HTTP answer code",
    ["source", "code"],
    registry=EVENTS,
)
REQUEST_SECONDS = Histogram(
    "nps_bot_intake_seconds",
    "Time from an inbound request's arrival to its answer, by source",
    ["source"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=EVENTS,
)
DELIVERIES = Counter(
    "nps_bot_deliveries",
    "Outbox delivery attempts by kind and outcome (sent, failed, deferred, skipped)",
    ["kind", "outcome"],
    registry=EVENTS,
)
CARD_LATENCY = Histogram(
    "nps_bot_card_latency_seconds",
    "From a survey response's arrival to its card in Slack",
    buckets=(0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0),
    registry=EVENTS,
)
SLACK_ANSWERS = Counter(
    "nps_bot_slack_answers",
    "Slack Web API answers by method and outcome, each retry counted (ok, error, ratelimited, "
    "server_error, connection_error)",
    ["method", "outcome"],
    registry=EVENTS,
)
SLACK_RATELIMITED = Counter(
    "nps_bot_slack_ratelimited",
    "Slack Web API answers of 429 Too Many Requests, by method",
    ["method"],
    registry=EVENTS,
)
SWEEP_SECONDS = Histogram(
    "nps_bot_timer_sweep_seconds",
    "Duration of one sweep of the escalation, overdue, reminder and re-survey timers",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=EVENTS,
)
SWEEP_LAG = Histogram(
    "nps_bot_timer_sweep_lag_seconds",
    "How long after its scheduled time a timer sweep was started",
    buckets=(0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
    registry=EVENTS,
)
SWEEP_FAILURES = Counter(
    "nps_bot_timer_sweep_failures", "Timer sweeps that ended in an error", registry=EVENTS
)
LAST_SWEEP = Gauge(
    "nps_bot_timer_last_sweep_timestamp_seconds",
    "When this process last finished a timer sweep without error (Unix time)",
    registry=EVENTS,
)
TICKS = Counter(
    "nps_bot_scheduler_ticks",
    "Runs of the scheduler's timer job by outcome (ran, error, missed, skipped)",
    ["outcome"],
    registry=EVENTS,
)
DATABASE_ERRORS = Counter(
    "nps_bot_database_errors",
    "Database errors raised to the bot, by class (OperationalError, IntegrityError ...)",
    ["error"],
    registry=EVENTS,
)

SOURCES = {"/webhooks/survey": "survey", "/webhooks/account": "account", "/slack/events": "slack"}
OUTCOMES = ("sent", "failed", "deferred", "skipped")
for _kind in DeliveryKind:
    for _outcome in OUTCOMES:
        DELIVERIES.labels(_kind.value, _outcome)
for _method in ("chat.postMessage", "chat.update"):
    SLACK_RATELIMITED.labels(_method)


# --- hooks for the modules that do the work ----------------------------------------------


def delivery_outcome(kind: str, outcome: str) -> None:
    """Count one outbox delivery attempt: `sent`, `failed`, `deferred` or `skipped`."""
    DELIVERIES.labels(kind, outcome if outcome in OUTCOMES else "other").inc()


def card_posted(received_at: datetime, sent_at: datetime) -> None:
    """Record how long a response waited from its arrival until its card was in Slack."""
    CARD_LATENCY.observe(max(0.0, (sent_at - received_at).total_seconds()))


@contextmanager
def timer_sweep() -> Iterator[None]:
    """Time one timer sweep; a sweep that raises is counted as failed and the error goes on."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        SWEEP_FAILURES.inc()
        raise
    finally:
        SWEEP_SECONDS.observe(time.perf_counter() - started)
    LAST_SWEEP.set(time.time())


_TICK_OUTCOMES = {
    events.EVENT_JOB_EXECUTED: "ran",
    events.EVENT_JOB_ERROR: "error",
    events.EVENT_JOB_MISSED: "missed",
    events.EVENT_JOB_MAX_INSTANCES: "skipped",
}


def _scheduler_event(event: events.SchedulerEvent) -> None:
    if isinstance(event, events.JobSubmissionEvent) and event.code == events.EVENT_JOB_SUBMITTED:
        if event.scheduled_run_times:
            late = datetime.now(UTC) - min(event.scheduled_run_times)
            SWEEP_LAG.observe(max(0.0, late.total_seconds()))
        return
    if event.code in _TICK_OUTCOMES:
        TICKS.labels(_TICK_OUTCOMES[event.code]).inc()


def watch_scheduler(scheduler: BaseScheduler) -> None:
    """Count the scheduler's runs, misses and skips, and how late each run started."""
    mask = events.EVENT_JOB_SUBMITTED
    for code in _TICK_OUTCOMES:
        mask |= code
    scheduler.add_listener(_scheduler_event, mask)


def _database_error(context: sa.engine.ExceptionContext) -> None:
    error = context.sqlalchemy_exception or context.original_exception
    DATABASE_ERRORS.labels(type(error).__name__).inc()


def watch_database(engine: sa.Engine) -> None:
    """Count every error the database driver raises through this engine."""
    sa.event.listen(engine, "handle_error", _database_error)


class SlackAnswerMeter(RetryHandler):
    """Counts each Slack Web API answer by method and outcome; never asks for a retry itself.

    It goes first among the client's retry handlers, which slack_sdk consults on every answer.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__(max_retry_count=0)
        self.base_url = base_url

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        url = request.url.split("?", 1)[0]
        method = url.removeprefix(self.base_url) if url.startswith(self.base_url) else "upload"
        if response is None:
            outcome = "connection_error"
        elif response.status_code == 429:
            outcome = "ratelimited"
            SLACK_RATELIMITED.labels(method).inc()
        elif response.status_code >= 500:
            outcome = "server_error"
        elif response.status_code == 200 and (response.body or {}).get("ok", True):
            outcome = "ok"
        else:
            outcome = "error"
        SLACK_ANSWERS.labels(method, outcome).inc()
        return False


def watch_slack(client: WebClient) -> None:
    """Count the answers a WebClient (and every client Bolt copies from it) gets from Slack."""
    if not any(isinstance(h, SlackAnswerMeter) for h in client.retry_handlers):
        client.retry_handlers.insert(0, SlackAnswerMeter(client.base_url))


class RequestMetrics:
    """ASGI middleware: the answer code and latency of every webhook and Slack request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state = getattr(app, "state", None)
        # Label lookups take a lock each; the intake path keeps the series it has used.
        self._timers = {source: REQUEST_SECONDS.labels(source) for source in SOURCES.values()}
        self._counters: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = SOURCES.get(scope["path"]) if scope["type"] == "http" else None
        if source is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # what the server answers when the app raises before starting a response

        async def observed(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self._timers[source].observe(time.perf_counter() - started)
            counter = self._counters.get((source, code))
            if counter is None:
                counter = self._counters[source, code] = REQUESTS.labels(source, str(code))
            counter.inc()


# --- gauges read from the database at scrape time -----------------------------------------

OUTBOX = OutboxMessage.__table__
OPEN = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value, OutboxStatus.FAILED.value)


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then else 0.0


class DatabaseGauges:
    """Outbox depth and age by state and kind, and overdue escalation steps, read per scrape."""

    def __init__(self, engine: sa.Engine, overdue: Callable[[], timedelta | None]) -> None:
        self.engine = engine
        self.overdue = overdue

    def _outbox(self, now: datetime) -> list[Any]:
        due = OUTBOX.c.next_attempt_at <= now
        query = (
            sa.select(
                OUTBOX.c.status,
                OUTBOX.c.kind,
                sa.func.count(),
                sa.func.min(OUTBOX.c.created_at),
                sa.func.sum(sa.case((due, 1), else_=0)),
                sa.func.min(sa.case((due, OUTBOX.c.next_attempt_at), else_=None)),
            )
            .where(OUTBOX.c.status.in_(OPEN))
            .group_by(OUTBOX.c.status, OUTBOX.c.kind)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("nps_bot_database_up", "1 when the database answered this scrape")
        now = datetime.now(UTC)
        try:
            rows = self._outbox(now)
            overdue = self.overdue()
        except sa.exc.SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _outbox_families(rows, now)
        yield GaugeMetricFamily(
            "nps_bot_escalation_overdue_seconds",
            "How long the oldest escalation step has been due but not fired, past two ticks "
            "of grace; 0 while the timers keep up",
            value=overdue.total_seconds() if overdue else 0.0,
        )


def _outbox_families(rows: list[Any], now: datetime) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "nps_bot_outbox_messages",
        "Outbox rows not yet delivered, by state (pending, sending, failed) and kind",
        labels=["status", "kind"],
    )
    oldest = GaugeMetricFamily(
        "nps_bot_outbox_oldest_age_seconds",
        "Age of the oldest outbox row in each state and kind",
        labels=["status", "kind"],
    )
    due = GaugeMetricFamily(
        "nps_bot_outbox_due_messages",
        "Pending outbox rows whose next attempt is due now, by kind",
        labels=["kind"],
    )
    waiting = GaugeMetricFamily(
        "nps_bot_outbox_oldest_due_seconds",
        "How long the longest-waiting due pending row has been due, by kind",
        labels=["kind"],
    )
    found = {(row[0], row[1]): row for row in rows}
    for kind in sorted({k.value for k in DeliveryKind} | {row[1] for row in rows}):
        for status in OPEN:
            row = found.get((status, kind))
            depth.add_metric([status, kind], row[2] if row else 0)
            oldest.add_metric([status, kind], _age(now, row[3]) if row else 0.0)
        pending = found.get((OutboxStatus.PENDING.value, kind))
        due.add_metric([kind], (pending[4] or 0) if pending else 0)
        waiting.add_metric([kind], _age(now, pending[5]) if pending else 0.0)
    yield from (depth, oldest, due, waiting)


def registry_for(engine: sa.Engine, overdue: Callable[[], timedelta | None]) -> CollectorRegistry:
    """What one app exposes: this process's event metrics and its database's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EVENTS)  # a registry is a collector of its own metrics
    registry.register(DatabaseGauges(engine, overdue))
    return registry


def router(registry: CollectorRegistry, *, token: str | None) -> APIRouter:
    """`GET /metrics` in the Prometheus text format; with a token set, only for its bearer."""
    routes = APIRouter()
    expected = f"Bearer {token}".encode() if token else None

    @routes.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE: {}}, "description": "The metrics"},
            401: {"description": "METRICS_TOKEN is set and the bearer token is missing or wrong"},
        },
        summary="Prometheus metrics",
    )
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return Response(
                    "bearer token required\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE)

    return routes
