"""`POST /webhooks/survey`: verify, validate, store durably, answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.services.intake import IntakeWriter, NotYetStored, Overloaded, to_response_data
from bot.services.payloads import BadPayload, NotJson, parse_survey
from handlers.signed import ANSWER_WITHIN, busy, error, read_signed

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def survey_route(
    *,
    secret: str,
    writer: IntakeWriter,
    answer_within: float = ANSWER_WITHIN,
    clock: Callable[[], datetime] = _now,
) -> Route:
    """The survey webhook, bound to its secret, the intake writer and the clock it stamps with;
    it answers 503 when the commit takes longer than `answer_within` seconds.

    A plain Starlette route: the hot path skips FastAPI's dependency and serialisation layers.
    """
    webhook = Webhook(secret)

    async def survey_webhook(request: Request) -> JSONResponse:
        body = await read_signed(request, webhook, name="intake")
        if isinstance(body, JSONResponse):
            return body
        try:
            payload = parse_survey(body)
        except NotJson as exc:
            return error(400, str(exc))
        except BadPayload as exc:
            fields = [{"field": e.field, "message": e.message} for e in exc.errors]
            log.info("intake.rejected reason=invalid fields=%s", [e.field for e in exc.errors])
            return error(422, "invalid survey response", fields=fields)
        record = to_response_data(
            payload,
            received_at=clock(),
            webhook_id=request.headers.get("webhook-id"),
        )
        try:
            stored = await writer.store(record, timeout=answer_within)
        except NotYetStored:
            return busy("the database is slow to answer; retry later")
        except Overloaded:
            return busy("busy, retry later")
        except RuntimeError:
            return busy("could not store the response; retry later")
        body_out = {
            "response_id": stored.response_id,
            "case_id": stored.case_id,
            "segment": stored.segment,
        }
        return JSONResponse(body_out, status_code=202 if stored.created else 200)

    return Route("/webhooks/survey", survey_webhook, methods=["POST"])
