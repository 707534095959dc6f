"""Pacing by Slack's rate tiers (per method) and `chat.postMessage`'s one a second per channel.

Slack limits each Web API method per workspace by tier; `chat.postMessage` has its own limit of
about one message a second per channel. The pacer never sleeps: a call that may not go yet
raises `Throttled`, so the outbox defers that one delivery and goes on with the others.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

POST = "chat.postMessage"
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
# From Slack's method reference (rate_limits). Methods with "special" limits (auth.test,
# chat.getPermalink) have no tier to pace by: they wait only when Slack answers 429.
METHOD_TIERS = {
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.open": 3,
    "conversations.join": 3,
    "users.lookupByEmail": 3,
    "users.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
MAX_BACKOFF = 300.0


class Throttled(Exception):
    """A call that must wait `wait` seconds for its method or channel."""

    def __init__(self, method: str, wait: float) -> None:
        super().__init__(f"{method} paced for {wait:.1f}s")
        self.method = method
        self.wait = wait


@dataclass
class _Bucket:
    rate: float  # calls a second
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class Pacer:
    """Token buckets per method and a ready time per channel; thread-safe."""

    def __init__(
        self, *, channel_interval: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.channel_interval = channel_interval
        self.monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._channels: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def _bucket(self, method: str, now: float) -> _Bucket | None:
        tier = METHOD_TIERS.get(method)
        if tier is None:
            return None
        bucket = self._buckets.get(method)
        if bucket is None:
            # A minute's worth at once (Slack allows bursts), then the tier's pace.
            per_minute = float(TIER_PER_MINUTE[tier])
            bucket = self._buckets[method] = _Bucket(per_minute / 60, per_minute, per_minute, now)
        bucket.refill(now)
        return bucket

    def wait_for(self, method: str, channel: str | None = None) -> float:
        """Seconds until `method` (to `channel`) may be called; 0 when it may be now."""
        with self._lock:
            return self._wait(method, channel, self.monotonic())

    def _wait(self, method: str, channel: str | None, now: float) -> float:
        waits = [self._held.get(method, 0.0) - now]
        if method == POST and channel:
            waits.append(self._channels.get(channel, 0.0) - now)
        bucket = self._bucket(method, now)
        if bucket is not None:
            waits.append(bucket.wait())
        return max(0.0, *waits)

    def take(self, method: str, channel: str | None = None) -> None:
        """Count a call about to be made; raises `Throttled` when it must wait."""
        with self._lock:
            now = self.monotonic()
            wait = self._wait(method, channel, now)
            if wait > 0:
                raise Throttled(method, wait)
            bucket = self._bucket(method, now)
            if bucket is not None:
                bucket.tokens -= 1.0
            if method == POST and channel:
                self._channels[channel] = now + self.channel_interval

    def hold(self, method: str, seconds: float, channel: str | None = None) -> None:
        """Slack said 429: `chat.postMessage` waits per channel, any other method as a whole."""
        with self._lock:
            until = self.monotonic() + seconds
            if method == POST and channel:
                self._channels[channel] = max(self._channels.get(channel, 0.0), until)
            else:
                self._held[method] = max(self._held.get(method, 0.0), until)

    def busy_channels(self) -> list[str]:
        """Channels that may not take a post yet."""
        with self._lock:
            now = self.monotonic()
            self._channels = {c: at for c, at in self._channels.items() if at > now}
            return list(self._channels)

    def soonest(self) -> float | None:
        """Seconds until the next channel or method frees up; None when nothing waits."""
        with self._lock:
            now = self.monotonic()
            waits = [at - now for at in (*self._channels.values(), *self._held.values())]
        ahead = [w for w in waits if w > 0]
        return min(ahead) if ahead else None


def backoff(step: int, *, rng: Callable[[], float] = random.random) -> float:
    """Seconds before try `step + 1`: doubling from 1 s up to 5 min, jittered to 50-100%."""
    base = min(2.0 ** max(step - 1, 0), MAX_BACKOFF)
    return base / 2 + rng() * base / 2
