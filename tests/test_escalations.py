"""Escalations end to end: the real app and scheduler, steps configured in seconds, the fake
Slack receiving the DMs, and a process killed and restarted without a step lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlmodel import Session, select

from blocks.ids import CardAction
from storage.db import create_db_engine
from storage.models import EscalationStep, FollowUpCase
from tests.conftest import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEST_RULES,
    WEBHOOK_SECRET,
    block_action,
    post_slack,
    post_survey,
    services_of,
    sign,
    survey_body,
)

FAST = {
    **TEST_RULES,
    "escalation": {
        "steps": [
            {"after": "2s", "notify": "manager"},
            {"after": "4s", "notify": "cx_lead", "reassign": True},
        ]
    },
    "scheduler": {"tick": "1s"},
}
ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    assert predicate(), "condition not met in time"


def dms_to(fake_slack, user: str) -> list[dict]:
    return [c.args for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == user]


def case_of(engine, case_id: int) -> FollowUpCase:
    with Session(engine) as session:
        return session.get(FollowUpCase, case_id)


@pytest.mark.slow
def test_manager_then_cx_lead_who_takes_the_case(make_client, fake_slack):
    client = make_client(FAST)
    services_of(client).outbox.channel_interval = 0.0
    answer = post_survey(client, survey_body(comment="Slow and buggy"))
    case_id = answer.json()["case_id"]
    engine = services_of(client).engine

    wait_until(lambda: dms_to(fake_slack, "U0MANAGER"))
    manager_dm = json.dumps(dms_to(fake_slack, "U0MANAGER")[0]["blocks"])
    assert "escalation_nudge" in manager_dm and "escalation_reassign" in manager_dm
    assert "Acme" in manager_dm

    wait_until(lambda: case_of(engine, case_id).owner_user_id == "U0CXLEAD")
    wait_until(lambda: dms_to(fake_slack, "U0CXLEAD"))
    cx = [json.dumps(dm["blocks"]) for dm in dms_to(fake_slack, "U0CXLEAD")]
    assert any("now yours" in dm for dm in cx)
    card = case_of(engine, case_id)
    wait_until(
        lambda: any(
            "<@U0CXLEAD>" in json.dumps(m.get("blocks"))
            for m in fake_slack.messages_in(card.card_channel)
            if m["ts"] == card.card_ts
        )
    )
    time.sleep(1.5)  # more ticks: nothing fires twice
    assert len(dms_to(fake_slack, "U0MANAGER")) == 1
    assert len([dm for dm in cx if "now yours" in dm]) == 1


@pytest.mark.slow
def test_no_escalation_once_claimed(make_client, fake_slack):
    client = make_client(FAST)
    services_of(client).outbox.channel_interval = 0.0
    case_id = post_survey(client, survey_body(comment="Slow")).json()["case_id"]
    engine = services_of(client).engine
    wait_until(lambda: case_of(engine, case_id).card_ts is not None)
    card = case_of(engine, case_id)
    post_slack(
        client,
        block_action(
            CardAction.CLAIM,
            str(case_id),
            user="U0ALICE",
            channel=card.card_channel,
            ts=card.card_ts,
        ),
    )
    wait_until(lambda: case_of(engine, case_id).claimed_by == "U0ALICE")
    time.sleep(5)
    assert dms_to(fake_slack, "U0MANAGER") == []
    assert case_of(engine, case_id).owner_user_id == "U0ALICE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db_url: str, rules: Path, slack_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": db_url,
        "SURVEY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "NPS_BOT_CONFIG": str(rules),
        "LOG_LEVEL": "info",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.app.cli", "serve"],
        cwd=rules.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _rules_file(tmp_path: Path) -> Path:
    lines = [
        "[people]",
        'cx_lead = "U0CXLEAD"',
        'default_channel = "C0DEFAULT"',
        "[[people.owners]]",
        'user = "alice@example.com"',
        'manager = "U0MANAGER"',
        'channel = "C0ALICE"',
        "[[escalation.steps]]",
        'after = "2s"',
        'notify = "manager"',
        "[[escalation.steps]]",
        'after = "3s"',
        'notify = "cx_lead"',
        "reassign = true",
        "[scheduler]",
        'tick = "1s"',
    ]
    path = tmp_path / "nps-bot.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_exactly_once_across_a_kill_and_restart(db_url, tmp_path, fake_slack):
    rules = _rules_file(tmp_path)
    port = _free_port()
    proc = _serve(db_url, rules, fake_slack.url, port)
    try:
        body = json.dumps(survey_body(comment="Slow and buggy")).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/survey", data=body, headers=sign(body)
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 202
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    time.sleep(4)  # both steps fall due while the bot is down
    proc = _serve(db_url, rules, fake_slack.url, port)
    try:
        wait_until(lambda: dms_to(fake_slack, "U0MANAGER") and dms_to(fake_slack, "U0CXLEAD"))
        time.sleep(2.5)  # further ticks and passes change nothing
        assert len(dms_to(fake_slack, "U0MANAGER")) == 1
        late = json.dumps(dms_to(fake_slack, "U0MANAGER")[0]["blocks"])
        assert "late" in late
        engine = create_db_engine(db_url)
        with Session(engine) as session:
            steps = session.exec(select(EscalationStep).where(EscalationStep.kind == "ladder"))
            assert all(step.fired_at is not None for step in steps)
        engine.dispose()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
