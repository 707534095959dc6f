"""Starting the sandbox: `serve` with no tokens, `sandbox`, its secrets, database and demo."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from bot.app.cli import main
from bot.app.sandbox.clock import OffsetClock
from bot.app.sandbox.launch import SANDBOX_DATABASE, prepare
from bot.app.sandbox.slack_api import SANDBOX_TOKEN
from bot.app.server import create_app
from bot.app.wiring import build_services
from bot.config.rules import rules_from_mapping
from bot.config.settings import load_settings
from storage.db import migrate
from storage.models import SurveyResponse
from tests.conftest import TEST_RULES, post_survey, settings_for, survey_body

ROOT = Path(__file__).resolve().parent.parent
SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sandbox_env(port: int, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no Slack settings, no database, no secret."""
    unset = (*SLACK_VARIABLES, "SURVEY_WEBHOOK_SECRET", "DATABASE_URL", "NPS_BOT_CONFIG")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    return env | {"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "info"} | extra


@contextlib.contextmanager
def running_sandbox(cwd: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    """`nps-bot <args>` in a subprocess on a free port; yields its base URL and its output file."""
    port = free_port()
    output = cwd / "output.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", *args],
            cwd=cwd,
            env=sandbox_env(port, PYTHONPATH=str(ROOT), **env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the sandbox did not start:\n{output.read_text()}"
                    ) from None
                time.sleep(0.2)
        yield base, output
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def web_api(base: str, method: str, **args: str) -> dict:
    """Ask the sandbox's Slack stand-in, as the bot does."""
    request = urllib.request.Request(
        f"{base}/sandbox/api/{method}",
        data=json.dumps(args).encode(),
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_serve_with_no_tokens_opens_the_sandbox(tmp_path):
    with running_sandbox(tmp_path, "serve") as (base, output):
        with urllib.request.urlopen(f"{base}/sandbox", timeout=5) as page:
            assert page.status == 200
            assert "<title>nps-bot sandbox</title>" in page.read().decode()
        lines = output.read_text().splitlines()
    first = next(line for line in lines if line.startswith("nps-bot:"))
    assert first == f"nps-bot: no Slack tokens are set, so this is the sandbox: {base}/sandbox"
    secret_line = next(line for line in lines if "survey webhook secret" in line)
    secret = secret_line.rsplit(" ", 1)[1]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a valid Standard Webhooks secret
    signing = next(line for line in lines if "signing secret" in line).rsplit(" ", 1)[1]
    for value in (secret, signing):
        assert sum(value in line for line in lines) == 1, "a secret is printed once, never logged"
    assert (tmp_path / SANDBOX_DATABASE).is_file()


@pytest.mark.slow
def test_sandbox_demo_loads_cards_through_the_webhook(tmp_path):
    with running_sandbox(tmp_path, "sandbox", "--demo") as (base, output):
        deadline = time.monotonic() + 30
        cards: list[dict] = []
        while len(cards) < 8 and time.monotonic() < deadline:
            time.sleep(0.5)
            cards = [
                m
                for channel in ("C0SBALICE", "C0SBNPS")
                for m in web_api(base, "conversations.history", channel=channel)["messages"]
            ]
        log = output.read_text()
    assert len(cards) == 8, log
    texts = " ".join(card["text"] for card in cards)
    for segment in ("Detractor", "Passive", "Promoter"):
        assert segment in texts
    assert "sandbox.demo_loaded accepted=8 of=8" in log
    assert "We are looking at a competitor" not in log  # logs carry ids, never comments


def test_the_sandbox_refuses_to_run_with_slack_tokens(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real")
    assert main(["sandbox"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "nps-bot: the sandbox never runs with SLACK_BOT_TOKEN or SLACK_APP_TOKEN set; "
        "unset them, or use `nps-bot serve`"
    )
    assert not (tmp_path / SANDBOX_DATABASE).exists()


def test_no_tokens_means_sandbox_and_any_token_means_slack():
    assert load_settings({}, env_file=None).sandbox
    assert not load_settings({"SLACK_BOT_TOKEN": "xoxb-1"}, env_file=None).sandbox
    assert not load_settings({"SLACK_APP_TOKEN": "xapp-1"}, env_file=None).sandbox


def test_prepare_makes_secrets_and_a_fresh_database_of_its_own(tmp_path):
    old = tmp_path / SANDBOX_DATABASE
    old.write_text("an earlier run")
    settings = load_settings({"HOST": "0.0.0.0", "PORT": "3100"}, env_file=None)
    launch = prepare(settings, cwd=tmp_path)
    assert not old.exists()
    bot = launch.settings
    assert bot.database_url == f"sqlite:///{old}"
    assert bot.slack_bot_token == SANDBOX_TOKEN
    assert bot.slack_api_url == "http://127.0.0.1:3100/sandbox/api/"
    assert launch.url == "http://127.0.0.1:3100/sandbox"
    assert len(launch.signing_secret) == 32 and bot.slack_signing_secret == launch.signing_secret
    # The generated secret passes the same check as one set in the environment.
    again = load_settings({"SURVEY_WEBHOOK_SECRET": bot.survey_webhook_secret}, env_file=None)
    assert again.survey_webhook_secret == bot.survey_webhook_secret
    assert prepare(settings, cwd=tmp_path).signing_secret != launch.signing_secret
    assert launch.rules.people.cx_lead == "U0SBCHLOE"


def test_prepare_keeps_a_database_and_webhook_secret_that_were_set(tmp_path):
    secret = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
    database = tmp_path / "mine.db"
    database.write_text("keep me")
    settings = load_settings(
        {"DATABASE_URL": f"sqlite:///{database}", "SURVEY_WEBHOOK_SECRET": secret}, env_file=None
    )
    launch = prepare(settings, cwd=tmp_path)
    assert launch.settings.database_url == f"sqlite:///{database}"
    assert database.read_text() == "keep me"
    assert launch.settings.survey_webhook_secret == secret
    banner = "\n".join(launch.banner())
    assert secret not in banner and "DATABASE_URL (sqlite)" in banner


def test_the_offset_clock_only_moves_forward():
    clock = OffsetClock(lambda: datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    assert clock.advance(timedelta(hours=24)) == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert clock() == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(timedelta(0))


def test_one_clock_runs_every_service_and_stamps_responses(db_url, fake_slack):
    clock = OffsetClock()
    clock.advance(timedelta(hours=36))
    settings = settings_for(db_url, fake_slack.url)
    services = build_services(settings, rules_from_mapping(TEST_RULES), clock=clock)
    for part in (services.workflow, services.timers, services.reports, services.outbox):
        assert part.clock is clock
    with TestClient(create_app(services)) as client:
        assert post_survey(client, survey_body("r-clock")).status_code == 202
    with Session(services.engine) as session:
        received = session.exec(select(SurveyResponse)).one().received_at
    assert abs(received - clock()) < timedelta(minutes=1)
    assert received - datetime.now(UTC) > timedelta(hours=35)


def test_a_database_that_holds_cases_is_never_used(client, db_url, capsys, monkeypatch, tmp_path):
    assert post_survey(client, survey_body("r-real")).status_code == 202
    monkeypatch.chdir(tmp_path)
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["sandbox"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nps-bot: DATABASE_URL: the database already holds cases;")
    assert "Traceback" not in err


def test_an_empty_or_new_database_from_database_url_is_fine(fresh_engine):
    settings = load_settings({"DATABASE_URL": str(fresh_engine.url)}, env_file=None)
    launch = prepare(settings)
    launch.check_database(fresh_engine)  # not even migrated yet
    migrate(fresh_engine)
    launch.check_database(fresh_engine)
