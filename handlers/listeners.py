"""Wires every Slack surface's listeners into the Bolt app."""

from __future__ import annotations

from slack_bolt import App

from handlers import actions, commands, events, fix_actions, views


def register_listeners(app: App) -> None:
    actions.register(app)
    commands.register(app)
    events.register(app)
    views.register(app)
    fix_actions.register(app)
