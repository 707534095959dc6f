"""Delivers the outbox to Slack: priority order, per-channel pacing, each message exactly once."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from standardwebhooks.webhooks import Webhook

from blocks import messages
from blocks.card import card_blocks, card_text
from blocks.scripts import Scripts
from bot.config.rules import Rules
from bot.delivery.destinations import Destinations, NoDestination
from bot.delivery.slack import UserDirectory, Workspace, retry_after
from bot.domain.patterns import is_user_id
from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage import cases
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
    "message_not_found",
    "cant_update_message",
}


@dataclass(frozen=True)
class Send:
    """A Web API call to make: `chat.postMessage` or `chat.update`."""

    method: str
    args: dict[str, Any]
    channel: str


@dataclass(frozen=True)
class Wait:
    """Not yet: try again in `seconds`."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Skip:
    """Nothing to send any more (a newer state will be shown anyway)."""

    reason: str


@dataclass
class _Context:
    delivery: store.Delivery
    view: store.CaseView
    now: datetime
    extra: dict[str, Any] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxWorker:
    """A thread that drains the outbox; `run_once` does one pass and is what tests drive."""

    MIN_PASS = 0.05
    SNAPSHOT_AGE = 0.25

    def __init__(
        self,
        engine: sa.Engine,
        client: WebClient,
        rules: Rules,
        *,
        directory: UserDirectory | None = None,
        workspace: Workspace | None = None,
        webhook_secret: str | None = None,
        channel_interval: float = 1.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.webhook_secret = webhook_secret
        self.client = client
        self.rules = rules
        self.destinations = Destinations(rules)
        self.directory = directory or UserDirectory(client, DirectoryCache(engine))
        self.workspace = workspace or Workspace(client)
        self.scripts = Scripts(rules.templates_dir)
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
        ticking = time.monotonic()
        busy = [channel for channel, at in self._ready_at.items() if at > ticking]
        sent = False
        for delivery in store.due(self.engine, now=now, busy=busy):
            if self._stop.is_set():
                break
            if time.monotonic() - ticking > self.SNAPSHOT_AGE:
                # Slow sends (or a busy writer) made this list stale: newer, more valuable
                # deliveries may be queued, so read the queue again rather than go on.
                return True
            sent |= self._deliver(delivery, now=self.clock())
        return sent

    def _busy(self, channel: str) -> bool:
        """Whether a channel took a message too recently to take another now."""
        return self._ready_at.get(channel, 0.0) > time.monotonic()

    # --- one delivery -----------------------------------------------------------------------

    def _deliver(self, delivery: store.Delivery, *, now: datetime) -> bool:
        if delivery.channel and self._busy(delivery.channel):
            return False
        try:
            view = store.case_view(self.engine, delivery.case_id) if delivery.case_id else None
            if view is None:
                raise NoDestination("the delivery's case does not exist")
            plan = self._plan(_Context(delivery, view, now))
        except NoDestination as exc:
            store.fail(self.engine, delivery.id, error=f"no_destination: {exc}")
            log.error(
                "outbox.failed id=%s kind=%s error=no_destination", delivery.id, delivery.kind
            )
            return False
        except SlackApiError as exc:
            return self._handle_error(delivery, exc, now=now)
        if isinstance(plan, Wait):
            until = now + timedelta(seconds=plan.seconds)
            store.defer(self.engine, delivery.id, until=until, error=plan.reason)
            return False
        if isinstance(plan, Skip):
            store.skip(self.engine, delivery.id, reason=plan.reason)
            log.info(
                "outbox.skipped id=%s kind=%s reason=%s", delivery.id, delivery.kind, plan.reason
            )
            return False
        if plan.channel != delivery.channel:
            store.bind_channel(self.engine, delivery.id, plan.channel)
        posting = plan.method == "chat.postMessage"
        if posting and self._busy(plan.channel):
            return False
        if not store.start_sending(self.engine, delivery.id, channel=plan.channel, now=now):
            return False
        if posting:
            self._ready_at[plan.channel] = time.monotonic() + self.channel_interval
        return self._send(delivery, plan, now=now)

    def _send(self, delivery: store.Delivery, plan: Send, *, now: datetime) -> bool:
        if plan.method == "webhook":
            return self._post_webhook(delivery, plan, now=now)
        try:
            if plan.method == "chat.update":
                answer = self.client.chat_update(**plan.args)
            else:
                answer = self.client.chat_postMessage(
                    **plan.args,
                    metadata={
                        "event_type": METADATA_TYPE,
                        "event_payload": {"delivery": delivery.id},
                    },
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

    def _post_webhook(self, delivery: store.Delivery, plan: Send, *, now: datetime) -> bool:
        """POST a Standard Webhooks request, signed with the survey secret, to the platform."""
        message_id = f"msg_nps_{delivery.id}"  # stable across retries: the receiver can dedupe
        body = json.dumps(plan.args["body"], separators=(",", ":"))
        signature = Webhook(self.webhook_secret or "").sign(message_id, now, body)
        request = urllib.request.Request(
            plan.args["url"],
            data=body.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            self._retry_later(delivery, type(exc).__name__, now=now)
            return False
        if 200 <= status < 300:
            store.mark_sent(
                self.engine, delivery, channel=store.WEBHOOK_CHANNEL, ts=message_id, now=now
            )
            log.info(
                "outbox.sent id=%s kind=%s case_id=%s", delivery.id, delivery.kind, delivery.case_id
            )
            return True
        if status in (408, 429) or status >= 500:
            self._retry_later(delivery, f"http_{status}", now=now)
        else:
            store.fail(self.engine, delivery.id, error=f"http_{status}")
            log.error(
                "outbox.failed id=%s kind=%s error=http_%s", delivery.id, delivery.kind, status
            )
        return False

    def _handle_error(self, delivery: store.Delivery, exc: SlackApiError, *, now: datetime) -> bool:
        wait = retry_after(exc)
        status = exc.response.status_code
        error = f"http_{status}" if status >= 500 else str(exc.response.get("error") or status)
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

    # --- what to send, by kind --------------------------------------------------------------

    def _plan(self, ctx: _Context) -> Send | Wait | Skip:
        planner = {
            DeliveryKind.CARD: self._plan_card,
            DeliveryKind.CARD_UPDATE: self._plan_update,
            DeliveryKind.THREAD: self._plan_thread,
            DeliveryKind.ALERT: self._plan_alert,
            DeliveryKind.DM: self._plan_dm,
            DeliveryKind.TICKET: self._plan_ticket,
            DeliveryKind.SUPPORT_REVIEW: self._plan_review,
            DeliveryKind.ESCALATION: self._plan_escalation,
            DeliveryKind.NUDGE: self._plan_nudge,
            DeliveryKind.REMINDER: self._plan_reminder,
            DeliveryKind.RESURVEY: self._plan_resurvey,
            DeliveryKind.RESURVEY_WEBHOOK: self._plan_resurvey_webhook,
        }.get(ctx.delivery.kind)
        if planner is None:
            raise NoDestination(f"unknown delivery kind {ctx.delivery.kind}")
        return planner(ctx)

    def _card_message(self, ctx: _Context) -> dict[str, Any]:
        view = ctx.view
        owner = self._resolve_owner(view, now=ctx.now)
        name = self.directory.display_name(owner) if owner else None
        script = self.scripts.script_for(view, owner_name=name)
        blocks = card_blocks(view, now=ctx.now, script=script)
        return {"text": card_text(view), "blocks": blocks}

    def _plan_card(self, ctx: _Context) -> Send:
        case = ctx.view.case
        owner = self._resolve_owner(ctx.view, now=ctx.now)
        channel = ctx.delivery.channel or self.destinations.card_channel(case.owner_ref, owner)
        channel = channel or owner
        if not channel:
            raise NoDestination("owner has no channel and no default_channel is set")
        return Send("chat.postMessage", {"channel": channel, **self._card_message(ctx)}, channel)

    def _card_state(self, ctx: _Context) -> Wait | Skip | None:
        """None when the card is in Slack; otherwise whether to wait for it or give up."""
        if ctx.view.case.card_ts:
            return None
        status = store.card_status(self.engine, ctx.view.case.id)
        if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            return Wait(2.0, "waiting for the card")
        return Skip("the card was never posted")

    def _plan_update(self, ctx: _Context) -> Send | Wait | Skip:
        case = ctx.view.case
        if not case.card_ts:
            status = store.card_status(self.engine, case.id)
            if status == OutboxStatus.SENDING:
                return Wait(2.0, "waiting for the card")
            # A card still to be posted is rendered from the case as it is by then.
            return Skip(
                "the card is not in Slack yet" if status == OutboxStatus.PENDING else "no card"
            )
        args = {"channel": case.card_channel, "ts": case.card_ts, **self._card_message(ctx)}
        return Send("chat.update", args, case.card_channel or "")

    def _plan_thread(self, ctx: _Context) -> Send | Wait | Skip:
        state = self._card_state(ctx)
        if state is not None:
            return state
        activity = cases.activity_for(self.engine, ctx.delivery.payload.get("activity_id", 0))
        if activity is None:
            return Skip("activity not found")
        case = ctx.view.case
        text = messages.thread_line(activity.action, activity.actor, activity.detail)
        args = {"channel": case.card_channel, "thread_ts": case.card_ts, "text": text}
        return Send("chat.postMessage", args, case.card_channel or "")

    def _person(self, ref: str, *, now: datetime) -> str:
        target = self.directory.resolve(ref, now=now) if "@" in ref else ref
        if not target:
            raise NoDestination("the person is not in Slack")
        return target

    def _plan_alert(self, ctx: _Context) -> Send:
        link = self._permalink(ctx)
        case = ctx.view.case
        target = ctx.delivery.channel or self._person(
            self.destinations.alert_target(
                ctx.delivery.payload.get("notify", ""), case.owner_ref, case.owner_user_id
            ),
            now=ctx.now,
        )
        text, blocks = messages.alert_message(
            ctx.view, reason=ctx.delivery.payload.get("reason"), permalink=link
        )
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _activity(self, ctx: _Context) -> Any:
        activity = cases.activity_for(self.engine, ctx.delivery.payload.get("activity_id", 0))
        if activity is None:
            raise NoDestination("activity not found")
        return activity

    def _plan_dm(self, ctx: _Context) -> Send:
        link = self._permalink(ctx)
        activity = self._activity(ctx)
        target = ctx.delivery.channel or activity.detail.get("to") or ""
        if not target:
            raise NoDestination("nobody to message")
        text, blocks = messages.reassigned_dm(ctx.view, by=activity.actor, permalink=link)
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _plan_ticket(self, ctx: _Context) -> Send:
        link = self._permalink(ctx)
        activity = self._activity(ctx)
        channel = self.destinations.alert_target("product_channel", None)
        detail = activity.detail
        text, blocks = messages.ticket_message(
            ctx.view,
            cause=detail.get("cause", ""),
            notes=detail.get("notes"),
            action_items=detail.get("action_items"),
            by=activity.actor,
            permalink=link,
        )
        return Send(
            "chat.postMessage", {"channel": channel, "text": text, "blocks": blocks}, channel
        )

    def _plan_review(self, ctx: _Context) -> Send:
        link = self._permalink(ctx)
        activity = self._activity(ctx)
        target = self._person(self.destinations.alert_target("support_lead", None), now=ctx.now)
        detail = activity.detail
        text, blocks = messages.support_review_message(
            ctx.view,
            cause=detail.get("cause", ""),
            notes=detail.get("notes"),
            by=activity.actor,
            permalink=link,
        )
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _plan_escalation(self, ctx: _Context) -> Send:
        activity = self._activity(ctx)
        detail = activity.detail
        target = ctx.delivery.channel or detail.get("to")
        if not target:  # not resolved when the step fired (Slack unreachable then): try now
            case = ctx.view.case
            notify = str(detail.get("notify", ""))
            ref = self.destinations.alert_target(notify, case.owner_ref, case.owner_user_id)
            target = self._person(ref, now=ctx.now)
        link = self._permalink(ctx)
        late = detail.get("late_seconds") or 0
        text, blocks = messages.escalation_dm(
            ctx.view,
            permalink=link,
            waited=activity.at - ctx.view.case.received_at,
            to_role=str(detail.get("notify", "")).replace("_", " "),
            reassigned=bool(detail.get("reassigned")),
            late_by=timedelta(seconds=late) if late else None,
        )
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _plan_nudge(self, ctx: _Context) -> Send:
        target = self._owner_target(ctx)
        activity = self._activity(ctx)
        text, blocks = messages.nudge_dm(
            ctx.view, by=activity.actor, permalink=self._permalink(ctx)
        )
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _owner_target(self, ctx: _Context) -> str:
        owner = ctx.delivery.channel or self._resolve_owner(ctx.view, now=ctx.now)
        if not owner:
            raise NoDestination("the case's owner is not in Slack")
        return owner

    def _plan_reminder(self, ctx: _Context) -> Send:
        target = self._owner_target(ctx)
        on = date.fromisoformat(ctx.delivery.payload["on"])
        text, blocks = messages.reminder_dm(ctx.view, on=on, permalink=self._permalink(ctx))
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _plan_resurvey(self, ctx: _Context) -> Send:
        target = self._owner_target(ctx)
        text, blocks = messages.resurvey_dm(ctx.view, permalink=self._permalink(ctx))
        return Send("chat.postMessage", {"channel": target, "text": text, "blocks": blocks}, target)

    def _plan_resurvey_webhook(self, ctx: _Context) -> Send:
        url = self.rules.resurvey.webhook_url
        if not url or not self.webhook_secret:
            raise NoDestination("resurvey.webhook_url or SURVEY_WEBHOOK_SECRET is not set")
        view = ctx.view
        body = {
            "type": "resurvey.requested",
            "case_id": view.case.id,
            "resurvey_of": view.case.response_id,
            "survey": view.response.survey,
            "customer": {
                "id": view.customer.id,
                "name": view.customer.name,
                "email": view.customer.email,
                "phone": view.customer.phone,
            },
            "account": {"id": view.account.id, "name": view.account.name},
        }
        return Send("webhook", {"url": url, "body": body}, store.WEBHOOK_CHANNEL)

    def _permalink(self, ctx: _Context) -> str | None:
        case = ctx.view.case
        if case.card_channel and case.card_ts:
            return self.workspace.permalink(case.card_channel, case.card_ts)
        return None

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

    # --- after a crash ----------------------------------------------------------------------

    def reconcile(self, *, now: datetime) -> None:
        """Settle deliveries a stopped process left mid-send: found in Slack -> sent, else retry."""
        for delivery in store.abandoned(self.engine, now=now):
            idempotent = delivery.kind in (DeliveryKind.CARD_UPDATE, DeliveryKind.RESURVEY_WEBHOOK)
            found = None if idempotent else self._find_posted(delivery)
            if found:
                channel, ts = found
                store.mark_sent(self.engine, delivery, channel=channel, ts=ts, now=now)
                log.info("outbox.reconciled id=%s found=true", delivery.id)
            else:
                store.defer(self.engine, delivery.id, until=now, error="abandoned mid-send")
                log.info("outbox.reconciled id=%s found=false", delivery.id)

    def _find_posted(self, delivery: store.Delivery) -> tuple[str, str] | None:
        """The channel and ts of a message this delivery already posted, if Slack has it."""
        if not delivery.channel:
            return None
        channel = delivery.channel
        try:
            if is_user_id(channel):
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            if delivery.kind == DeliveryKind.THREAD:
                view = store.case_view(self.engine, delivery.case_id or 0)
                parent = view.case.card_ts if view else None
                history = self.client.conversations_replies(
                    channel=channel, ts=parent, include_all_metadata=True, limit=200
                )
            else:
                history = self.client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("outbox.reconcile_unavailable id=%s error=%s", delivery.id, error)
            return None
        for message in history.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == METADATA_TYPE
                and payload.get("delivery") == delivery.id
            ):
                return channel, message["ts"]
        return None
