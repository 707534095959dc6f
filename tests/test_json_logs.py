"""LOG_FORMAT=json: one JSON object per line, uvicorn's lines included, the same event names and
ids as the text format, and still no customer text, names, emails, phones or secrets."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.logs import JsonFormatter, configure
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, post_survey, survey_body
from tests.fake_slack import FakeSlack

BODY = survey_body(
    "r-json",
    comment="Dana here: the invoices are wrong and we are leaving.",
    customer={
        "id": "c-json",
        "name": "Dana Quintero-Reyes",
        "email": "dana.quintero@acme.example",
        "phone": "+45 9876 5432",
    },
)
PERSONAL = (
    BODY["comment"],
    "invoices are wrong",
    BODY["customer"]["name"],
    "Quintero",
    BODY["customer"]["email"],
    BODY["customer"]["phone"],
)
SECRETS = (WEBHOOK_SECRET, WEBHOOK_SECRET.removeprefix("whsec_"), BOT_TOKEN, SIGNING_SECRET)
KEYS = {"ts", "level", "logger", "event", "msg"}


def record(
    msg: str, *args: Any, name: str = "bot.delivery.outbox", exc_info: Any = None
) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, exc_info)


def test_an_event_line_carries_its_name_and_ids():
    line = JsonFormatter().format(
        record("outbox.sent id=%s kind=%s case_id=%s channel=%s", 4, "card", 7, "C0ALICE")
    )
    assert "\n" not in line
    found = json.loads(line)
    assert found.keys() >= KEYS
    assert found["event"] == "outbox.sent"
    assert (found["id"], found["kind"], found["case_id"], found["channel"]) == (
        4,
        "card",
        7,
        "C0ALICE",
    )
    assert found["msg"] == "outbox.sent id=4 kind=card case_id=7 channel=C0ALICE"
    assert (found["level"], found["logger"]) == ("info", "bot.delivery.outbox")
    assert found["ts"].endswith("+00:00")


def test_values_with_spaces_and_reserved_keys_keep_their_shape():
    formatter = JsonFormatter()
    rejected = json.loads(
        formatter.format(
            record("intake.rejected reason=invalid fields=%s", ["score", "customer.email"])
        )
    )
    assert rejected["fields"] == "['score', 'customer.email']"
    signature = json.loads(
        formatter.format(record("%s.rejected reason=signature detail=%r", "intake", "too old"))
    )
    assert (signature["event"], signature["detail"]) == ("intake.rejected", "too old")
    clash = json.loads(formatter.format(record("x.y level=5 msg=hi")))
    assert (clash["level"], clash["msg"]) == ("info", "x.y level=5 msg=hi")


def test_a_plain_sentence_has_no_event_and_a_traceback_stays_on_one_line():
    formatter = JsonFormatter()
    plain = json.loads(formatter.format(record("Started server process [%d]", 42, name="uvicorn")))
    assert (plain["event"], plain["msg"]) == (None, "Started server process [42]")
    try:
        raise KeyError("boom")
    except KeyError:
        failed = record("timers.tick_failed", exc_info=sys.exc_info())
    line = formatter.format(failed)
    assert "\n" not in line
    found = json.loads(line)
    assert found["exc_type"] == "KeyError"
    assert "Traceback" in found["exc"]


@pytest.fixture
def json_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], None]]:
    """Call it in the test itself: it logs JSON to the stderr that capsys reads in that phase."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def begin() -> None:
        root.handlers[:] = []  # configure() closes the handlers it replaces: keep pytest's open
        configure("info", "json")

    try:
        yield begin
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert line.keys() >= KEYS, line
    return lines


def test_the_app_logs_json_without_personal_data(json_logging, capsys, make_client, fake_slack):
    json_logging()
    client = make_client()
    assert post_survey(client, BODY).status_code == 202
    fake_slack.wait_for("chat.postMessage", count=3)
    bad = {**BODY, "customer": {**BODY["customer"], "email": "dana.quintero(at)acme.example"}}
    assert post_survey(client, {**bad, "response_id": "r-bad"}).status_code == 422
    client.__exit__(None, None, None)  # stop it: the last lines are written

    text = capsys.readouterr().err
    lines = json_lines(text)
    events = {line["event"] for line in lines}
    assert {"bot.started", "intake.rejected", "outbox.sent", "bot.stopped"} <= events
    assert any(line.get("case_id") == 1 for line in lines if line["event"] == "outbox.sent")
    for secret in (*PERSONAL, *SECRETS, "dana.quintero(at)acme.example"):
        assert secret not in text


@pytest.mark.slow
def test_serve_logs_json_uvicorn_included(db_url: str, fake_slack: FakeSlack, tmp_path: Path):
    from tests import test_durability as running

    class JsonBot(running.Bot):
        def env(self, port: int) -> dict[str, str]:
            return {**super().env(port), "LOG_FORMAT": "json"}

    bot = JsonBot(tmp_path, db_url, fake_slack, [])
    try:
        server = bot.start()
        assert running.post_survey(server, BODY)[0] == 202
        fake_slack.wait_for("chat.postMessage", count=3)
        server.proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then ends with the signal it was stopped by.
        assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        bot.cleanup()
    text = server.output()
    lines = json_lines(text)
    uvicorn = [line for line in lines if line["logger"].startswith("uvicorn")]
    assert any("Application startup complete" in line["msg"] for line in uvicorn), text
    assert {"bot.started", "outbox.sent", "bot.stopped"} <= {line["event"] for line in lines}
    for secret in (*PERSONAL, *SECRETS):
        assert secret not in text


def test_log_format_is_text_unless_told_and_checked():
    from bot.config.settings import SettingsError, load_settings

    assert load_settings({}, env_file=None).log_format == "text"
    assert load_settings({"LOG_FORMAT": "JSON"}, env_file=None).log_format == "json"
    with pytest.raises(SettingsError, match=r"^LOG_FORMAT: must be text or json$"):
        load_settings({"LOG_FORMAT": "xml"}, env_file=None)
