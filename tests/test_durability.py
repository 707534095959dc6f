"""`nps-bot serve` as a real process: killed mid-outage, stopped under load, its logs and its
start-up errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from storage.db import create_db_engine
from storage.models import OutboxMessage, SurveyResponse
from tests.conftest import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEST_RULES,
    WEBHOOK_SECRET,
    sign,
    survey_body,
)
from tests.fake_slack import FakeSlack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 20.0
BODY = survey_body()
PERSONAL_DATA = (
    BODY["comment"],
    "thinking about leaving",
    BODY["customer"]["email"],
    BODY["customer"]["phone"],
    BODY["customer"]["name"],
)
SECRETS = (WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"), BOT_TOKEN, SIGNING_SECRET)


def rules_toml(rules: dict[str, Any]) -> str:
    """TOML for a rules mapping of tables holding strings and arrays of tables."""
    lines: list[str] = []
    for section, table in rules.items():
        lines.append(f"[{section}]")
        arrays = {k: v for k, v in table.items() if isinstance(v, list)}
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items() if k not in arrays]
        for key, entries in arrays.items():
            for entry in entries:
                lines.append(f"[[{section}.{key}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
        lines.append("")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**values: str) -> dict[str, str]:
    """A clean environment: nothing from the caller's Slack or database settings leaks in."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Bot:
    """Starts `nps-bot serve` processes on one database and kills whatever is left at the end."""

    workdir: Path
    db_url: str
    slack: FakeSlack
    servers: list[Server]

    def env(self, port: int) -> dict[str, str]:
        rules = self.workdir / "nps-bot-rules.toml"
        if not rules.exists():
            rules.write_text(rules_toml(TEST_RULES))
        return base_env(
            HOST="127.0.0.1",
            PORT=str(port),
            DATABASE_URL=self.db_url,
            SURVEY_WEBHOOK_SECRET=WEBHOOK_SECRET,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.slack.url,
            NPS_BOT_CONFIG=str(rules),
            LOG_LEVEL="info",
        )

    def start(self) -> Server:
        port = free_port()
        log = self.workdir / f"server-{len(self.servers) + 1}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.app.cli", "serve"],
                cwd=self.workdir,
                env=self.env(port),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(proc, port, log)
        self.servers.append(server)
        wait_healthy(server)
        return server

    def logs(self) -> str:
        return "\n".join(s.output() for s in self.servers)

    def cleanup(self) -> None:
        for server in self.servers:
            if server.proc.poll() is None:
                server.proc.kill()
            server.proc.wait(timeout=10)


