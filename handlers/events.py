"""Events: App Home shows the viewer's open cases."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from blocks.home import home_view
from bot.services.workflow import Workflow


def app_home_opened(event: dict, client: WebClient, workflow: Workflow) -> None:
    """Publish the viewer's open cases, overdue first, then by ARR."""
    if event.get("tab", "home") != "home":
        return
    user = event["user"]
    rows, links = workflow.home(user)
    client.views_publish(user_id=user, view=home_view(rows, now=workflow.clock(), links=links))


def register(app: App) -> None:
    app.event("app_home_opened")(app_home_opened)
