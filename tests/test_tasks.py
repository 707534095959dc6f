"""`tasks.py`: `serve` and `nps-bot` become the bot's process, so stopping the PID a shell holds
stops the bot and leaves nothing behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import tasks
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET
from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
# A stand-in for the bot: says its PID and where it runs, then waits to be stopped.
CHILD = "import os, time; print(os.getpid(), os.getcwd(), flush=True); time.sleep(30)"


def launch(call: str) -> subprocess.Popen[str]:
    """A Python process that imports tasks.py and calls `call` on the stand-in command."""
    code = f"import sys, tasks; sys.exit(tasks.{call}([sys.executable, '-c', {CHILD!r}]))"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT / "tests",  # somewhere else: the command still runs in the project root
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(os.name != "posix", reason="the hand-over is os.execv on POSIX")
def test_hand_over_makes_the_command_this_process():
    proc = launch("hand_over")
    try:
        pid, cwd = proc.stdout.readline().split()
        assert int(pid) == proc.pid  # the same process: nothing is left behind to orphan
        assert Path(cwd) == ROOT
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_forwarded_signals_stop_the_child_too():
    proc = launch("forward_signals")
    try:
        pid, cwd = proc.stdout.readline().split()
        child = int(pid)
        assert child != proc.pid and alive(child)
        assert Path(cwd) == ROOT
        time.sleep(0.2)  # the parent has its handlers by now
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) != 0
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        proc.kill()
        proc.wait()


def test_serve_and_nps_bot_hand_over_to_the_venv_command(monkeypatch):
    handed: list[list[str]] = []
    monkeypatch.setattr(tasks, "ensure_venv", lambda: None)
    monkeypatch.setattr(tasks, "hand_over", lambda argv: handed.append(argv) or 0)
    for argv in (["serve", "--no-migrate"], ["nps-bot", "migrate"]):
        monkeypatch.setattr(sys, "argv", ["tasks.py", *argv])
        assert tasks.main() == 0
    nps_bot = str(tasks.BIN / "nps-bot")
    assert handed == [[nps_bot, "serve", "--no-migrate"], [nps_bot, "migrate"]]


def venv_ready() -> bool:
    """Whether `tasks.py` would run the bot at once rather than install first."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = tasks.STAMP
    return (
        stamp.is_file() and stamp.read_text().strip() == wanted and (tasks.BIN / "nps-bot").exists()
    )


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGTERM to a console process is POSIX")
@pytest.mark.skipif(not venv_ready(), reason=".venv not prepared by `python3 tasks.py test`")
def test_sigterm_to_tasks_serve_stops_the_bot(db_url: str, fake_slack: FakeSlack, tmp_path):
    from tests.test_durability import base_env, free_port

    port = free_port()
    env = base_env(
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=db_url,
        SURVEY_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.url,
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tasks.py"), "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: whatever it leaves behind is found below
        )
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.monotonic() + 30
        while not answers(url):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM), log.read_text()
        assert not answers(url)  # nothing is serving any more
        assert "bot.stopped" in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
