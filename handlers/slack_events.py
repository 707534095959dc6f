"""`POST /slack/events`: events, interactivity and slash commands through Bolt, off the loop."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool


def slack_router(bolt: App) -> APIRouter:
    """Bolt behind FastAPI; `dispatch` runs on a worker thread so intake never waits on it."""
    router = APIRouter()

    @router.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        answer = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(answer)

    return router
