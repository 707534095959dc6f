"""The sandbox's HTTP routes: the page, its JSON endpoints, and the Slack Web API stand-in."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.app.sandbox import survey
from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.interact import Interactions, Refused
from bot.app.sandbox.page import Page, offset_words
from bot.app.sandbox.people import Person
from bot.app.sandbox.slack_api import SlackApi, bearer, parse_args

log = logging.getLogger(__name__)

LONG_POLL = 4.0  # seconds a poll waits for a change; under uvicorn's 5 s graceful shutdown
MAX_ADVANCE_HOURS = 24 * 30
STATIC = {"sandbox.js": "text/javascript", "sandbox.css": "text/css"}
DEFAULT_CONVERSATION = "C0SBALICE"


@dataclass
class Sandbox:
    """The sandbox's parts that the routes use."""

    api: SlackApi
    interactions: Interactions
    page: Page
    clock: OffsetClock
    sweep: Callable[[], dict[str, int]]
    survey_url: str
    webhook_secret: str

    def person(self, user: str | None) -> Person:
        """The acting person; the first of the sandbox's people when none or an unknown is named."""
        directory = self.page.directory
        return directory.person(user) or directory.people[0]


def _refused(message: str, status: int = 409) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any] | None:
    """The page's JSON body; None for anything else, so another site cannot post forms here."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


def sandbox_router(sandbox: Sandbox) -> APIRouter:
    """Every sandbox route, under `/sandbox`."""
    router = APIRouter(prefix="/sandbox")
    _page_routes(router, sandbox)
    router.include_router(stand_in_router(sandbox.api))
    _action_routes(router, sandbox)
    _tool_routes(router, sandbox)
    return router


def _page_routes(router: APIRouter, sandbox: Sandbox) -> None:
    state = sandbox.page.state

    @router.get("", response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        person = sandbox.person(request.query_params.get("as"))
        conv = request.query_params.get("c") or DEFAULT_CONVERSATION
        html = await run_in_threadpool(
            lambda: sandbox.page.full(
                person, conv, now=sandbox.clock(), offset=sandbox.clock.offset
            )
        )
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @router.get("/state")
    async def regions(request: Request) -> JSONResponse:
        seen = request.query_params.get("v", "")
        if seen.isdigit():
            waited = 0.0
            while state.version == int(seen) and waited < LONG_POLL:
                if await request.is_disconnected():
                    return JSONResponse({"version": state.version, "unchanged": True})
                await asyncio.sleep(0.1)
                waited += 0.1
            if state.version == int(seen):
                return JSONResponse({"version": state.version, "unchanged": True})
        person = sandbox.person(request.query_params.get("as"))
        conv = request.query_params.get("c") or DEFAULT_CONVERSATION
        found = await run_in_threadpool(
            lambda: sandbox.page.regions(
                person, conv, now=sandbox.clock(), offset=sandbox.clock.offset
            )
        )
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            return PlainTextResponse("Not Found", status_code=404)
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @router.get("/archives/{channel}/{message}")
    async def archives(channel: str, message: str) -> RedirectResponse:
        digits = message.removeprefix("p")
        anchor = f"#m{digits[:-6]}-{digits[-6:]}" if digits.isdigit() and len(digits) > 6 else ""
        return RedirectResponse(f"/sandbox?c={channel}{anchor}", status_code=303)

    @router.get("/files/{file_id}")
    async def files(file_id: str) -> Response:
        with state.lock:
            stored = state.files.get(file_id)
            content = stored["content"] if stored else None
        if stored is None or content is None:
            return PlainTextResponse("Not Found", status_code=404)
        kind = mimetypes.guess_type(stored["name"])[0] or "application/octet-stream"
        return Response(content, media_type=kind)


def stand_in_router(api: SlackApi) -> APIRouter:
    """The Slack stand-in's routes: the Web API, response URLs and file uploads."""
    router = APIRouter()

    @router.api_route("/api/{method}", methods=["GET", "POST"])
    async def web_api(method: str, request: Request) -> JSONResponse:
        body = await request.body()
        args = parse_args(request.url.query, request.headers.get("content-type", ""), body)
        token = bearer(request.headers.get("authorization"))
        return JSONResponse(api.call(method, args, token=token))

    @router.post("/respond/{key}")
    async def respond(key: str, request: Request) -> PlainTextResponse:
        status, text = api.respond(key, await request.body())
        return PlainTextResponse(text, status_code=status)

    @router.post("/upload/{file_id}")
    async def upload(file_id: str, request: Request) -> PlainTextResponse:
        status, text = api.upload(file_id, await request.body())
        return PlainTextResponse(text, status_code=status)

    return router


