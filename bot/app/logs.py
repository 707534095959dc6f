"""Logging: one line per event with ids, never customer text, emails, phones or secrets."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT, force=True)
    # slack_sdk logs whole request bodies at DEBUG; those carry customer text.
    logging.getLogger("slack_sdk").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    logging.getLogger("slack_bolt").setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    # The scheduler would log every tick of the timer job; its failures still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
