"""`POST /webhooks/survey/<source>`: a survey platform's own webhook, as the platform ships it.

Each configured source names its platform; the platform's adapter verifies the signature on the
raw body and reads the delivery. An answer is stored through intake (202, or 200 when it only
repeats or updates a response already stored); a notification that only names a response is
queued durably for read-back (202); a valid delivery with nothing to store is answered 200.
`HEAD` answers 200, as SurveyMonkey checks when a webhook is registered.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services.intake import NotYetStored, Overloaded
from bot.services.platforms import PlatformIntake
from bot.services.sources import (
    Answer,
    BadShape,
    FetchRef,
    Ignored,
    NotParseable,
    Unauthorized,
)
from handlers.signed import ANSWER_WITHIN, busy, error, read_body

log = logging.getLogger(__name__)

PLATFORM_PREFIX = "/webhooks/survey/"
"""Every source's path starts here: `/webhooks/survey/<source>`."""


def platform_route(intake: PlatformIntake) -> Route:
    """One route for every configured source; an unknown source name is 404."""

    async def platform_webhook(request: Request) -> Response:
        name = request.path_params["source"]
        source = intake.sources.get(name)
        if source is None:
            return error(404, "no survey source of that name is configured")
        if request.method == "HEAD":
            return Response(status_code=200)
        body = await read_body(request)
        if isinstance(body, JSONResponse):
            return body
        headers = request.headers  # each adapter reads it case-insensitively, as it must
        try:
            source.platform.verify(
                body=body,
                headers=headers,
                secret=source.secret,
                token=source.token,
                now=datetime.now(UTC),
            )
        except Unauthorized as exc:
            log.warning("intake.rejected source=%s reason=auth detail=%r", name, exc.reason)
            return error(401, exc.reason)
        try:
            delivery = source.platform.parse(body, headers=headers, fields=source.fields)
        except NotParseable as exc:
            return error(400, exc.reason)
        except BadShape as exc:
            fields = [{"field": f.field, "message": f.message} for f in exc.fields]
            log.info("intake.rejected source=%s reason=shape fields=%s", name, len(fields))
            return error(422, f"not a {source.platform.name} delivery", fields=fields)
        return await _accept(intake, name, delivery)

    return Route(PLATFORM_PREFIX + "{source:str}", platform_webhook, methods=["POST", "HEAD"])


async def _accept(intake: PlatformIntake, name: str, delivery: object) -> Response:
    """Store, queue or ignore a verified delivery, and say which."""
    if isinstance(delivery, Ignored):
        intake.count(name, "ignored")
        return JSONResponse({"ignored": delivery.reason}, status_code=200)
    if isinstance(delivery, FetchRef):
        try:
            queued = await intake.queue(name, delivery)
        except Exception:
            log.exception("intake.queue_failed source=%s", name)
            return busy("could not queue the response; retry later")
        intake.count(name, "queued" if queued else "repeated")
        return JSONResponse(
            {"response_id": delivery.response_id, "queued": queued},
            status_code=202 if queued else 200,
        )
    assert isinstance(delivery, Answer)
    if delivery.score is None:
        intake.count(name, "ignored")
        return JSONResponse({"ignored": "no score yet"}, status_code=200)
    try:
        stored = await intake.receive(name, delivery, timeout=ANSWER_WITHIN)
    except NotYetStored:
        return busy("the database is slow to answer; retry later")
    except Overloaded:
        return busy("busy, retry later")
    except RuntimeError:
        return busy("could not store the response; retry later")
    intake.count(name, "stored" if stored.created else "updated")
    answer = {
        "response_id": stored.response_id,
        "case_id": stored.case_id,
        "segment": stored.segment,
    }
    return JSONResponse(answer, status_code=202 if stored.created else 200)
