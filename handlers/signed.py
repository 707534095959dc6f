"""Reading a Standard Webhooks request: size, encoding and signature, with clear refusals."""

from __future__ import annotations

import logging

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
ANSWER_WITHIN = 5.0
"""Seconds a webhook waits for its write before answering 503: a locked database never holds
the sender's request open."""
RETRY_AFTER = 5


def error(status: int, message: str, **extra: object) -> JSONResponse:
    """A JSON error answer; never echoes the request."""
    return JSONResponse({"error": message, **extra}, status_code=status)


def busy(message: str) -> JSONResponse:
    """503 with `Retry-After`: not stored (yet), so the sender should send it again."""
    answer = error(503, message)
    answer.headers["Retry-After"] = str(RETRY_AFTER)
    return answer


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


async def read_body(request: Request, *, limit: int = MAX_BODY) -> bytes | JSONResponse:
    """The body, or 413 when it is over `limit` bytes (said or found)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return error(413, f"body is larger than {limit // 1024} KiB")
    body = await request.body()
    if len(body) > limit:
        return error(413, f"body is larger than {limit // 1024} KiB")
    return body


async def read_signed(
    request: Request, webhook: Webhook, *, name: str, limit: int = MAX_BODY
) -> bytes | JSONResponse:
    """The verified body, or the answer that refuses it (413, 400 or 401)."""
    body = await read_body(request, limit=limit)
    if isinstance(body, JSONResponse):
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return error(400, "body is not UTF-8 JSON")
    problem = _signature_problem(webhook, body, request)
    if problem:
        log.warning("%s.rejected reason=signature detail=%r", name, problem)
        return error(401, problem)
    return body
