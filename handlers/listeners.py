"""Wires every Slack surface's listeners into the Bolt app."""

from __future__ import annotations

from slack_bolt import App

from handlers import commands


def register_listeners(app: App) -> None:
    commands.register(app)
