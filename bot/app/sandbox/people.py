"""The sandbox workspace: its people, channels and bot, and the rules file that names them."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.config.rules import Rules, load_rules

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "nps-sandbox"
TEAM_NAME = "nps-bot sandbox"
APP_ID = "A0SBNPSBOT"
BOT_ID = "B0SBNPSBOT"
BOT_USER_ID = "U0SBNPSBOT"
BOT_NAME = "nps-bot"
SLACKBOT_ID = "USLACKBOT"


@dataclass(frozen=True)
class Person:
    """Someone in the sandbox workspace; `role` is what they are to the bot's cases."""

    id: str
    name: str
    email: str
    role: str
    title: str
    tz: str = "UTC"

    @property
    def handle(self) -> str:
        """The Slack username: the part of the email before the @."""
        return self.email.split("@", 1)[0]

    @property
    def dm(self) -> str:
        """The id of this person's direct-message channel with the bot."""
        return "D" + self.id[1:]

    @property
    def label(self) -> str:
        """The name and the role, as the person picker shows it."""
        return f"{self.name} ({self.role})"


@dataclass(frozen=True)
class Channel:
    """A channel of the sandbox workspace; the bot is a member unless `bot_member` is false."""

    id: str
    name: str
    topic: str
    bot_member: bool = True


PEOPLE: tuple[Person, ...] = (
    Person(
        "U0SBALICE",
        "Alice Owens",
        "alice.owens@sandbox.example",
        "account owner",
        "Account executive",
        "Europe/London",
    ),
    Person(
        "U0SBMARK",
        "Mark Mendes",
        "mark.mendes@sandbox.example",
        "manager",
        "Head of accounts",
        "Europe/London",
    ),
    Person(
        "U0SBCHLOE", "Chloe Carter", "chloe.carter@sandbox.example", "CX lead", "CX lead", "UTC"
    ),
    Person(
        "U0SBVICTOR",
        "Victor Vance",
        "victor.vance@sandbox.example",
        "VP",
        "VP Customer Success",
        "America/New_York",
    ),
    Person(
        "U0SBSAM", "Sam Stone", "sam.stone@sandbox.example", "stranger", "Finance analyst", "UTC"
    ),
    Person(
        "U0SBBOB",
        "Bob Brooks",
        "bob.brooks@sandbox.example",
        "account owner",
        "Account executive",
        "Europe/Berlin",
    ),
    Person(
        "U0SBPRIYA",
        "Priya Patel",
        "priya.patel@sandbox.example",
        "support lead",
        "Support lead",
        "Asia/Kolkata",
    ),
)

CHANNELS: tuple[Channel, ...] = (
    Channel("C0SBALICE", "cs-alice", "Cards for Alice's accounts"),
    Channel("C0SBNPS", "nps-cards", "Cards whose owner has no channel of their own"),
    Channel("C0SBPRODUCT", "product-feedback", "Product complaints and internal tickets"),
    Channel("C0SBSTANDUP", "cx-standup", "The daily digest"),
    Channel("C0SBGENERAL", "general", "Everyone; the bot is not a member", bot_member=False),
)


class Directory:
    """Looks up the sandbox's people and channels by id, email and DM channel."""

    def __init__(
        self, people: tuple[Person, ...] = PEOPLE, channels: tuple[Channel, ...] = CHANNELS
    ) -> None:
        self.people = people
        self.channels = channels
        self._by_id = {p.id: p for p in people}
        self._by_email = {p.email.lower(): p for p in people}
        self._by_dm = {p.dm: p for p in people}
        self._channels = {c.id: c for c in channels}

    def person(self, user_id: str | None) -> Person | None:
        return self._by_id.get(user_id or "")

    def by_email(self, email: str) -> Person | None:
        return self._by_email.get(email.strip().lower())

    def dm_owner(self, channel_id: str) -> Person | None:
        """The person whose DM with the bot `channel_id` is."""
        return self._by_dm.get(channel_id)

    def channel(self, channel_id: str | None) -> Channel | None:
        return self._channels.get(channel_id or "")

    def name_of(self, user_id: str) -> str:
        """A person's name for the page; the bot's name for the bot; else the id itself."""
        if user_id == BOT_USER_ID:
            return BOT_NAME
        if user_id == SLACKBOT_ID:
            return "Slackbot"
        person = self.person(user_id)
        return person.name if person else user_id

    def conversation_name(self, channel_id: str) -> str:
        """`#name` for a channel, the person's name for a DM, else the id."""
        channel = self.channel(channel_id)
        if channel:
            return f"#{channel.name}"
        person = self.dm_owner(channel_id)
        return person.name if person else channel_id


def rules_path() -> Path:
    """The built-in sandbox rules file."""
    return Path(str(resources.files(__package__).joinpath("rules.toml")))


def load_sandbox_rules() -> Rules:
    """The sandbox's rules, validated like any rules file."""
    return load_rules(rules_path())
