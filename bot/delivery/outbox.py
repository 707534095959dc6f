"""Delivers the outbox to Slack: priority order, paced per method and channel, each message once.

A pass first settles rows whose sender stopped or whose call may have gone through (looking them
up in Slack), then sends what is due. A token Slack refuses pauses delivery, keeping every row
pending, until `auth.test` passes again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.scripts import Scripts
from bot.config.rules import Rules
from bot.delivery.attempt import Attempt, frames
from bot.delivery.destinations import Destinations
from bot.delivery.health import DeliveryState
from bot.delivery.leases import Heartbeat, is_dead, worker_name
from bot.delivery.pacing import POST, Pacer, Throttled, backoff
from bot.delivery.plan import ReportSource, Tools
from bot.delivery.reconcile import METADATA_TYPE, Checker, Found, NotFound, Result, method_of
from bot.delivery.slack import UserDirectory, Workspace, delivery_client
from bot.delivery.slack_errors import TOKEN_ERRORS, error_code, missing_scope
from bot.domain.vocabulary import DeliveryKind
from storage import outbox as store
from storage import outbox_leases as leases
from storage.slack_users import SlackUserCache

__all__ = ["METADATA_TYPE", "OutboxWorker"]

log = logging.getLogger(__name__)

MAX_CHECKS = 12  # unknown answers before a row is failed as unverified (~40 min of backoff)
RESUME_MEMORY = timedelta(minutes=10)  # a pause soon after a resume backs off further


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Pause:
    error: str
    since: datetime
    level: int
    probe_at: datetime
    needed: str | None


class OutboxWorker:
    """A thread that drains the outbox; `run_once` does one pass and is what tests drive."""

    MIN_PASS = 0.05
    SNAPSHOT_AGE = 0.25
    RECONCILE_EVERY = timedelta(seconds=1)

    def __init__(
        self,
        engine: sa.Engine,
        client: WebClient,
        rules: Rules,
        *,
        directory: UserDirectory | None = None,
        workspace: Workspace | None = None,
        webhook_secret: str | None = None,
        reports: ReportSource | None = None,
        channel_interval: float = 1.0,
        clock: Callable[[], datetime] = _now,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        name: str | None = None,
        lease: timedelta = store.LEASE,
        observe: Callable[[str, str], None] | None = None,
        on_card: Callable[[datetime, datetime], None] | None = None,
    ) -> None:
        self.engine = engine
        self.pacer = Pacer(channel_interval=channel_interval, monotonic=monotonic)
        self.client = delivery_client(client, self.pacer)
        self.tools = Tools(
            engine,
            rules,
            Destinations(rules),
            directory or UserDirectory(self.client, SlackUserCache(engine)),
            workspace or Workspace(self.client),
            Scripts(rules.templates_dir),
            reports,
            webhook_secret,
        )
        self.clock = clock
        self.rng = rng
        self.name = name or worker_name()
        self.lease = lease
        self.checker = Checker(self.client, engine)
        self.heartbeat = Heartbeat(engine, self.name, lease=lease, clock=clock)
        self.attempt = Attempt(
            self.client, self.tools, self.name, clock, rng, self._pause, self._note
        )
        if observe is not None:
            self.attempt.observe = observe
        if on_card is not None:
            self.attempt.on_card = on_card
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reconciled_at: datetime | None = None
        self._paused: _Pause | None = None
        self._resumed: tuple[datetime, int] | None = None
        self._last_error: str | None = None
        self._worked = False  # whether the last pass claimed or settled anything

    @property
    def channel_interval(self) -> float:
        """Seconds between two posts to one channel."""
        return self.pacer.channel_interval

    @channel_interval.setter
    def channel_interval(self, seconds: float) -> None:
        self.pacer.channel_interval = seconds

    # --- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.heartbeat.start()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.heartbeat.stop()

    def wake(self, channels: Iterable[str | None] | None = None) -> None:
        """Deliveries were queued (for these channels): look now if any of them can go now."""
        if channels is None or any(
            c is None or self.pacer.wait_for(POST, c) <= 0 for c in channels
        ):
            self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                sent = self.run_once()
                failures = 0
            except Exception as exc:  # the database is away, say: one line per backoff step
                failures += 1
                delay = min(2.0**failures, 60.0)
                log.warning("outbox.pass_failed error=%s retry_in=%.0fs", type(exc).__name__, delay)
                log.debug("outbox.pass_failed at=%s", frames(exc))
                self._stop.wait(delay)
                continue
            if not (sent or self._worked):
                self._wake.wait(timeout=self._idle_wait())
                self._wake.clear()
            # A burst of intake commits wakes the worker often; a pass at most every
            # MIN_PASS seconds keeps it from re-reading the queue for every commit.
            self._stop.wait(max(0.0, self.MIN_PASS - (time.monotonic() - started)))

    def _idle_wait(self) -> float:
        soonest = self.pacer.soonest()
        return max(0.05, min(soonest if soonest is not None else 1.0, 1.0))

    # --- passes -----------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Settle abandoned rows, then send what is due; True if anything was sent."""
        now = self.clock()
        self._worked = False
        slack = self._paused is None or self._probe(now)
        if slack and self._reconcile_due(now):
            self.reconcile(now=now)
        return self._pass(now, slack=slack)

    def drain(self, max_passes: int = 200) -> int:
        """Run passes until one finds nothing to do; how many passes ran."""
        for done in range(1, max_passes + 1):
            if not self.run_once() and not self._worked:
                return done
        return max_passes

    def _pass(self, now: datetime, *, slack: bool) -> bool:
        started = time.monotonic()
        sent = False
        for delivery in store.due(self.engine, now=now, busy=self.pacer.busy_channels()):
            if self._stop.is_set():
                break
            if time.monotonic() - started > self.SNAPSHOT_AGE:
                # Slow sends (or a busy writer) made this list stale: newer, more valuable
                # deliveries may be queued, so read the queue again rather than go on.
                return True
            webhook = delivery.kind == DeliveryKind.RESURVEY_WEBHOOK
            if (slack and self._paused is None) or webhook:
                sent |= self._deliver(delivery)
        return sent

    def _deliver(self, delivery: store.Delivery) -> bool:
        if self.pacer.wait_for(method_of(delivery.kind), delivery.channel) > 0:
            return False  # its method or channel is paced: it stays pending, untouched
        now = self.clock()
        if not store.claim(self.engine, delivery.id, owner=self.name, now=now, lease=self.lease):
            return False
        self._worked = True
        self.heartbeat.hold()
        try:
            return self.attempt.run(delivery, now)
        finally:
            self.heartbeat.drop()

    # --- rows whose fate is unknown ---------------------------------------------------------

    def _reconcile_due(self, now: datetime) -> bool:
        last = self._reconciled_at
        if last is not None and timedelta(0) <= now - last < self.RECONCILE_EVERY:
            return False
        self._reconciled_at = now
        return True

    def reconcile(self, *, now: datetime) -> None:
        """Settle rows whose sender died or whose call may have gone through: found in Slack ->
        sent; certainly not there -> sent again; could not look -> looked for again later."""
        dead = [h for h in leases.holders(self.engine) if is_dead(h, self.name)]
        if leases.release_dead(self.engine, owners=dead, now=now):
            log.info("outbox.reclaimed workers=%s", len(dead))
        # Released rows are due at `now` itself: look a microsecond past it to take them too.
        rows = leases.abandoned(self.engine, now=now + timedelta(microseconds=1))
        taken = [
            r
            for r in rows
            if leases.take_over(self.engine, r, owner=self.name, now=now, lease=self.lease)
        ]
        if not taken:
            return
        self._worked = True
        self.heartbeat.hold()
        try:
            try:
                results = self.checker.check(taken)
            except Throttled as exc:
                until = now + timedelta(seconds=exc.wait)
                for row in taken:
                    store.check_later(
                        self.engine, row.id, owner=self.name, until=until, error="check paced"
                    )
                return
            for row in taken:
                self._settle(row, results[row.id], now)
        finally:
            self.heartbeat.drop()

    def _settle(self, row: store.Delivery, result: Result, now: datetime) -> None:
        if isinstance(result, Found):
            store.mark_sent(
                self.engine, row, owner=self.name, channel=result.channel, ts=result.ts, now=now
            )
            log.info("outbox.reconciled id=%s kind=%s found=true", row.id, row.kind)
        elif isinstance(result, NotFound):
            if row.attempts >= self.attempt.max_attempts:
                store.fail(
                    self.engine,
                    row.id,
                    owner=self.name,
                    error=f"gave up after {row.attempts} attempts: not sent",
                )
                return
            store.defer(self.engine, row.id, owner=self.name, until=now, error="not sent")
            log.info("outbox.reconciled id=%s kind=%s found=false", row.id, row.kind)
        else:
            self._unknown(row, result.error, now)

    def _unknown(self, row: store.Delivery, error: str, now: datetime) -> None:
        self._note(error)
        if error in TOKEN_ERRORS and error != "missing_scope":  # that one: history scopes only
            self._pause_for(error, now, None)
            store.check_later(self.engine, row.id, owner=self.name, until=now, error=error)
            return
        checks = row.checks + 1
        if checks >= MAX_CHECKS:
            store.fail(self.engine, row.id, owner=self.name, error=f"unverified: {error}")
            log.error(
                "outbox.unverified id=%s kind=%s error=%s gave_up=true", row.id, row.kind, error
            )
            return
        wait = backoff(checks, rng=self.rng)
        until = now + timedelta(seconds=wait)
        store.check_later(
            self.engine,
            row.id,
            owner=self.name,
            until=until,
            error=f"unverified: {error}",
            checks=checks,
        )
        log.warning(
            "outbox.unverified id=%s kind=%s error=%s check=%s/%s in=%.1fs",
            row.id,
            row.kind,
            error,
            checks,
            MAX_CHECKS,
            wait,
        )

    # --- pausing on the token ---------------------------------------------------------------

    def _pause(self, code: str, exc: SlackApiError) -> None:
        self._pause_for(code, self.clock(), missing_scope(exc))

    def _pause_for(self, code: str, now: datetime, needed: str | None) -> None:
        if self._paused is not None:
            return
        level = 0
        if self._resumed is not None and now - self._resumed[0] < RESUME_MEMORY:
            level = self._resumed[1] + 1
        wait = backoff(level + 1, rng=self.rng)
        self._paused = _Pause(code, now, level, now + timedelta(seconds=wait), needed)
        self._note(code)
        log.error("outbox.paused error=%s needed=%s probe_in=%.1fs", code, needed or "-", wait)

    def _probe(self, now: datetime) -> bool:
        """Ask `auth.test` once the pause's backoff is over; True when delivery may resume."""
        pause = self._paused
        assert pause is not None
        if now < pause.probe_at:
            return False
        try:
            answer = self.client.auth_test()
            scopes = str(answer.headers.get("x-oauth-scopes") or "")
            still = (
                pause.needed
                if pause.needed and scopes and pause.needed not in scopes.split(",")
                else None
            )
            error = "missing_scope" if still else None
        except SlackApiError as exc:
            error = error_code(exc)
        except Exception as exc:
            error = type(exc).__name__
        if error is None:
            waited = int((now - pause.since).total_seconds())
            log.warning("outbox.resumed error=%s paused_for=%ss", pause.error, waited)
            self._paused, self._resumed = None, (now, pause.level)
            return True
        pause.level += 1
        wait = backoff(pause.level + 1, rng=self.rng)
        pause.probe_at = now + timedelta(seconds=wait)
        log.warning("outbox.still_paused error=%s probe_in=%.1fs", error, wait)
        return False

    def _note(self, error: str) -> None:
        self._last_error = error

    def state(self) -> DeliveryState:
        """The pause and the last error code, for `/healthz`."""
        pause = self._paused
        return DeliveryState(
            paused=pause.error if pause else None,
            paused_since=pause.since if pause else None,
            last_error=self._last_error,
        )