@pytest.fixture
def bot(db_url: str, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Bot]:
    workdir = tmp_path / "run"
    workdir.mkdir()
    launcher = Bot(workdir, db_url, fake_slack, [])
    try:
        yield launcher
    finally:
        launcher.cleanup()


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited with {server.proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(f"/healthz did not answer 200 within {START_TIMEOUT}s:\n{server.output()}")


def post_survey(
    server: Server, body: dict[str, Any] | bytes, *, timeout: float = 10, **sign_kw: Any
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.url}/webhooks/survey", data=raw, headers=sign(raw, **sign_kw), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stored_response_ids(engine: sa.Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(SurveyResponse.response_id)).all())


def outbox(engine: sa.Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def posted_channels(fake: FakeSlack) -> Counter[str]:
    return Counter(c.args["channel"] for c in fake.calls_to("chat.postMessage") if c.ok)


def assert_logs_clean(logs: str) -> None:
    for text in PERSONAL_DATA:
        assert text not in logs, f"personal data in the logs: {text!r}"
    for secret in SECRETS:
        assert secret not in logs, "a secret is in the logs"
    assert "Traceback" not in logs


# --------------------------------------------------------------------------------------------


def test_slack_down_crash_restart_delivers_each_message_once(bot, db, fake_slack):
    fake_slack.down = True
    first = bot.start()

    status, answer = post_survey(first, survey_body("r-crash"))
    assert status == 202, answer
    # The card's owner lookup is still in its server-error retries (at least 1.5 s of client
    # backoff), so nothing has reached Slack when the process dies; the card may be claimed.
    time.sleep(0.8)
    first.proc.kill()
    first.proc.wait(timeout=10)

    assert "r-crash" in stored_response_ids(db)
    rows = outbox(db)
    assert [r.kind for r in rows] == ["card", "alert", "alert"]
    assert {r.status for r in rows} <= {"pending", "sending"}, "precondition: nothing was sent"
    assert fake_slack.calls_to("chat.postMessage") == []

    fake_slack.down = False
    bot.start()

    fake_slack.wait_for("chat.postMessage", count=3, timeout=15)
    time.sleep(3)
    assert posted_channels(fake_slack) == {"C0ALICE": 1, "U0CXLEAD": 1, "U0VP": 1}
    assert {r.status for r in outbox(db)} == {"sent"}
    assert "intake.stored response_id=r-crash" in bot.logs()
    assert_logs_clean(bot.logs())


def test_sigterm_answers_2xx_only_for_stored_responses(bot, db):
    server = bot.start()
    results: list[tuple[str, int | None]] = []
    lock = threading.Lock()
    answered = threading.Event()

    def sender(n: int) -> None:
        for i in range(20):
            rid = f"r-{n}-{i}"
            body = survey_body(rid, score=8, comment="Fine.")
            try:
                status, _ = post_survey(server, body, timeout=15)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                status = None
            with lock:
                results.append((rid, status))
            if status is not None and 200 <= status < 300:
                answered.set()
            if status is None:
                return

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    assert answered.wait(10), "no request was answered before the stop"
    time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    # uvicorn re-raises the signal once it has shut down cleanly
    assert server.proc.wait(timeout=15) in (0, -signal.SIGTERM)

    accepted = {rid for rid, status in results if status is not None and 200 <= status < 300}
    refused = [rid for rid, status in results if status is None]
    assert accepted
    assert refused, "the stop came after every request was done: nothing was in flight"
    missing = accepted - stored_response_ids(db)
    assert not missing, f"answered 2xx but not stored: {sorted(missing)[:5]}"
    assert "bot.stopped" in server.output()


def test_logs_carry_ids_but_no_personal_data_or_secrets(bot, fake_slack):
    fake_slack.down = True
    server = bot.start()

    assert post_survey(server, survey_body("r-logs"))[0] == 202
    assert post_survey(server, survey_body("r-bad", score=11))[0] == 422
    raw = json.dumps(survey_body("r-forged")).encode()
    forged = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    assert post_survey(server, raw, secret=forged)[0] == 401
    time.sleep(1)
    fake_slack.down = False
    fake_slack.wait_for("chat.postMessage", count=3, timeout=15)
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=15)

    logs = server.output()
    assert_logs_clean(logs)
    assert "intake.stored response_id=r-logs" in logs
    assert "intake.rejected reason=invalid" in logs
    assert "intake.rejected reason=signature" in logs
    assert "outbox.sent" in logs


RULES_WITH_BAD_SLA = '[sla]\npassive = "5x"\n'
MALFORMED_TOKEN = "xoxp-1234-malformed-token-value"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"SURVEY_WEBHOOK_SECRET": None}, "SURVEY_WEBHOOK_SECRET"),
        ({"SLACK_BOT_TOKEN": MALFORMED_TOKEN}, "SLACK_BOT_TOKEN"),
        ({"PORT": "abc"}, "PORT"),
        ({"NPS_BOT_CONFIG": RULES_WITH_BAD_SLA}, "sla.passive"),
    ],
    ids=["missing-webhook-secret", "malformed-bot-token", "port-not-a-number", "bad-sla"],
)
def test_start_up_errors_are_one_clear_line(tmp_path, change, names):
    env = base_env(
        HOST="127.0.0.1",
        PORT=str(free_port()),
        DATABASE_URL=f"sqlite:///{tmp_path / 'nps.db'}",
        SURVEY_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        LOG_LEVEL="info",
    )
    for key, value in change.items():
        if value is None:
            env.pop(key)
        elif key == "NPS_BOT_CONFIG":
            rules = tmp_path / "rules.toml"
            rules.write_text(value)
            env[key] = str(rules)
        else:
            env[key] = value

    started = time.monotonic()
    done = run_serve(env, tmp_path)
    elapsed = time.monotonic() - started

    assert done.returncode not in (0, None)
    assert elapsed < 10
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert names in lines[0]
    everything = done.stdout + done.stderr
    assert "Traceback" not in everything
    for secret in (BOT_TOKEN, MALFORMED_TOKEN, WEBHOOK_SECRET):
        assert secret not in everything


def run_serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot.app.cli", "serve"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed it; say what it printed
        pytest.fail(f"serve did not exit within 15s: {exc.stderr!r}")


