"""The floor: the least a correct survey intake can do, to measure the real server against.

One Starlette route verifies the signature (Standard Webhooks, or Typeform's with `--platform
typeform`), inserts the response id and raw body as one row and commits before answering 202.
The database work runs inline on the event loop over a single connection, so requests are
written one at a time.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench.platforms import INTAKES, TYPEFORM_SOURCE, typeform_signature

TABLE = "floor_response"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (response_id TEXT PRIMARY KEY, body TEXT NOT NULL)"
)
INSERT_SQLITE = f"INSERT INTO {TABLE} (response_id, body) VALUES (?, ?) ON CONFLICT DO NOTHING"
INSERT_POSTGRES = f"INSERT INTO {TABLE} (response_id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING"

Insert = Callable[[str, str], None]


def sqlite_path(url: str) -> str | None:
    """The file path in a `sqlite:///path` URL, or None for any other URL."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


def psycopg_conninfo(url: str) -> str:
    """A psycopg connection string from a SQLAlchemy-style PostgreSQL URL."""
    scheme, rest = url.split("://", 1)
    if not scheme.startswith("postgresql"):
        raise ValueError("database URL must start with sqlite:/// or postgresql")
    return "postgresql://" + rest


def open_sqlite(path: str) -> tuple[Insert, Callable[[], None]]:
    """A durable insert over one SQLite connection in WAL mode with full sync."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(CREATE_TABLE)
    conn.commit()

    def insert(response_id: str, body: str) -> None:
        conn.execute(INSERT_SQLITE, (response_id, body))
        conn.commit()

    return insert, conn.close


def open_postgres(url: str) -> tuple[Insert, Callable[[], None]]:
    """A durable insert over one synchronous psycopg connection, committed per row."""
    conn = psycopg.connect(psycopg_conninfo(url), connect_timeout=10)
    conn.execute(CREATE_TABLE)
    conn.commit()

    def insert(response_id: str, body: str) -> None:
        conn.execute(INSERT_POSTGRES, (response_id, body))
        conn.commit()

    return insert, conn.close


def _native_route(secret: str, state: dict[str, Insert]) -> Route:
    """`POST /webhooks/survey`: Standard Webhooks signature, then the body's `response_id`."""
    webhook = Webhook(secret)

    async def survey(request: Request) -> Response:
        body = await request.body()
        try:
            payload: Any = webhook.verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        response_id = payload.get("response_id") if isinstance(payload, dict) else None
        if not isinstance(response_id, str) or not response_id:
            return JSONResponse({"error": "response_id missing"}, status_code=422)
        state["insert"](response_id, body.decode())
        return JSONResponse({"response_id": response_id}, status_code=202)

    return Route(INTAKES["native"].path, survey, methods=["POST"])


def _typeform_route(secret: str, state: dict[str, Insert]) -> Route:
    """`POST /webhooks/survey/typeform`: `Typeform-Signature`, then `form_response.token`."""

    async def survey(request: Request) -> Response:
        body = await request.body()
        given = request.headers.get("typeform-signature", "")
        if not hmac.compare_digest(given.encode(), typeform_signature(secret, body).encode()):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            payload: Any = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "not JSON"}, status_code=400)
        form = payload.get("form_response") if isinstance(payload, dict) else None
        token = form.get("token") if isinstance(form, dict) else None
        if not isinstance(token, str) or not token:
            return JSONResponse({"error": "form_response.token missing"}, status_code=422)
        response_id = f"{TYPEFORM_SOURCE}:{token}"
        state["insert"](response_id, body.decode())
        return JSONResponse({"response_id": response_id}, status_code=202)

    return Route(INTAKES["typeform"].path, survey, methods=["POST"])


ROUTES = {"native": _native_route, "typeform": _typeform_route}


def build_app(database_url: str, secret: str, platform: str = "native") -> Starlette:
    """The floor app for one intake, storing into `database_url` and verifying with `secret`."""
    state: dict[str, Insert] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        path = sqlite_path(database_url)
        insert, close = open_sqlite(path) if path else open_postgres(database_url)
        state["insert"] = insert
        try:
            yield
        finally:
            close()

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        ROUTES[platform](secret, state),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    """Serve the floor with the same uvicorn settings as the app."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://...")
    parser.add_argument("--platform", choices=sorted(ROUTES), default="native")
    args = parser.parse_args(argv)
    secret_env = INTAKES[args.platform].secret_env
    secret = os.environ.get(secret_env)
    if not secret:
        parser.error(f"{secret_env} must be set")
    uvicorn.run(
        build_app(args.db, secret, args.platform),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
