"""`POST /webhooks/account`: churn and renewal events, signed like the survey webhook."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.services.payloads import AccountEventIn, BadPayload, NotJson, parse_account_event
from handlers.signed import ANSWER_WITHIN, busy, error, read_signed
from storage.account_events import record_account_event

log = logging.getLogger(__name__)


async def _record(engine: sa.Engine, event: AccountEventIn, *, within: float) -> bool:
    """Record the event on a worker thread; TimeoutError if that takes over `within` seconds.

    The write goes on after a timeout; if it commits, the sender's retry finds the event known.
    """
    loop = asyncio.get_running_loop()
    write = loop.run_in_executor(
        None,
        lambda: record_account_event(
            engine,
            account_id=event.account_id,
            event=event.event,
            at=event.at,
            arr=event.arr,
            source="webhook",
            now=datetime.now(UTC),
        ),
    )
    return await asyncio.wait_for(write, within)


EVENTS_PATH = "/webhooks/account-events"
OLD_EVENTS_PATH = "/webhooks/account"
"""The first name of the churn and renewal events webhook, still served."""


def account_route(
    *,
    secret: str,
    engine: sa.Engine,
    answer_within: float = ANSWER_WITHIN,
    path: str = EVENTS_PATH,
) -> Route:
    """The account-event webhook: 202 when recorded, 200 when it was already known, 503 when
    the database does not commit it within `answer_within` seconds."""
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
        try:
            created = await _record(engine, event, within=answer_within)
        except TimeoutError:
            log.warning("account_event.slow account_id=%s", event.account_id)
            return busy("the database is slow to answer; retry later")
        except sa.exc.SQLAlchemyError as exc:
            cause = type(getattr(exc, "orig", None) or exc).__name__
            log.error("account_event.write_failed account_id=%s error=%s", event.account_id, cause)
            return busy("could not record the event; retry later")
        log.info(
            "account_event.stored account_id=%s event=%s new=%s",
            event.account_id,
            event.event,
            created,
        )
        answer = {"account_id": event.account_id, "event": event.event, "recorded": created}
        return JSONResponse(answer, status_code=202 if created else 200)

    return Route(path, account_webhook, methods=["POST"])