def _action_routes(router: APIRouter, sandbox: Sandbox) -> None:
    act = sandbox.interactions

    async def run(call: Callable[[], None]) -> JSONResponse:
        try:
            await run_in_threadpool(call)
        except Refused as exc:
            return _refused(str(exc))
        return JSONResponse({"ok": True})

    @router.post("/click")
    async def click(request: Request) -> JSONResponse:
        body = await _json_body(request)
        if body is None:
            return _refused("expected a JSON body", 400)
        fields = {k: _text(body, k) for k in ("channel", "ts", "block_id", "action_id")}
        return await run(lambda: act.click(_text(body, "as"), **fields))

    @router.post("/views/{view_id}/submit")
    async def submit(view_id: str, request: Request) -> JSONResponse:
        body = await _json_body(request)
        values = body.get("values") if body else None
        if body is None or not isinstance(values, dict):
            return _refused("expected a JSON body with values", 400)
        return await run(lambda: act.submit(_text(body, "as"), view_id, values))

    @router.post("/views/{view_id}/close")
    async def close(view_id: str, request: Request) -> JSONResponse:
        body = await _json_body(request)
        if body is None:
            return _refused("expected a JSON body", 400)
        return await run(lambda: act.close(_text(body, "as"), view_id))

    @router.post("/command")
    async def command(request: Request) -> JSONResponse:
        body = await _json_body(request)
        if body is None:
            return _refused("expected a JSON body", 400)
        user, channel, line = _text(body, "as"), _text(body, "channel"), _text(body, "text")
        return await run(lambda: act.command(user, channel=channel, line=line))

    @router.post("/home")
    async def home(request: Request) -> JSONResponse:
        body = await _json_body(request)
        if body is None:
            return _refused("expected a JSON body", 400)
        return await run(lambda: act.open_home(_text(body, "as")))


def _tool_routes(router: APIRouter, sandbox: Sandbox) -> None:
    @router.post("/clock")
    async def clock(request: Request) -> JSONResponse:
        body = await _json_body(request)
        hours = body.get("hours") if body else None
        if not isinstance(hours, int) or not 0 < hours <= MAX_ADVANCE_HOURS:
            return _refused(f"hours must be a whole number from 1 to {MAX_ADVANCE_HOURS}", 400)
        now = sandbox.clock.advance(timedelta(hours=hours))
        sandbox.page.state.touch()
        swept = await run_in_threadpool(sandbox.sweep)
        log.info(
            "sandbox.clock_moved hours=%s %s", hours, " ".join(f"{k}={v}" for k, v in swept.items())
        )
        return JSONResponse(
            {
                "now": now.isoformat().replace("+00:00", "Z"),
                "offset": offset_words(sandbox.clock.offset),
                **swept,
            }
        )

    @router.post("/responses")
    async def responses(request: Request) -> JSONResponse:
        body = await _json_body(request)
        if body is None:
            return _refused("expected a JSON body", 400)
        sent = survey.response_body(body, now=sandbox.clock())
        answer = await run_in_threadpool(
            survey.send, sandbox.survey_url, sandbox.webhook_secret, sent
        )
        return JSONResponse(
            {"status": answer.status, "answer": answer.body, "fields": answer.field_errors()}
        )
