"""`GET /metrics`: the gauges read from the database at each scrape, and the route."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.concurrency import run_in_threadpool

from bot.app.metrics import CONTENT_TYPE, EVENTS
from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage.models import OutboxMessage

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
