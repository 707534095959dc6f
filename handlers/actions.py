"""Card buttons: acknowledge at once, check who may, then change state or open a modal."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient

from blocks import modals, playbook_modals
from blocks.ids import CardAction, ManagerAction
from bot.domain.permissions import Act
from bot.services.workflow import Workflow

log = logging.getLogger(__name__)


def where(body: dict) -> tuple[str | None, str | None]:
    """The channel and ts of the card that was clicked."""
    channel = (body.get("channel") or body.get("container") or {}).get("id") or (
        body.get("container") or {}
    ).get("channel_id")
    ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
    return channel, ts


def tell(client: WebClient, body: dict, text: str) -> None:
    """A short note only the person who clicked sees."""
    channel, _ = where(body)
    user = body["user"]["id"]
    if channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    else:
        client.chat_postMessage(channel=user, text=text)


def claim(ack: Ack, body: dict, action: dict, client: WebClient, workflow: Workflow) -> None:
    ack()
    outcome = workflow.claim(int(action["value"]), body["user"]["id"])
    if not outcome.ok and outcome.message:
        tell(client, body, outcome.message)


def done(ack: Ack, body: dict, action: dict, client: WebClient, workflow: Workflow) -> None:
    ack()
    outcome = workflow.done(int(action["value"]), body["user"]["id"])
    if not outcome.ok and outcome.message:
        tell(client, body, outcome.message)


def nudge(ack: Ack, body: dict, action: dict, client: WebClient, workflow: Workflow) -> None:
    ack()
    outcome = workflow.nudge(int(action["value"]), body["user"]["id"])
    tell(client, body, "The owner has been nudged." if outcome.ok else outcome.message or "")


def _open(act: Act, body: dict, action: dict, client: WebClient, workflow: Workflow) -> None:
    case_id = int(action["value"])
    allowed = workflow.check(act, case_id, body["user"]["id"])
    if not allowed.ok or allowed.case is None:
        tell(client, body, allowed.message or "Nothing to do.")
        return
    channel, ts = where(body)
    today = workflow.today()
    case = allowed.case
    rules = workflow.rules
    if act is Act.LOG_CONTACT:
        view = modals.log_contact_modal(case_id, today=today, channel=channel, ts=ts)
    elif act is Act.ROOT_CAUSE:
        view = modals.root_cause_modal(
            case_id, root_causes=rules.root_causes, today=today, channel=channel, ts=ts
        )
    elif act is Act.INSIGHT:
        view = playbook_modals.insight_modal(
            case_id, root_causes=rules.root_causes, channel=channel, ts=ts
        )
    elif act is Act.ADVOCACY:
        view = playbook_modals.advocacy_modal(case_id, channel=channel, ts=ts)
    elif act is Act.RESOLVE:
        view = modals.resolve_modal(
            case_id,
            root_causes=rules.root_causes,
            needs_root_cause=not case.root_cause,
            resurvey_default=workflow.resurvey_default(),
            channel=channel,
            ts=ts,
        )
    else:
        view = modals.reassign_modal(
            case_id, current_owner=case.owner_user_id, channel=channel, ts=ts
        )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def opener(act: Act):
    """A listener that opens the modal for `act` straight from the click."""

    def open_modal(ack: Ack, body: dict, action: dict, client: WebClient, workflow: Workflow):
        ack()
        _open(act, body, action, client, workflow)

    open_modal.__name__ = f"open_{act}"
    return open_modal


def register(app: App) -> None:
    app.action(CardAction.CLAIM)(claim)
    app.action(CardAction.DONE)(done)
    app.action(CardAction.LOG_CONTACT)(opener(Act.LOG_CONTACT))
    app.action(CardAction.ROOT_CAUSE)(opener(Act.ROOT_CAUSE))
    app.action(CardAction.RESOLVE)(opener(Act.RESOLVE))
    app.action(CardAction.REASSIGN)(opener(Act.REASSIGN))
    app.action(CardAction.LOG_INSIGHT)(opener(Act.INSIGHT))
    app.action(CardAction.LOG_ADVOCACY)(opener(Act.ADVOCACY))
    app.action(ManagerAction.NUDGE)(nudge)
    app.action(ManagerAction.REASSIGN)(opener(Act.REASSIGN))
