"""`POST /webhooks/survey`: verify, validate, store durably, answer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.intake import BadPayload, IntakeWriter, NotJson, Overloaded, parse_survey, to_response_data

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _signature_problem(webhook: Webhook, body: bytes, request: Request) -> str | None:
    """Why the Standard Webhooks signature does not hold, or None when it does."""
    headers = {k: request.headers.get(k, "") for k in ("webhook-id", "webhook-timestamp")}
    headers["webhook-signature"] = request.headers.get("webhook-signature", "")
    if not all(headers.values()):
        return "missing webhook-id, webhook-timestamp or webhook-signature header"
    try:
        webhook.verify(body.decode("utf-8"), headers, json_parse=False)
    except WebhookVerificationError as exc:
        text = str(exc)
        if "too old" in text or "too new" in text:
            return "webhook-timestamp is more than 5 minutes off"
        return "signature does not match"
    except (ValueError, TypeError):
        return "malformed webhook-signature or webhook-timestamp header"
    return None


def survey_route(*, secret: str, writer: IntakeWriter) -> Route:
    """The survey webhook, bound to its secret and the intake writer.

    A plain Starlette route: the hot path skips FastAPI's dependency and serialisation layers.
    """
    webhook = Webhook(secret)

    async def survey_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return _error(413, f"body is larger than {MAX_BODY // 1024} KiB")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"body is larger than {MAX_BODY // 1024} KiB")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "body is not UTF-8 JSON")
        problem = _signature_problem(webhook, body, request)
        if problem:
            log.warning("intake.rejected reason=signature detail=%r", problem)
            return _error(401, problem)
        try:
            payload = parse_survey(body)
        except NotJson as exc:
            return _error(400, str(exc))
        except BadPayload as exc:
            fields = [{"field": e.field, "message": e.message} for e in exc.errors]
            log.info("intake.rejected reason=invalid fields=%s", [e.field for e in exc.errors])
            return _error(422, "invalid survey response", fields=fields)
        record = to_response_data(
            payload,
            received_at=datetime.now(UTC),
            webhook_id=request.headers.get("webhook-id"),
        )
        try:
            stored = await writer.store(record)
        except Overloaded:
            return JSONResponse(
                {"error": "busy, retry later"}, status_code=503, headers={"Retry-After": "5"}
            )
        except RuntimeError:
            return _error(503, "could not store the response; retry later")
        body_out = {
            "response_id": stored.response_id,
            "case_id": stored.case_id,
            "segment": stored.segment,
        }
        return JSONResponse(body_out, status_code=202 if stored.created else 200)

    return Route("/webhooks/survey", survey_webhook, methods=["POST"])
