"""Prometheus metrics: event counters fed by hooks, and gauges read from the database at scrape.

Every replica is scraped on its own. Counters and histograms count what this process did; the
gauges read from the database (outbox depth, overdue escalation steps) are the same on every
replica, so alert rules take `max` of them rather than `sum`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler import events
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.domain.vocabulary import DeliveryKind

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

SOURCES = {
    "/webhooks/survey": "survey",
    "/webhooks/account": "account",
    "/webhooks/account-events": "account",
    "/webhooks/accounts": "directory",
    "/webhooks/touchpoints": "touchpoints",
    "/slack/events": "slack",
}
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

    def __init__(self, app: ASGIApp, *, survey_sources: Iterable[str] = ()) -> None:
        self.app = app
        self.state = getattr(app, "state", None)
        # A survey platform's path is labelled by its configured source only: a path nobody
        # configured adds no series.
        self.paths = {**SOURCES, **{f"/webhooks/survey/{n}": n for n in survey_sources}}
        # Label lookups take a lock each; the intake path keeps the series it has used.
        self._timers = {source: REQUEST_SECONDS.labels(source) for source in self.paths.values()}
        self._counters: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self.paths.get(scope["path"]) if scope["type"] == "http" else None
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
