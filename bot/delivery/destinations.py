"""Where each kind of message goes, from the rules: pure, so intake can decide it up front."""

from __future__ import annotations

from bot.config.rules import Rules

ROLES = ("cx_lead", "vp_customer_success", "support_lead")


class NoDestination(Exception):
    """Nobody and no channel to send a message to."""


class Destinations:
    """Channels and people named by the rules for cards, alerts and escalations."""

    def __init__(self, rules: Rules) -> None:
        self.people = rules.people
        self.routing = rules.routing

    def card_channel(self, owner_ref: str | None, owner_user_id: str | None = None) -> str | None:
        """The owner's channel, else the default channel; None means: DM the owner."""
        for ref in (owner_ref, owner_user_id):
            entry = self.people.owner_entry(ref) if ref else None
            if entry and entry.channel:
                return entry.channel
        return self.people.default_channel

    def alert_target(
        self, notify: str, owner_ref: str | None, owner_user_id: str | None = None
    ) -> str:
        """A channel id, Slack user id or email for an alert; raises NoDestination if none."""
        if notify == "product_channel":
            if self.routing.product_channel:
                return self.routing.product_channel
            raise NoDestination("routing.product_channel is not set")
        if notify == "manager":
            entry = None
            for ref in (owner_ref, owner_user_id):
                entry = entry or (self.people.owner_entry(ref) if ref else None)
            person = entry.manager if entry else None
        elif notify in ROLES:
            person = getattr(self.people, notify)
        else:
            person = notify
        if not person:
            raise NoDestination(f"{notify} is not configured")
        return person

    def known_channel(self, notify: str, owner_ref: str | None) -> str | None:
        """The alert's channel when it is known without asking Slack (a channel or user id)."""
        try:
            target = self.alert_target(notify, owner_ref)
        except NoDestination:
            return None
        return target if "@" not in target else None
