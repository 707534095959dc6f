"""The `/nps` slash command: acknowledged at once, the report sent through `response_url`."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.reports import HELP_TEXT, help_blocks
from bot.domain.periods import PeriodError
from bot.services.reports import Report, Reports

log = logging.getLogger(__name__)


def _show(respond: Respond, report: Report) -> None:
    respond(text=report.text, blocks=report.blocks, response_type="ephemeral")


def _help(respond: Respond, problem: str | None = None) -> None:
    text = f"{problem}\n\n{HELP_TEXT}" if problem else HELP_TEXT
    respond(text=text, blocks=help_blocks(), response_type="ephemeral")


def nps_command(ack: Ack, command: dict, respond: Respond, client: WebClient, reports: Reports):
    """`/nps [digest [all] [post] | kpi [period] | rootcause [YYYY-MM] | help]`."""
    ack()
    words = command.get("text", "").lower().split()
    verb, rest = (words[0], words[1:]) if words else ("digest", [])
    user = command["user_id"]
    log.info("command.nps verb=%s user=%s", verb, user)
    try:
        if verb == "digest":
            unknown = set(rest) - {"all", "post"}
            if unknown:
                _help(respond, f"`/nps digest` takes `all` and `post`, not `{' '.join(unknown)}`.")
                return
            everyone = "all" in rest
            owners = None if everyone else reports.team_of(user)
            scope = "all open cases" if owners is None else "your team's open cases"
            report = reports.digest(owners=owners, scope=scope)
            if "post" in rest:
                _post(client, respond, command["channel_id"], report)
            else:
                _show(respond, report)
        elif verb == "kpi":
            _show(respond, reports.kpi(" ".join(rest)))
        elif verb == "rootcause":
            _show(respond, reports.rootcause(" ".join(rest)))
        elif verb == "help":
            _help(respond)
        else:
            _help(respond, f"There is no `/nps {verb}`.")
    except PeriodError as exc:
        _help(respond, str(exc))


def _post(client: WebClient, respond: Respond, channel: str, report: Report) -> None:
    """Share the digest in the channel for the standup; explain if the bot cannot post there."""
    try:
        client.chat_postMessage(channel=channel, text=report.text, blocks=report.blocks)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error not in ("not_in_channel", "channel_not_found"):
            raise
        respond(
            text="I can't post in this channel: invite me first (`/invite @nps-bot`). "
            "Here is the digest for you only.",
            response_type="ephemeral",
        )
        _show(respond, report)


def register(app: App) -> None:
    app.command("/nps")(nps_command)
