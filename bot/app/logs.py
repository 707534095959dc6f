"""Logging: one line per event with ids, never customer text, emails, phones or secrets."""

from __future__ import annotations

import logging

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


def configure(level: str) -> None:
    """Log lines to standard error at `level`, with request bodies withheld on every handler."""
    logging.basicConfig(level=level.upper(), format=FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(WithholdRequestBodies())
    # slack_sdk logs whole request bodies at DEBUG; those carry customer text.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    logging.getLogger("slack_bolt").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    # The scheduler would log every tick of the timer job; its failures still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
