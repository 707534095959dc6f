"""`POST /webhooks/account`: churn and renewal events, signed like the survey webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.services.intake import BadPayload, NotJson, parse_account_event
from handlers.signed import error, read_signed
from storage.account_events import record_account_event

log = logging.getLogger(__name__)


def account_route(*, secret: str, engine: sa.Engine) -> Route:
    """The account-event webhook: 202 when recorded, 200 when it was already known."""
    webhook = Webhook(secret)

    async def account_webhook(request: Request) -> JSONResponse:
        body = await read_signed(request, webhook, name="account_event")
        if isinstance(body, JSONResponse):
            return body
        try:
            event = parse_account_event(body)
        except NotJson as exc:
            return error(400, str(exc))
        except BadPayload as exc:
            fields = [{"field": e.field, "message": e.message} for e in exc.errors]
            return error(422, "invalid account event", fields=fields)
        created = await run_in_threadpool(
            lambda: record_account_event(
                engine,
                account_id=event.account_id,
                event=event.event,
                at=event.at,
                arr=event.arr,
                source="webhook",
                now=datetime.now(UTC),
            )
        )
        log.info(
            "account_event.stored account_id=%s event=%s new=%s",
            event.account_id,
            event.event,
            created,
        )
        answer = {"account_id": event.account_id, "event": event.event, "recorded": created}
        return JSONResponse(answer, status_code=202 if created else 200)

    return Route("/webhooks/account", account_webhook, methods=["POST"])
