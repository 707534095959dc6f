"""`GET /healthz`: the database, the outbox, the timers and the survey sources at a glance.

503 `degraded` where a load balancer or an alert should act: delivery paused (the Slack token) or
stuck, or a source's read-back queue failing for longer than STUCK_AFTER.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.app.wiring import Services
from bot.delivery.health import outbox_health
from storage.db import ping

STUCK_AFTER = 15 * 60
"""Seconds a read-back may fail before the source counts as degraded."""


def _sources_degraded(sources: dict[str, dict[str, Any]]) -> bool:
    for entry in sources.values():
        fetches = entry.get("fetches") or {}
        waited = fetches.get("oldest_pending_seconds") or 0
        if fetches.get("failed") or (fetches.get("failing") and waited > STUCK_AFTER):
            return True
    return False


def health_router(services: Services) -> APIRouter:
    """The health route, reading the running services."""
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        if not await run_in_threadpool(ping, services.engine):
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        outbox = await run_in_threadpool(
            outbox_health, services.engine, services.outbox.state(), now=datetime.now(UTC)
        )
        stuck = await run_in_threadpool(services.timers.oldest_overdue)
        sources = await run_in_threadpool(services.platforms.health) if services.platforms else {}
        degraded = outbox.degraded or _sources_degraded(sources)
        return JSONResponse(
            {
                "status": "degraded" if degraded else "ok",
                "database": "ok",
                # Degraded while delivery is paused (the token) or the oldest pending delivery
                # has waited too long; `last_error` is the last Slack error code met.
                "outbox": outbox.as_dict(),
                # Seconds the oldest escalation step has been due but not fired (past two
                # ticks of grace); anything but null means the scheduler is stuck.
                "timers": {
                    "oldest_overdue_step_seconds": int(stuck.total_seconds()) if stuck else None
                },
                # Per source: deliveries since start by outcome, and the read-back queue.
                "sources": sources,
            },
            status_code=503 if degraded else 200,
        )

    return router
