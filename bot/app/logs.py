"""Logging: one line per event with ids, never customer text, emails, phones or secrets."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Where the Slack libraries' log lines start quoting a request or response body.
BODY_MARKERS = ("body", "payload", "({")
WITHHELD = "(request details withheld)"


class WithholdRequestBodies(logging.Filter):
    """Cut the Slack libraries' log lines where they start quoting a body: it holds customer text.

    Bolt logs a refused request with its raw body at INFO, and an unhandled one with parts of
    its payload; the event stays in the log, the text does not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(("slack_bolt", "slack_sdk")):
            return True
        text = record.getMessage()
        lowered = text.lower()
        hits = [lowered.find(marker) for marker in BODY_MARKERS if marker in lowered]
        if hits:
            cut = min(hits)
            # An opening parenthesis before the body starts the quoted details: cut there.
            paren = text.find("(", 0, cut + 1)
            head = text[: paren if paren >= 0 else cut].rstrip(" ,:")
            record.msg = f"{head} {WITHHELD}" if head else WITHHELD
            record.args = None
        return True


def configure(level: str, log_format: str = "text") -> None:
    """Log lines to standard error at `level`, with request bodies withheld on every handler."""
    logging.basicConfig(level=level.upper(), format=FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(WithholdRequestBodies())
    # slack_sdk logs whole request bodies at DEBUG; those carry customer text.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    logging.getLogger("slack_bolt").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    # The scheduler would log every tick of the timer job; its failures still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


# --- LOG_FORMAT=json ----------------------------------------------------------------------

# A message that starts with a dotted lower-case word names its event: "outbox.sent id=4 ...".
_EVENT = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
_FIELD = re.compile(r"(?:^|\s)([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|\[[^\]]*\]|[^\s]+)")
_RESERVED = frozenset({"ts", "level", "logger", "event", "msg", "exc_type", "exc"})


def _value(raw: str) -> Any:
    """A logged `key=value` value: whole numbers as numbers, quotes taken off, the rest text."""
    if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) > 1:
        return raw[1:-1]
    raw = raw.rstrip(",)")
    if re.fullmatch(r"-?\d{1,15}", raw):
        return int(raw)
    return raw


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, msg, and the message's key=value ids.

    It adds nothing to what the message itself says, so a line holds no more than its text form.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        first = message.split(" ", 1)[0]
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": first if _EVENT.fullmatch(first) else None,
            "msg": message,
        }
        if line["event"]:
            for key, raw in _FIELD.findall(message):
                if key not in _RESERVED:
                    line.setdefault(key, _value(raw))
        if record.exc_info:
            line["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            line["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exc"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
