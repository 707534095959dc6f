"""Starting the sandbox: its settings and secrets, its own database, the routes and the demo."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from fastapi import APIRouter

from bot.app.sandbox import demo, survey
from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.interact import Interactions
from bot.app.sandbox.page import Page
from bot.app.sandbox.people import Directory, load_sandbox_rules, rules_path
from bot.app.sandbox.routes import Sandbox, sandbox_router
from bot.app.sandbox.slack_api import SANDBOX_TOKEN, SlackApi
from bot.app.sandbox.store import SlackState
from bot.config.rules import Rules
from bot.config.settings import DEFAULT_DATABASE_URL, Settings, SettingsError
from storage.models import FollowUpCase

if TYPE_CHECKING:
    from bot.app.wiring import Services

log = logging.getLogger(__name__)

SANDBOX_DATABASE = "nps_bot_sandbox.db"


@dataclass(frozen=True)
class Launch:
    """What the sandbox runs with: the bot's settings and rules, the clock, the secrets."""

    settings: Settings
    rules: Rules
    clock: OffsetClock
    base_url: str
    signing_secret: str
    webhook_generated: bool
    fresh_database: Path | None

    @property
    def url(self) -> str:
        """The page."""
        return f"{self.base_url}/sandbox"

    def banner(self) -> list[str]:
        """What start-up prints: one line with the URL, then the secrets made for this run."""
        lines = [f"nps-bot: no Slack tokens are set, so this is the sandbox: {self.url}"]
        lines.append(f"  Slack signing secret (made for this run): {self.signing_secret}")
        if self.webhook_generated:
            lines.append(
                "  survey webhook secret (made for this run; set SURVEY_WEBHOOK_SECRET to choose "
                f"one): {self.settings.survey_webhook_secret}"
            )
        if self.fresh_database is not None:
            lines.append(f"  database: {self.fresh_database} (its own SQLite file, fresh each run)")
        else:
            lines.append(f"  database: DATABASE_URL ({self.settings.database_backend})")
        return lines

    def check_database(self, engine: sa.Engine) -> None:
        """Refuse a database from DATABASE_URL that holds cases (before migrating it)."""
        if self.fresh_database is not None:
            return
        try:
            with engine.connect() as conn:
                table = sa.inspect(conn).has_table(FollowUpCase.__tablename__)
                used = table and conn.execute(sa.select(FollowUpCase.id).limit(1)).first()
        except sa.exc.OperationalError:
            return  # unreachable: the database check that follows says so
        if used:
            raise SettingsError(
                "DATABASE_URL: the database already holds cases; the sandbox starts only on an "
                "empty one (its Slack starts empty), so a real database is never touched"
            )


def _base_url(host: str, port: int) -> str:
    """Where the app can reach itself; a wildcard address is reached on the loopback."""
    local = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    return f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"


def _fresh_database(path: Path) -> str:
    """The sandbox's own SQLite file, emptied: the embedded Slack starts empty too."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def prepare(settings: Settings, *, cwd: Path | None = None) -> Launch:
    """The sandbox's settings from the process's: the stand-in's URL and token, new secrets."""
    base_url = _base_url(settings.host, settings.port)
    signing_secret = secrets.token_hex(16)
    webhook_secret = settings.survey_webhook_secret or survey.new_webhook_secret()
    fresh = None
    database_url = settings.database_url
    if database_url == DEFAULT_DATABASE_URL:
        fresh = (cwd or Path.cwd()) / SANDBOX_DATABASE
        database_url = _fresh_database(fresh)
    bot_settings = dataclasses.replace(
        settings,
        slack_bot_token=SANDBOX_TOKEN,
        slack_signing_secret=signing_secret,
        slack_app_token=None,
        slack_api_url=f"{base_url}/sandbox/api/",
        database_url=database_url,
        survey_webhook_secret=webhook_secret,
        rules_path=rules_path(),
    )
    return Launch(
        settings=bot_settings,
        rules=load_sandbox_rules(),
        clock=OffsetClock(),
        base_url=base_url,
        signing_secret=signing_secret,
        webhook_generated=settings.survey_webhook_secret is None,
        fresh_database=fresh,
    )


def sandbox_routes(launch: Launch, services: Services) -> APIRouter:
    """The page and the Slack stand-in, wired to the bot's services."""
    state = SlackState(Directory(), launch.clock, base_url=launch.base_url)

    def sweep() -> dict[str, int]:
        """The scheduler's job, at once: timers, then the outbox, then the daily digest."""
        report = services.timers.tick()
        services.outbox.wake()
        try:
            services.reports.post_daily_digest(services.client)
        except Exception:
            log.exception("sandbox.digest_failed")
        return dataclasses.asdict(report)

    sandbox = Sandbox(
        api=SlackApi(state, token=SANDBOX_TOKEN),
        interactions=Interactions(
            state,
            signing_secret=launch.signing_secret,
            events_url=f"{launch.base_url}/slack/events",
        ),
        page=Page(state),
        clock=launch.clock,
        sweep=sweep,
        survey_url=f"{launch.base_url}/webhooks/survey",
        webhook_secret=launch.settings.survey_webhook_secret or "",
    )
    return sandbox_router(sandbox)


def start_demo(launch: Launch) -> threading.Thread:
    """Load the demo responses in the background, once the app answers."""
    thread = threading.Thread(
        target=demo.load_demo,
        args=(launch.base_url, launch.settings.survey_webhook_secret or "", launch.clock),
        name="sandbox-demo",
        daemon=True,
    )
    thread.start()
    return thread
