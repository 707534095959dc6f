"""`POST /slack/events`: events, interactivity and slash commands through Bolt, off the loop.

The signature is checked here, on the raw bytes, before anything parses the body: a forged or
malformed request is refused with 401 or 400 and never reaches Bolt or a log line.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

log = logging.getLogger(__name__)


def _refusal(verifier: SignatureVerifier | None, body: bytes, headers: Headers) -> Response | None:
    """Why the request is not from Slack (401) or not readable (400); None when it is signed."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if verifier is None or not signature or not (timestamp.isascii() and timestamp.isdigit()):
        log.warning("slack.rejected reason=headers")
        return JSONResponse({"error": "missing or malformed Slack signature"}, status_code=401)
    try:
        valid = verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError:
        log.warning("slack.rejected reason=encoding")
        return JSONResponse({"error": "body is not UTF-8"}, status_code=400)
    if not valid:
        log.warning("slack.rejected reason=signature")
        return JSONResponse({"error": "invalid or stale Slack signature"}, status_code=401)
    return None


def slack_router(bolt: App, *, signing_secret: str) -> APIRouter:
    """Bolt behind FastAPI; `dispatch` runs on a worker thread so intake never waits on it.

    Slack's retries (`X-Slack-Retry-Num`) are acknowledged and otherwise ignored: the first
    delivery was handled, and a second would repeat its messages.
    """
    router = APIRouter()
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    @router.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        refused = _refusal(verifier, body, request.headers)
        if refused is not None:
            return refused
        retry = request.headers.get("x-slack-retry-num")
        if retry is not None:
            log.info("slack.retry_ignored retry=%s", retry if retry.isdigit() else "?")
            return Response(status_code=200)
        try:
            bolt_request = to_bolt_request(request, body)
        except ValueError:  # signed, yet neither a form nor JSON
            log.warning("slack.rejected reason=unreadable")
            return JSONResponse({"error": "body is not a Slack payload"}, status_code=400)
        answer = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(answer)

    return router
