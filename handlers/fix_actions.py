"""The outer loop's buttons and modal: Mark fixed on a theme, Mark told on a customer."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from blocks import fixes as views
from blocks import forms
from blocks.ids import FixAction, ModalBlock, ModalCallback
from bot.services.fixes import Fixes
from handlers.actions import tell, where

TOLD = "Marked told."


def open_mark_fixed(ack: Ack, body: dict, action: dict, client: WebClient, fixes: Fixes) -> None:
    ack()
    theme = action["value"]
    allowed = fixes.check_fix(theme, body["user"]["id"])
    if not allowed.ok:
        tell(client, body, allowed.message or "Nothing to do.")
        return
    view = views.mark_fixed_modal(theme, today=fixes.today())
    client.views_open(trigger_id=body["trigger_id"], view=view)


def submit_mark_fixed(ack: Ack, body: dict, view: dict, fixes: Fixes) -> None:
    parsed = forms.parse_mark_fixed(view["state"]["values"], today=fixes.today())
    if isinstance(parsed, dict):
        ack(response_action="errors", errors=parsed)
        return
    theme = views.read_fix_metadata(view.get("private_metadata"))
    outcome = fixes.mark_fixed(theme, body["user"]["id"], parsed)
    if outcome.ok:
        ack()
    else:
        ack(response_action="errors", errors={ModalBlock.FIX_WHAT: outcome.message or ""})


def _told(body: dict, client: WebClient, fixes: Fixes, fix_id: int, customer: str | None) -> None:
    """Mark told, then re-render the owner's list in place (or say why not)."""
    user = body["user"]["id"]
    outcome = fixes.mark_told(fix_id, customer, user)
    channel, ts = where(body)
    message = fixes.owner_message(fix_id, user) if outcome.ok else None
    if message is not None and channel and ts:
        text, blocks = message
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    else:
        tell(client, body, TOLD if outcome.ok else outcome.message or "")


def mark_told(ack: Ack, body: dict, action: dict, client: WebClient, fixes: Fixes) -> None:
    ack()
    fix_id, _, customer_id = action["value"].partition(":")
    _told(body, client, fixes, int(fix_id), customer_id)


def mark_all_told(ack: Ack, body: dict, action: dict, client: WebClient, fixes: Fixes) -> None:
    ack()
    _told(body, client, fixes, int(action["value"]), None)


def register(app: App) -> None:
    app.action(FixAction.MARK_FIXED)(open_mark_fixed)
    app.view(ModalCallback.MARK_FIXED)(submit_mark_fixed)
    app.action(FixAction.MARK_TOLD)(mark_told)
    app.action(FixAction.MARK_ALL_TOLD)(mark_all_told)
