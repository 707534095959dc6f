"""Delivers the outbox to Slack: priority order, per-channel pacing, each message exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import SectionBlock

from blocks.card import alert_text, card_blocks, card_text
from bot.destinations import Destinations, NoDestination
from bot.rules import Rules
from bot.slack import UserDirectory, retry_after
from bot.slack_ids import is_user_id
from storage import outbox as store
from storage.directory import DirectoryCache

log = logging.getLogger(__name__)

METADATA_TYPE = "nps_outbox_delivery"
# Errors that no retry will mend: the message is kept as failed and shown in /healthz.
PERMANENT = {
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "invalid_blocks",
    "msg_too_long",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "no_destination",
    "user_not_found",
    "cannot_dm_bot",
}


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxWorker:
    """A thread that drains the outbox; `run_once` does one pass and is what tests drive."""

    MIN_PASS = 0.05

    def __init__(
        self,
        engine: sa.Engine,
        client: WebClient,
        rules: Rules,
        *,
        channel_interval: float = 1.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.client = client
        self.rules = rules
        self.destinations = Destinations(rules)
        self.directory = UserDirectory(client, DirectoryCache(engine))
        self.channel_interval = channel_interval
        self.clock = clock
        self._ready_at: dict[str, float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reconciled_at = 0.0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self, channels: Iterable[str | None] | None = None) -> None:
        """Deliveries were queued (for these channels): look now if any of them can go now."""
        if channels is None or any(c is None or not self._busy(c) for c in channels):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                sent = self.run_once()
            except Exception:
                log.exception("outbox.pass_failed")
                sent = False
            if not sent:
                self._wake.wait(timeout=self._idle_wait())
                self._wake.clear()
            # A burst of intake commits wakes the worker often; a pass at most every
            # MIN_PASS seconds keeps it from re-reading the queue for every commit.
            self._stop.wait(max(0.0, self.MIN_PASS - (time.monotonic() - started)))

    def _idle_wait(self) -> float:
        pending = [t - time.monotonic() for t in self._ready_at.values()]
        soonest = min([p for p in pending if p > 0], default=1.0)
        return max(0.05, min(soonest, 1.0))

    def run_once(self) -> bool:
        """Send what is due and whose channel may take a message now; True if anything was sent."""
        now = self.clock()
        if time.monotonic() - self._reconciled_at > 30:
            self.reconcile(now=now)
            self._reconciled_at = time.monotonic()
        sent = False
        ticking = time.monotonic()
        busy = [channel for channel, at in self._ready_at.items() if at > ticking]
        for delivery in store.due(self.engine, now=now, busy=busy):
            if self._stop.is_set():
                break
            sent |= self._deliver(delivery, now=self.clock())
        return sent

    def _deliver(self, delivery: store.Delivery, *, now: datetime) -> bool:
        if delivery.channel and self._busy(delivery.channel):
            return False
        try:
            view = self._view(delivery)
            channel = delivery.channel or self._destination(delivery, view, now=now)
            if channel != delivery.channel:
                store.bind_channel(self.engine, delivery.id, channel)
            if self._busy(channel):
                return False
            message = self._render(delivery, view, channel=channel, now=now)
        except NoDestination as exc:
            store.fail(self.engine, delivery.id, error=f"no_destination: {exc}")
            log.error(
                "outbox.failed id=%s kind=%s error=no_destination", delivery.id, delivery.kind
            )
            return False
        except SlackApiError as exc:
            return self._handle_error(delivery, exc, now=now)
        if not store.start_sending(self.engine, delivery.id, channel=channel, now=now):
            return False
        self._ready_at[channel] = time.monotonic() + self.channel_interval
        try:
            answer = self.client.chat_postMessage(
                **message,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"delivery": delivery.id}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            return self._handle_error(delivery, exc, now=now)
        except Exception as exc:  # connection errors that outlived the client's retries
            self._retry_later(delivery, type(exc).__name__, now=now)
            return False
        store.mark_sent(
            self.engine, delivery, channel=answer["channel"], ts=answer["ts"], now=self.clock()
        )
        log.info(
            "outbox.sent id=%s kind=%s case_id=%s channel=%s",
            delivery.id,
            delivery.kind,
            delivery.case_id,
            answer["channel"],
        )
        return True

    def _handle_error(self, delivery: store.Delivery, exc: SlackApiError, *, now: datetime) -> bool:
        wait = retry_after(exc)
        error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
        if wait is not None:
            store.defer(
                self.engine, delivery.id, until=now + timedelta(seconds=wait), error="ratelimited"
            )
            log.warning("outbox.ratelimited id=%s retry_after=%s", delivery.id, wait)
        elif error in PERMANENT:
            store.fail(self.engine, delivery.id, error=error)
            log.error("outbox.failed id=%s kind=%s error=%s", delivery.id, delivery.kind, error)
        else:
            self._retry_later(delivery, error, now=now)
        return False

    def _retry_later(self, delivery: store.Delivery, error: str, *, now: datetime) -> None:
        backoff = min(2 ** max(delivery.attempts, 0), 300)
        store.defer(self.engine, delivery.id, until=now + timedelta(seconds=backoff), error=error)
        log.warning("outbox.retry id=%s error=%s in=%ss", delivery.id, error, backoff)

    def _busy(self, channel: str) -> bool:
        """Whether a channel took a message too recently to take another now."""
        return self._ready_at.get(channel, 0.0) > time.monotonic()

    def _view(self, delivery: store.Delivery) -> store.CaseView:
        view = store.case_view(self.engine, delivery.case_id) if delivery.case_id else None
        if view is None:
            raise NoDestination("the delivery's case does not exist")
        return view

    def _destination(self, delivery: store.Delivery, view: store.CaseView, *, now: datetime) -> str:
        """The channel (or user, for a DM) a delivery goes to."""
        if delivery.kind == "card":
            owner = self._resolve_owner(view, now=now)
            return self._card_channel(view.case.owner_ref, owner)
        if delivery.kind == "alert":
            return self._alert_channel(delivery.payload.get("notify", ""), view, now=now)
        raise NoDestination(f"unknown delivery kind {delivery.kind}")

    def _resolve_owner(self, view: store.CaseView, *, now: datetime) -> str | None:
        """The owner's Slack user id, looked up once and stored on the case."""
        case = view.case
        if case.owner_user_id or not case.owner_ref:
            return case.owner_user_id
        owner = self.directory.resolve(case.owner_ref, now=now)
        if owner:
            store.set_owner_user(self.engine, case.id, owner, now=now)
            case.owner_user_id = owner
        return owner

    def _render(
        self, delivery: store.Delivery, view: store.CaseView, *, channel: str, now: datetime
    ) -> dict:
        """The chat.postMessage arguments for a delivery, from the case's current state."""
        if delivery.kind == "card":
            self._resolve_owner(view, now=now)
            blocks = card_blocks(view, now=now)
            return {"channel": channel, "text": card_text(view), "blocks": blocks}
        text = alert_text(view, delivery.payload.get("reason"))
        return {"channel": channel, "text": text, "blocks": [SectionBlock(text=text)]}

    def _card_channel(self, owner_ref: str | None, owner_id: str | None) -> str:
        channel = self.destinations.card_channel(owner_ref, owner_id) or owner_id
        if not channel:
            raise NoDestination("owner has no channel and no default_channel is set")
        return channel

    def _alert_channel(self, notify: str, view: store.CaseView, *, now: datetime) -> str:
        case = view.case
        target = self.destinations.alert_target(notify, case.owner_ref, case.owner_user_id)
        if "@" in target:
            target = self.directory.resolve(target, now=now) or ""
        if not target:
            raise NoDestination(f"{notify} is not in Slack")
        return target

    def reconcile(self, *, now: datetime) -> None:
        """Settle deliveries a stopped process left mid-send: found in Slack -> sent, else retry."""
        for delivery in store.abandoned(self.engine, now=now):
            ts = self._find_posted(delivery)
            if ts:
                store.mark_sent(
                    self.engine, delivery, channel=delivery.channel or "", ts=ts, now=now
                )
                log.info("outbox.reconciled id=%s found=true", delivery.id)
            else:
                store.defer(self.engine, delivery.id, until=now, error="abandoned mid-send")
                log.info("outbox.reconciled id=%s found=false", delivery.id)

    def _find_posted(self, delivery: store.Delivery) -> str | None:
        if not delivery.channel:
            return None
        channel = delivery.channel
        try:
            if is_user_id(channel):
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            history = self.client.conversations_history(
                channel=channel, include_all_metadata=True, limit=200
            )
        except SlackApiError as exc:
            log.warning(
                "outbox.reconcile_unavailable id=%s error=%s",
                delivery.id,
                exc.response.get("error"),
            )
            return None
        for message in history.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == METADATA_TYPE
                and payload.get("delivery") == delivery.id
            ):
                return message["ts"]
        return None
