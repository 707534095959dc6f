"""The `/nps` slash command."""

from __future__ import annotations

from slack_bolt import Ack, App

HELP = "\n".join(
    [
        "*nps-bot* closes the loop on every NPS answer:",
        "• Detractors (0-6) get a card in their owner's channel and a call-back within 48 hours.",
        "• Passives (7-8) get a personal email within 5 business days.",
        "• Promoters (9-10) get a thank-you and an advocacy ask within 7 days.",
        "",
        "*Commands*",
        "`/nps help`: this help.",
    ]
)


def nps_command(ack: Ack, command: dict) -> None:
    """Answer `/nps`; every form shows the help until the reports exist."""
    ack(response_type="ephemeral", text=HELP)


def register(app: App) -> None:
    app.command("/nps")(nps_command)
