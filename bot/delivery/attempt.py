"""One delivery attempt: render the row, make the call, and settle the outcome exactly once.

Every failure is the row's own: it is deferred with backoff (its error recorded), failed when no
retry can mend it, checked in Slack before a re-post when the call may have gone through, or
handed back untouched when the token is at fault (the worker pauses) or a rate limit says wait.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import TemplateError
from slack_sdk.errors import SlackApiError

from bot.delivery import webhooks
from bot.delivery.destinations import NoDestination
from bot.delivery.pacing import Throttled, backoff
from bot.delivery.plan import CHECKED_METHODS, Context, Method, Send, Skip, Tools, Wait
from bot.delivery.reconcile import metadata
from bot.delivery.renderers import render
from bot.delivery.slack import PacedClient, retry_after
from bot.delivery.slack_errors import Disposition, classify, dropped, error_code
from bot.domain.vocabulary import DeliveryKind
from storage import cases
from storage import outbox as store

log = logging.getLogger("bot.delivery.outbox")

MAX_ATTEMPTS = 12  # ~40 minutes of doubling backoff (capped at 5 min) before a row is failed


def describe(exc: Exception) -> str:
    """An error's name for the row and the log; a template's error says what it lacks.

    Other messages are left out: they may quote customer data (a database error quotes its
    parameters).
    """
    if isinstance(exc, TemplateError) and exc.message:
        return f"{type(exc).__name__}: {exc.message[:120]}"
    return type(exc).__name__


def frames(exc: BaseException) -> str:
    """Where an error was raised: files, lines and code, never the values involved."""
    return " | ".join(
        f"{f.filename}:{f.lineno} {f.line}" for f in traceback.extract_tb(exc.__traceback__)[-4:]
    )


@dataclass
class Attempt:
    """Sends one claimed row; reports token problems through `pause` and errors via `noted`."""

    client: PacedClient
    tools: Tools
    owner: str
    clock: Callable[[], datetime]
    rng: Callable[[], float]
    pause: Callable[[str, SlackApiError], None]
    noted: Callable[[str], None]
    max_attempts: int = MAX_ATTEMPTS
    # Outcomes by kind (sent, deferred, skipped, failed) and each card's time from the webhook
    # to Slack, for whoever counts them (the app's metrics).
    observe: Callable[[str, str], None] = lambda kind, outcome: None
    on_card: Callable[[datetime, datetime], None] = lambda received, sent: None

    def run(self, delivery: store.Delivery, now: datetime) -> bool:
        """Render and send a row this worker has claimed; True when it was sent."""
        engine = self.tools.engine
        context = Context(delivery, now, self.tools)
        try:
            plan = render(context)
        except Exception as exc:
            self.failed(delivery, exc, None, now)
            return False
        if isinstance(plan, Wait):
            until = now + timedelta(seconds=plan.seconds)
            store.defer(
                engine, delivery.id, owner=self.owner, until=until, error=plan.reason, refund=True
            )
            self.observe(delivery.kind, "deferred")
            return False
        if isinstance(plan, Skip):
            store.skip(engine, delivery.id, owner=self.owner, reason=plan.reason)
            self.observe(delivery.kind, "skipped")
            log.info(
                "outbox.skipped id=%s kind=%s reason=%s", delivery.id, delivery.kind, plan.reason
            )
            return False
        if plan.channel != delivery.channel:
            store.bind_channel(engine, delivery.id, owner=self.owner, channel=plan.channel)
        try:
            channel, ts = self._call_joining(delivery, plan)
        except Exception as exc:
            self.failed(delivery, exc, plan, now)
            return False
        if not store.mark_sent(
            engine, delivery, owner=self.owner, channel=channel, ts=ts, now=self.clock()
        ):
            log.warning("outbox.lease_lost id=%s kind=%s", delivery.id, delivery.kind)
            return False
        self.observe(delivery.kind, "sent")
        if delivery.kind == DeliveryKind.CARD and delivery.case_id is not None:
            self.on_card(context.view.case.received_at, self.clock())
        log.info(
            "outbox.sent id=%s kind=%s case_id=%s channel=%s",
            delivery.id,
            delivery.kind,
            delivery.case_id,
            channel,
        )
        return True

    # --- the call -------------------------------------------------------------------------

    def _call(self, delivery: store.Delivery, plan: Send) -> tuple[str, str]:
        if plan.method == Method.WEBHOOK:
            msg_id = webhooks.message_id(delivery.id)
            webhooks.post_signed(
                plan.args["url"],
                plan.args["body"],
                secret=self.tools.webhook_secret or "",
                msg_id=msg_id,
                now=self.clock(),
            )
            return store.WEBHOOK_CHANNEL, msg_id
        if plan.method == Method.UPDATE:
            answer = self.client.chat_update(**plan.args)
            return answer["channel"], answer["ts"]
        if plan.method == Method.UPLOAD:
            answer = self.client.files_upload_v2(**plan.args)
            return plan.channel, str(answer["file"]["id"])
        answer = self.client.chat_postMessage(
            **plan.args, metadata=metadata(delivery.id), unfurl_links=False, unfurl_media=False
        )
        return answer["channel"], answer["ts"]

    def _call_joining(self, delivery: store.Delivery, plan: Send) -> tuple[str, str]:
        """The call; on `not_in_channel` in a public channel, join it and try once more."""
        try:
            return self._call(delivery, plan)
        except SlackApiError as exc:
            if error_code(exc) != "not_in_channel" or not plan.channel.startswith("C"):
                raise
            refused = exc
        try:
            self.client.conversations_join(channel=plan.channel)
        except SlackApiError:
            raise refused from None  # a private channel, or joining is not allowed
        log.info("outbox.joined id=%s channel=%s", delivery.id, plan.channel)
        return self._call(delivery, plan)

    # --- outcomes -------------------------------------------------------------------------

    def failed(
        self, delivery: store.Delivery, exc: Exception, plan: Send | None, now: datetime
    ) -> None:
        """Settle a row after `exc`, raised while rendering (`plan` None) or sending."""
        if isinstance(exc, NoDestination):
            self._fail(delivery, f"no_destination: {exc}")
        elif isinstance(exc, Throttled):
            until = now + timedelta(seconds=exc.wait)
            store.defer(
                self.tools.engine,
                delivery.id,
                owner=self.owner,
                until=until,
                error=f"paced: {exc.method}",
                refund=True,
            )
        elif isinstance(exc, webhooks.WebhookFailed):
            if exc.transient:
                self.retry(delivery, exc.code, now)
            else:
                self._fail(delivery, exc.code)
        elif isinstance(exc, SlackApiError):
            self._slack_failed(delivery, exc, plan, now)
        elif plan is not None and plan.method in CHECKED_METHODS and dropped(exc):
            self._check_later(delivery, type(exc).__name__, now)
        else:
            log.debug("outbox.error id=%s at=%s", delivery.id, frames(exc))
            self.retry(delivery, describe(exc), now)

    def _slack_failed(
        self, delivery: store.Delivery, exc: SlackApiError, plan: Send | None, now: datetime
    ) -> None:
        code, disposition = error_code(exc), classify(exc)
        engine = self.tools.engine
        if disposition == Disposition.TOKEN:
            self.pause(code, exc)
            store.defer(engine, delivery.id, owner=self.owner, until=now, error=code, refund=True)
        elif disposition == Disposition.RATE_LIMITED:
            wait = retry_after(exc) or 30.0
            until = now + timedelta(seconds=wait)
            store.defer(engine, delivery.id, owner=self.owner, until=until, error=code, refund=True)
            log.warning("outbox.ratelimited id=%s retry_after=%s", delivery.id, wait)
        elif disposition == Disposition.CHANNEL and plan is not None:
            self._fall_back(delivery, plan, code, now)
        elif disposition in (Disposition.PERMANENT, Disposition.CHANNEL):
            self._fail(delivery, code)
        elif disposition == Disposition.AMBIGUOUS and plan and plan.method in CHECKED_METHODS:
            self._check_later(delivery, code, now)
        else:
            self.retry(delivery, code, now)

    def _fail(self, delivery: store.Delivery, error: str) -> None:
        self.noted(error.split(":", 1)[0])
        if store.fail(self.tools.engine, delivery.id, owner=self.owner, error=error):
            self.observe(delivery.kind, "failed")
            log.error("outbox.failed id=%s kind=%s error=%s", delivery.id, delivery.kind, error)

    def retry(self, delivery: store.Delivery, error: str, now: datetime) -> None:
        """Try again after a backoff step, or give up once the attempts are spent."""
        self.noted(error)
        attempts = delivery.attempts + 1  # counting the claim that made this attempt
        if attempts >= self.max_attempts:
            self._fail(delivery, f"gave up after {attempts} attempts: {error}")
            return
        wait = backoff(attempts, rng=self.rng)
        until = now + timedelta(seconds=wait)
        store.defer(self.tools.engine, delivery.id, owner=self.owner, until=until, error=error)
        self.observe(delivery.kind, "deferred")
        log.warning(
            "outbox.retry id=%s kind=%s error=%s attempt=%s in=%.1fs",
            delivery.id,
            delivery.kind,
            error,
            attempts,
            wait,
        )

    def _check_later(self, delivery: store.Delivery, error: str, now: datetime) -> None:
        """The call may have gone through: look for the message before any re-post."""
        self.noted(error)
        wait = backoff(delivery.attempts + 1, rng=self.rng)
        until = now + timedelta(seconds=wait)
        store.check_later(
            self.tools.engine,
            delivery.id,
            owner=self.owner,
            until=until,
            error=f"unconfirmed: {error}",
        )
        log.warning("outbox.unconfirmed id=%s error=%s check_in=%.1fs", delivery.id, error, wait)

    def _fall_back(self, delivery: store.Delivery, plan: Send, code: str, now: datetime) -> None:
        """A card its channel refuses goes to the default channel (or the owner), saying why."""
        fallback = None
        if delivery.kind == DeliveryKind.CARD and not delivery.payload.get("fallback"):
            fallback = self.tools.rules.people.default_channel or self._owner_of(delivery)
        if not fallback or fallback == plan.channel:
            self._fail(delivery, code)
            return
        note = {"channel": plan.channel, "error": code}
        store.fall_back(
            self.tools.engine, delivery, owner=self.owner, channel=fallback, now=now, note=note
        )
        self.noted(code)
        log.warning(
            "outbox.fallback id=%s kind=%s from=%s to=%s error=%s",
            delivery.id,
            delivery.kind,
            plan.channel,
            fallback,
            code,
        )

    def _owner_of(self, delivery: store.Delivery) -> str | None:
        case = cases.get_case(self.tools.engine, delivery.case_id) if delivery.case_id else None
        return case.owner_user_id if case else None