# ------------------------------------------------------------------ kill -9 in the middle of a send


def row_by_id(engine: sa.Engine, delivery_id: int) -> OutboxMessage:
    return next(r for r in outbox(engine) if r.id == delivery_id)


def bound_for(engine: sa.Engine) -> dict[str, int]:
    """Each delivery's id by the channel or user it was queued for."""
    return {r.channel: r.id for r in outbox(engine) if r.channel}


def wait_sent(engine: sa.Engine, delivery_id: int, timeout: float) -> None:
    """Wait until the delivery is sent (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if row_by_id(engine, delivery_id).status == "sent":
            return
        time.sleep(0.02)
    pytest.fail(f"delivery {delivery_id} was not sent within {timeout}s")


def ours_in(fake: FakeSlack, channel: str, delivery_id: int) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.messages_in(channel)
        if (m.get("metadata") or {}).get("event_payload") == {"delivery": delivery_id}
    ]


def assert_each_once(engine: sa.Engine, fake: FakeSlack, ids: dict[str, int]) -> None:
    for channel, delivery_id in ids.items():
        wait_sent(engine, delivery_id, timeout=10)
        [message] = ours_in(fake, channel, delivery_id)
        assert row_by_id(engine, delivery_id).ts == message["ts"], channel


@pytest.mark.parametrize(
    ("channel", "method", "after"),
    [
        # rendering: the owner's name for the script (their id is known from start-up on)
        ("C0ALICE", "users.info", False),
        ("C0ALICE", "chat.postMessage", False),  # the post never reached Slack
        ("C0ALICE", "chat.postMessage", True),  # Slack has it; the answer was lost
        ("U0CXLEAD", "chat.postMessage", False),
        ("U0CXLEAD", "chat.postMessage", True),
    ],
    ids=[
        "card-rendering",
        "card-before-post",
        "card-after-post",
        "dm-before-post",
        "dm-after-post",
    ],
)
def test_kill_9_mid_send_then_the_message_is_in_slack_once_within_seconds(
    bot, db, fake_slack, channel, method, after
):
    first = bot.start()
    posting = method == "chat.postMessage"
    hold = fake_slack.hold_next(method, after=after, channel=channel if posting else None)
    assert post_survey(first, survey_body("r-kill"))[0] == 202
    assert hold.arrived.wait(15), "the send never reached the fake Slack"
    first.proc.kill()
    killed = time.monotonic()
    first.proc.wait(timeout=10)
    hold.release(run=after)  # a held request that had not run never will
    ids = bound_for(db)
    assert row_by_id(db, ids[channel]).status == "sending", "precondition: killed mid-send"

    starting = time.monotonic()
    bot.start()
    wait_sent(db, ids[channel], timeout=20)
    since_start, since_kill = time.monotonic() - starting, time.monotonic() - killed
    print(
        f"\nrecovery {channel} {method} after={after}: kill->sent {since_kill:.2f}s, "
        f"start->sent {since_start:.2f}s"
    )

    assert since_start < 5, f"the message took {since_start:.1f}s after the restart"
    assert_each_once(db, fake_slack, ids)
    assert_logs_clean(bot.logs())


def test_two_replicas_one_killed_mid_send_the_other_takes_over(bot, db, db_url, fake_slack):
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL")
    replicas = [bot.start(), bot.start()]
    hold = fake_slack.hold_next("chat.postMessage", after=True, channel="C0ALICE")
    assert post_survey(replicas[0], survey_body("r-replica"))[0] == 202
    assert hold.arrived.wait(15)
    ids = bound_for(db)
    owner = row_by_id(db, ids["C0ALICE"]).lease_owner
    assert owner is not None
    [holder] = [s for s in replicas if s.proc.pid == int(owner.split("/")[1])]
    [survivor] = [s for s in replicas if s is not holder]
    holder.proc.kill()
    killed = time.monotonic()
    holder.proc.wait(timeout=10)
    hold.release(run=False)

    wait_sent(db, ids["C0ALICE"], timeout=15)
    took = time.monotonic() - killed
    print(f"\nreplica take-over: kill->sent {took:.2f}s")
    assert took < 5
    assert_each_once(db, fake_slack, ids)
    assert row_by_id(db, ids["C0ALICE"]).lease_owner is None
    assert survivor.proc.poll() is None
    assert_logs_clean(bot.logs())
