"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), the fake Slack,
signed webhook requests and the running app."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from bot.app.server import create_app
from bot.app.wiring import Services, build_services
from bot.config.rules import Rules, rules_from_mapping
from bot.config.settings import Settings, load_settings
from storage.db import create_db_engine, migrate
from tests.fake_slack import FakeSlack

POSTGRES_URL = os.environ.get("NPS_TEST_POSTGRES_URL")
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"nps-bot-test-secret-0123456789").decode()
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="NPS_TEST_POSTGRES_URL is not set: PostgreSQL runs skipped"
        ),
    ),
]


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return "databases: SQLite and PostgreSQL (NPS_TEST_POSTGRES_URL)"
    return "databases: SQLite only (set NPS_TEST_POSTGRES_URL to run PostgreSQL too)"


@pytest.fixture(scope="session")
def _postgres_engine() -> Iterator[sa.Engine]:
    engine = create_db_engine(POSTGRES_URL or "")
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    migrate(engine)
    yield engine
    engine.dispose()


def _truncate(engine: sa.Engine) -> None:
    tables = sa.inspect(engine).get_table_names()
    names = ", ".join(f'"{t}"' for t in tables if t != "alembic_version")
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nps.db'}"
        engine = create_db_engine(url)
        migrate(engine)
        engine.dispose()
        return url
    engine = request.getfixturevalue("_postgres_engine")
    _truncate(engine)
    return POSTGRES_URL or ""


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An engine on a brand-new, empty (unmigrated) database on each backend."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    name = f"nps_fresh_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(POSTGRES_URL or "", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL or "").set(database=name)
    engine = create_db_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=BOT_TOKEN, users={"alice@example.com": "U0ALICE"}) as fake:
        yield fake


def sign(
    body: bytes | str,
    *,
    secret: str = WEBHOOK_SECRET,
    msg_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for a body."""
    text = body.decode() if isinstance(body, bytes) else body
    msg_id = msg_id or f"msg_{time.monotonic_ns()}"
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, text),
        "content-type": "application/json",
    }


def survey_body(response_id: str = "r-1", score: int = 3, **overrides: Any) -> dict[str, Any]:
    """A valid survey response body; keyword arguments replace top-level keys."""
    body: dict[str, Any] = {
        "response_id": response_id,
        "score": score,
        "comment": "Support keeps us waiting and we are thinking about leaving.",
        "submitted_at": "2026-11-20T10:00:00Z",
        "survey": "Q4 relationship",
        "customer": {
            "id": "c-1",
            "name": "Dana Reyes",
            "email": "dana@acme.example",
            "phone": "+45 1234 5678",
        },
        "account": {
            "id": "a-1",
            "name": "Acme A/S",
            "arr": 120000,
            "owner": "alice@example.com",
            "plan": "Enterprise",
            "renewal_date": "2027-03-01",
        },
        "touchpoints": [
            {"at": "2026-11-18T10:00:00Z", "kind": "billing", "summary": "Invoice disputed"}
        ],
    }
    body.update(overrides)
    return body


TEST_RULES = {
    "people": {
        "cx_lead": "U0CXLEAD",
        "vp_customer_success": "U0VP",
        "support_lead": "U0SUPPORT",
        "default_channel": "C0DEFAULT",
        "owners": [{"user": "alice@example.com", "manager": "U0MANAGER", "channel": "C0ALICE"}],
    },
    "routing": {"product_channel": "C0PRODUCT"},
    "scheduler": {"tick": "1s"},
}


def settings_for(db_url: str, slack_url: str, **env: str) -> Settings:
    """Settings for the app under test, against the fake Slack."""
    values = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": db_url,
        "SURVEY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        **env,
    }
    return load_settings(values, env_file=None)


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(db_url: str, fake_slack: FakeSlack) -> Iterator[AppFactory]:
    """Start the real app (lifespan included) on a test database against the fake Slack."""
    clients: list[TestClient] = []

    def factory(rules: dict[str, Any] | Rules | None = None) -> TestClient:
        settings = settings_for(db_url, fake_slack.url)
        parsed = rules if isinstance(rules, Rules) else rules_from_mapping(rules or TEST_RULES)
        client = TestClient(create_app(build_services(settings, parsed)))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined]


def post_survey(client: TestClient, body: dict[str, Any] | bytes, **sign_kw: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/webhooks/survey", content=raw, headers=sign(raw, **sign_kw))


def slack_headers(body: str, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict:
    """Headers Slack sends with a request, signed with the app's signing secret."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = str(int(at if at is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
        "content-type": "application/x-www-form-urlencoded",
    }


def post_slack(client: TestClient, form: dict[str, str], **kw: Any) -> Any:
    """POST a signed, form-encoded request to /slack/events, as Slack does."""
    from urllib.parse import urlencode

    body = urlencode(form)
    return client.post("/slack/events", content=body, headers=slack_headers(body, **kw))


def slash_command(
    text: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0ALICE",
    response_url: str = "https://hooks.slack.test/commands/1",
) -> dict:
    return {
        "token": "legacy",
        "team_id": "T0001",
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": "cs",
        "user_id": user,
        "user_name": "alice",
        "command": "/nps",
        "text": text,
        "api_app_id": "A0001",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def block_action(
    action_id: str,
    value: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0ALICE",
    ts: str = "1700000000.000100",
) -> dict[str, str]:
    """The form Slack posts when a button on a message is clicked."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "team": {"id": "T0001", "domain": "fake"},
        "channel": {"id": channel, "name": "cs"},
        "message": {"ts": ts, "type": "message", "text": "card"},
        "response_url": "https://hooks.slack.test/actions/1",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "case_actions",
                "type": "button",
                "value": value,
                "action_ts": "1700000001.000000",
            }
        ],
    }
    return {"payload": json.dumps(payload)}


def view_submission(
    callback_id: str, values: dict[str, Any], *, private_metadata: str, user: str = "U0ALICE"
) -> dict[str, str]:
    """The form Slack posts when a modal is submitted."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "view": {
            "id": "V0001",
            "team_id": "T0001",
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": "1700000000.abc",
            "title": {"type": "plain_text", "text": "Case"},
            "app_id": "A0001",
            "bot_id": "B0001",
        },
        "response_urls": [],
    }
    return {"payload": json.dumps(payload)}
