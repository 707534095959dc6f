"""Logging: nothing from a request body reaches a log line, whatever the Slack libraries log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from slack_bolt.middleware.request_verification import RequestVerification
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.app.logs import WithholdRequestBodies, configure
from tests.conftest import slash_command

CUSTOMER_TEXT = "Dana Reyes is cancelling over the invoices"


class Lines(logging.Handler):
    """Keeps every formatted line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def lines() -> Iterator[Lines]:
    """A handler on the root logger with the filter `configure` installs."""
    handler = Lines()
    handler.addFilter(WithholdRequestBodies())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_bolt_refusing_a_forged_request_logs_no_body(lines: Lines) -> None:
    body = urlencode(slash_command(f"digest {CUSTOMER_TEXT}"))
    headers = {"x-slack-request-timestamp": str(int(time.time())), "x-slack-signature": "v0=0"}
    request = BoltRequest(body=body, headers=headers)
    answer = RequestVerification("signing-secret").process(
        req=request, resp=BoltResponse(status=404), next=lambda: pytest.fail("not refused")
    )
    assert answer.status == 401
    assert "Invalid request signature detected" in lines.text()
    for fragment in ("Dana", "Reyes", "invoices", "digest"):
        assert fragment not in lines.text()


@pytest.mark.parametrize(
    "message",
    [
        "Unhandled request ({'type': 'dialog_submission', 'submission': {'note': '%s'}})",
        "A global middleware (x) skipped calling next() for the request ({'text': '%s'})",
        "request body: {'text': '%s'}",
        'Responding with status: 200 body: "%s" (3 millis)',
    ],
)
def test_bolt_lines_that_carry_a_body_are_cut(lines: Lines, message: str) -> None:
    logging.getLogger("slack_bolt.App").warning(message, CUSTOMER_TEXT)
    [line] = lines.lines
    assert CUSTOMER_TEXT not in line
    assert "withheld" in line


def test_other_lines_pass_unchanged(lines: Lines) -> None:
    logging.getLogger("slack_bolt.App").warning("Failed to run listener function (error: %s)", "x")
    logging.getLogger("bot.services.intake").info("intake.stored response_id=%s", "r-1")
    assert lines.lines == [
        "Failed to run listener function (error: x)",
        "intake.stored response_id=r-1",
    ]


def test_configure_filters_every_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = ("slack_sdk", "slack_bolt", "apscheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        configure("debug")
        assert root.handlers
        for handler in root.handlers:
            assert any(isinstance(f, WithholdRequestBodies) for f in handler.filters)
        assert logging.getLogger("slack_bolt").getEffectiveLevel() >= logging.INFO
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
