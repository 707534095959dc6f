"""Did a message reach Slack? Asked after a crash mid-send or an ambiguous answer, before any
re-post: each message carries its outbox row id in its metadata (a chart: its file name).

The answer is found, not found, or unknown. "Could not look" (a missing scope, a channel the bot
cannot read, an outage) is unknown, never "not found": an unknown row is checked again later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery.plan import CHECKED_METHODS, Method
from bot.delivery.report_renderers import chart_filename
from bot.delivery.slack_errors import dropped, error_code
from bot.domain.patterns import is_user_id
from bot.domain.vocabulary import DeliveryKind
from storage import cases
from storage.outbox import Delivery

METADATA_TYPE = "nps_outbox_delivery"
PAGE = 200
MAX_PAGES = 5
CLOCK_SKEW = timedelta(minutes=5)  # history is read from a little before the send began

# How each kind is sent; kinds sent otherwise than by chat.postMessage say so.
SENT_BY: dict[str, Method] = {
    DeliveryKind.CARD_UPDATE: Method.UPDATE,
    DeliveryKind.RESURVEY_WEBHOOK: Method.WEBHOOK,
    DeliveryKind.WEEKLY_CHART: Method.UPLOAD,
}


def method_of(kind: str) -> Method:
    """The call a delivery of `kind` ends in."""
    return SENT_BY.get(kind, Method.POST)


@dataclass(frozen=True)
class Found:
    """Slack has it: where and which message (a file's id for an upload)."""

    channel: str
    ts: str


@dataclass(frozen=True)
class NotFound:
    """Slack certainly does not have it: send it."""


@dataclass(frozen=True)
class Unknown:
    """Slack could not be asked; `error` says why."""

    error: str


Result = Found | NotFound | Unknown
NOT_FOUND = NotFound()


def metadata(delivery_id: int) -> dict[str, Any]:
    """The metadata every posted message carries: its outbox row id, nothing personal."""
    return {"event_type": METADATA_TYPE, "event_payload": {"delivery": delivery_id}}


class Checker:
    """Looks messages up in channel history, one read per channel (or thread) for many rows."""

    def __init__(self, client: WebClient, engine: sa.Engine) -> None:
        self.client = client
        self.engine = engine

    def check(self, rows: Sequence[Delivery]) -> dict[int, Result]:
        """What Slack has of each row; rows sent by idempotent calls are simply not found."""
        results: dict[int, Result] = {}
        groups: dict[tuple[str, str | None], list[Delivery]] = defaultdict(list)
        for row in rows:
            if method_of(row.kind) not in CHECKED_METHODS or not row.channel:
                results[row.id] = NOT_FOUND  # re-sent safely, or never got as far as Slack
                continue
            groups[(row.channel, self._parent(row))].append(row)
        for (channel, parent), group in groups.items():
            results.update(self._check_group(channel, parent, group))
        return results

    def _parent(self, row: Delivery) -> str | None:
        if row.kind != DeliveryKind.THREAD or row.case_id is None:
            return None
        case = cases.get_case(self.engine, row.case_id)
        return case.card_ts if case else None

    def _check_group(
        self, channel: str, parent: str | None, group: list[Delivery]
    ) -> dict[int, Result]:
        since = min((r.sending_at or r.created_at) for r in group) - CLOCK_SKEW
        try:
            where, messages = self._read(channel, parent, since.timestamp())
        except SlackApiError as exc:
            return {r.id: Unknown(error_code(exc)) for r in group}
        except Exception as exc:
            if not dropped(exc):
                raise
            return {r.id: Unknown(type(exc).__name__) for r in group}
        if messages is None:
            return {r.id: Unknown("history_too_long") for r in group}
        return {r.id: _match(r, where, messages) for r in group}

    def _read(
        self, channel: str, parent: str | None, since: float
    ) -> tuple[str, list[dict[str, Any]] | None]:
        """The conversation's id and its messages back to `since` (None: too many to read)."""
        if is_user_id(channel):
            channel = self.client.conversations_open(users=channel)["channel"]["id"]
        try:
            return channel, self._pages(channel, parent, since)
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel" or not channel.startswith("C"):
                raise
            refused = exc
        # A public channel posted to through chat:write.public: join it to read it.
        try:
            self.client.conversations_join(channel=channel)
        except SlackApiError:
            raise refused from None  # private, or not to be joined: still cannot look
        return channel, self._pages(channel, parent, since)

    def _pages(self, channel: str, parent: str | None, since: float) -> list[dict[str, Any]] | None:
        """History newest first, page by page, until a page reaches back past `since`."""
        found: list[dict[str, Any]] = []
        args: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": PAGE}
        for _ in range(MAX_PAGES):
            if parent:
                page = self.client.conversations_replies(ts=parent, **args)
            else:
                page = self.client.conversations_history(**args)
            messages = page.get("messages", [])
            found += messages
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            reached = not parent and any(float(m["ts"]) < since for m in messages)
            if reached or not page.get("has_more") or not cursor:
                return found
            args["cursor"] = cursor
        return None


def _match(row: Delivery, channel: str, messages: list[dict[str, Any]]) -> Result:
    if method_of(row.kind) == Method.UPLOAD:
        name = chart_filename(str(row.payload.get("day", "")))
        for message in messages:
            for shared in message.get("files") or []:
                if shared.get("name") == name:
                    return Found(channel, str(shared.get("id") or message["ts"]))
        return NOT_FOUND
    for message in messages:
        meta = message.get("metadata") or {}
        if (
            meta.get("event_type") == METADATA_TYPE
            and (meta.get("event_payload") or {}).get("delivery") == row.id
        ):
            return Found(channel, message["ts"])
    return NOT_FOUND
