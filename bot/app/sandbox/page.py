"""The sandbox page, rendered on the server: the sidebar, a conversation or Home, and the modal."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bot.app.sandbox import mrkdwn
from bot.app.sandbox.checks import JSON
from bot.app.sandbox.fields import Field, field_of
from bot.app.sandbox.payloads import input_blocks
from bot.app.sandbox.people import BOT_USER_ID, Directory, Person
from bot.app.sandbox.store import OpenView, SlackState, ts_value

HOME = "home"


@dataclass
class Shown:
    """A message as the page shows it, with its replies when it starts a thread."""

    message: JSON
    author: str
    at: datetime
    anchor: str
    ephemeral: bool = False
    replies: list[Shown] = field(default_factory=list)


@dataclass(frozen=True)
class Conversation:
    """An entry of the sidebar."""

    id: str
    name: str
    kind: str  # channel | dm | home
    count: int = 0
    note: str = ""


def _anchor(ts: str) -> str:
    return "m" + ts.replace(".", "-")


def offset_words(offset: timedelta) -> str:
    """How far the sandbox runs ahead: `+1 day 12 h`, or `real time`."""
    hours = int(offset.total_seconds() // 3600)
    if hours <= 0:
        return "real time"
    days, hours = divmod(hours, 24)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    return "+" + " ".join(parts)


class Page:
    """Renders the page and its regions from the workspace's state, for one acting person."""

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.directory: Directory = state.directory
        self.env = Environment(
            loader=PackageLoader("bot.app.sandbox", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(md=self.md, plain=mrkdwn.plain)
        self.env.filters["words"] = self.words

    def md(self, text: Any) -> Markup:
        """A Block Kit text object (or a mrkdwn string) as HTML."""
        if isinstance(text, dict):
            if text.get("type") == "plain_text":
                return mrkdwn.plain(text.get("text"))
            text = text.get("text")
        return mrkdwn.to_html(
            str(text or ""), self.directory.name_of, self.directory.conversation_name
        )

    def words(self, text: str | None) -> str:
        """A mrkdwn text as plain words, for an accessible name."""
        return mrkdwn.to_text(text, self.directory.name_of, self.directory.conversation_name)

    # --- the regions -----------------------------------------------------------------------------

    def conversations(self, user: str) -> list[Conversation]:
        """Channels, then the DMs the bot has written to (and the viewer's own), then Home."""
        top = self._top_level_counts()
        found = [
            Conversation(c.id, f"#{c.name}", "channel", top.get(c.id, 0), c.topic)
            for c in self.directory.channels
        ]
        dms = [p for p in self.directory.people if top.get(p.dm) or p.id == user]
        dms.sort(key=lambda p: (p.id != user, p.name))
        found += [Conversation(p.dm, p.name, "dm", top.get(p.dm, 0), _about(p)) for p in dms]
        found.append(
            Conversation(
                HOME, "nps-bot Home", "home", 0, "What the app shows each person in its Home tab"
            )
        )
        return found

    def _top_level_counts(self) -> dict[str, int]:
        return {
            channel: sum(1 for m in messages if m.get("thread_ts") in (None, m["ts"]))
            for channel, messages in self.state.messages.items()
        }

    def _shown(self, message: JSON, *, ephemeral: bool = False) -> Shown:
        return Shown(
            message=copy.deepcopy(message),
            author=self.directory.name_of(message.get("user") or BOT_USER_ID),
            at=datetime.fromtimestamp(float(ts_value(message["ts"])), UTC),
            anchor=_anchor(message["ts"]),
            ephemeral=ephemeral,
        )

    def messages(self, user: str, channel: str) -> list[Shown]:
        """The conversation's messages with threads folded under their parents, and the notes
        only `user` sees, in time order."""
        shown: list[Shown] = []
        parents: dict[str, Shown] = {}
        for message in self.state.messages.get(channel, []):
            thread = message.get("thread_ts")
            if thread and thread != message["ts"] and thread in parents:
                parents[thread].replies.append(self._shown(message))
                continue
            parents[message["ts"]] = item = self._shown(message)
            shown.append(item)
        shown += [
            self._shown(e, ephemeral=True)
            for e in self.state.ephemerals
            if e["channel"] == channel and e["to"] == user
        ]
        shown.sort(key=lambda s: ts_value(s.message["ts"]))
        return shown

    def region_context(self, user: Person, conv: str) -> JSON:
        """Everything the sidebar, the pane and the modal need, read under the state's lock."""
        with self.state.lock:
            conversations = self.conversations(user.id)
            current = next((c for c in conversations if c.id == conv), conversations[0])
            owner = self.directory.dm_owner(current.id)
            modal = copy.deepcopy(self.state.top_view(user.id))
            return {
                "user": user,
                "conversations": conversations,
                "current": current,
                "readonly_for": owner if owner is not None and owner.id != user.id else None,
                "messages": [] if current.kind == HOME else self.messages(user.id, current.id),
                "home": self.state.home_of(user.id) if current.kind == HOME else None,
                "modal": modal,
                "fields": self._fields(modal),
                "version": self.state.version,
            }

    def _fields(self, modal: OpenView | None) -> dict[str, Field]:
        if modal is None:
            return {}
        return {
            block.get("block_id", ""): field_of(
                block,
                entered=modal.values,
                errors=modal.errors,
                people=self.directory.people,
                channels=self.directory.channels,
            )
            for block, _ in input_blocks(modal.view)
        }

    def regions(self, user: Person, conv: str, *, now: datetime, offset: timedelta) -> JSON:
        """The page's changing parts as HTML, with keys that tell when each one changed."""
        context = self.region_context(user, conv)
        modal: OpenView | None = context["modal"]
        return {
            "version": context["version"],
            "now": now.isoformat().replace("+00:00", "Z"),
            "offset": offset_words(offset),
            "conversation": context["current"].id,
            "sidebar": self.env.get_template("sidebar.html").render(context),
            "pane": self.env.get_template("pane.html").render(context),
            "modal": self.env.get_template("modal.html").render(context),
            "modal_key": _modal_key(modal),
        }

    def full(self, user: Person, conv: str, *, now: datetime, offset: timedelta) -> str:
        """The whole page, with its regions filled in so it works before the first poll."""
        regions = self.regions(user, conv, now=now, offset=offset)
        return self.env.get_template("page.html").render(
            user=user,
            people=self.directory.people,
            owners=_owners(self.directory),
            regions=regions,
        )


def _about(person: Person) -> str:
    """A person's title, and their role in the sandbox when it says more."""
    if person.role.lower() in person.title.lower():
        return person.title
    return f"{person.title}, {person.role}"


def _modal_key(modal: OpenView | None) -> str:
    """Changes whenever the modal, its errors or its problem change; empty with no modal."""
    if modal is None:
        return ""
    seen = json.dumps([modal.view["id"], modal.view["hash"], modal.errors, modal.problem])
    return hashlib.sha1(seen.encode()).hexdigest()[:16]


def _owners(directory: Directory) -> list[Person]:
    return [p for p in directory.people if p.role == "account owner"]
