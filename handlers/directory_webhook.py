"""`POST /webhooks/accounts` and `POST /webhooks/touchpoints`: the account directory and the
touchpoint feed from reverse-ETL tools, CRM workflows and product, support or billing tools."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.services.directory import BadRecords, NotJsonArray, parse_accounts, parse_touchpoints
from handlers.signed import MAX_BODY, error, read_body, read_signed
from storage.accounts import load_directory
from storage.touchpoints import record_touchpoints

log = logging.getLogger(__name__)

# A thousand records fit easily; this is the intake's limit times four.
MAX_DIRECTORY_BODY = 4 * MAX_BODY


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def read_authenticated(
    request: Request, webhook: Webhook, token: str | None, *, name: str
) -> bytes | JSONResponse:
    """The body of a request signed with Standard Webhooks or carrying the bearer token."""
    given = _bearer(request)
    if given is None:
        return await read_signed(request, webhook, name=name, limit=MAX_DIRECTORY_BODY)
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        log.warning("%s.rejected reason=token", name)
        return error(401, "bearer token does not match")
    return await read_body(request, limit=MAX_DIRECTORY_BODY)


Handler = Callable[[Request], Awaitable[JSONResponse]]


def accounts_route(*, secret: str, token: str | None, engine: sa.Engine) -> Route:
    """The directory webhook: up to 1,000 accounts per request, 202 with counts."""
    webhook = Webhook(secret)

    async def accounts_webhook(request: Request) -> JSONResponse:
        body = await read_authenticated(request, webhook, token, name="directory")
        if isinstance(body, JSONResponse):
            return body
        try:
            records = parse_accounts(body)
        except NotJsonArray as exc:
            return error(400, str(exc))
        except BadRecords as exc:
            fields = [{"field": e.field, "message": e.message} for e in exc.errors]
            return error(422, "invalid account records", fields=fields)
        result = await run_in_threadpool(
            lambda: load_directory(engine, records, now=datetime.now(UTC))
        )
        log.info(
            "directory.loaded read=%s created=%s updated=%s",
            result.read,
            result.created,
            result.updated,
        )
        counts = {"read": result.read, "created": result.created, "updated": result.updated}
        return JSONResponse(counts, status_code=202)

    return Route("/webhooks/accounts", accounts_webhook, methods=["POST"])


def touchpoints_route(*, secret: str, token: str | None, engine: sa.Engine) -> Route:
    """The touchpoint feed: up to 1,000 events per request, 202 with counts."""
    webhook = Webhook(secret)

    async def touchpoints_webhook(request: Request) -> JSONResponse:
        body = await read_authenticated(request, webhook, token, name="touchpoints")
        if isinstance(body, JSONResponse):
            return body
        try:
            records = parse_touchpoints(body)
        except NotJsonArray as exc:
            return error(400, str(exc))
        except BadRecords as exc:
            fields = [{"field": e.field, "message": e.message} for e in exc.errors]
            return error(422, "invalid touchpoints", fields=fields)
        created = await run_in_threadpool(
            lambda: record_touchpoints(engine, records, now=datetime.now(UTC))
        )
        log.info("touchpoints.recorded read=%s new=%s", len(records), created)
        return JSONResponse({"read": len(records), "new": created}, status_code=202)

    return Route("/webhooks/touchpoints", touchpoints_webhook, methods=["POST"])
