"""What the sandbox workspace holds: messages, ephemeral notes, views, files and trigger ids."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.app.sandbox.people import Directory

JSON = dict[str, Any]

TRIGGER_TTL = 3.0  # seconds a trigger id can be exchanged for a modal, as in Slack
RESPONSE_URL_USES = 5


def ts_value(ts: str) -> Decimal:
    """A message timestamp as an exact number; ValueError when it is not one."""
    try:
        value = Decimal(ts)
    except InvalidOperation as exc:
        raise ValueError(f"not a timestamp: {ts!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a timestamp: {ts!r}")
    return value


@dataclass
class Trigger:
    """A trigger id handed out with an interaction: who it belongs to and when it was issued."""

    user: str
    issued: float
    used: bool = False


@dataclass
class ResponseUrl:
    """A `response_url`: where its answers go and how often it may still be used."""

    user: str
    channel: str
    message_ts: str | None = None
    uses: int = 0


@dataclass
class OpenView:
    """A view as the stand-in keeps it: Slack's fields plus whose it is and what they typed."""

    view: JSON
    user: str
    values: JSON = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


class SlackState:
    """Everything the workspace holds; every change bumps `version` for the page's polling."""

    def __init__(
        self, directory: Directory, clock: Callable[[], datetime], *, base_url: str
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.lock = threading.RLock()
        self.version = 0
        self.messages: dict[str, list[JSON]] = {}
        self.ephemerals: list[JSON] = []
        self.views: dict[str, OpenView] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.files: dict[str, JSON] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.members: set[str] = {c.id for c in directory.channels if c.bot_member}
        self._last_ts = Decimal(0)
        self._ids = itertools.count(1)

    def touch(self) -> None:
        """Note a change, so that pages waiting for one refresh."""
        with self.lock:
            self.version += 1

    def next_ts(self) -> str:
        """A message timestamp from the sandbox clock, strictly later than the last one."""
        now = Decimal(int(self.clock().timestamp() * 1_000_000)) / 1_000_000
        self._last_ts = max(now, self._last_ts + Decimal("0.000001"))
        return f"{self._last_ts:.6f}"

    def new_id(self, prefix: str) -> str:
        """A Slack-looking id: the prefix, then nine characters."""
        return f"{prefix}{next(self._ids):03d}{secrets.token_hex(3).upper()}"

    # --- conversations -----------------------------------------------------------------------

    def channel_for(self, ref: str) -> str | None:
        """The conversation a `channel` argument names (a user id means their DM), if it exists."""
        person = self.directory.person(ref)
        if person is not None:
            return person.dm
        if self.directory.channel(ref) or self.directory.dm_owner(ref):
            return ref
        return None

    def find_message(self, channel: str, ts: str) -> JSON | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def add_message(self, channel: str, message: JSON) -> None:
        """Store a message; a reply also updates its parent's reply count."""
        thread_ts = message.get("thread_ts")
        if thread_ts:
            parent = self.find_message(channel, thread_ts)
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = message["ts"]
        self.messages.setdefault(channel, []).append(message)
        self.touch()

    # --- interactions --------------------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        """A trigger id for an interaction by `user`, exchangeable once within 3 seconds."""
        with self.lock:
            now = time.monotonic()
            for stale in [t for t, found in self.triggers.items() if now - found.issued > 60]:
                del self.triggers[stale]
            trigger_id = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
            self.triggers[trigger_id] = Trigger(user, now)
            return trigger_id

    def issue_response_url(self, *, user: str, channel: str, message_ts: str | None = None) -> str:
        """A `response_url` that answers into `channel`, as `user` sees it."""
        with self.lock:
            key = secrets.token_urlsafe(18)
            self.response_urls[key] = ResponseUrl(user, channel, message_ts)
            return f"{self.base_url}/sandbox/respond/{key}"

    # --- views ---------------------------------------------------------------------------------

    def top_view(self, user: str) -> OpenView | None:
        """The modal `user` sees now: the top of their stack."""
        stack = self.stacks.get(user) or []
        return self.views.get(stack[-1]) if stack else None

    def close_views(self, user: str) -> None:
        """Close every modal of `user`."""
        for view_id in self.stacks.pop(user, []):
            self.views.pop(view_id, None)
        self.touch()

    def pop_view(self, user: str) -> None:
        """Close the top modal of `user`, showing the one under it."""
        stack = self.stacks.get(user) or []
        if stack:
            self.views.pop(stack.pop(), None)
        self.touch()

    def home_of(self, user: str) -> JSON | None:
        """The Home tab last published for `user`."""
        view = self.views.get(self.homes.get(user, ""))
        return copy.deepcopy(view.view) if view else None
