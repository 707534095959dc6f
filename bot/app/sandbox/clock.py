"""The sandbox's clock: real time plus an offset that only moves forward."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _real_now() -> datetime:
    return datetime.now(UTC)


class OffsetClock:
    """A `now()` for every service of the bot; `advance` moves the whole sandbox forward."""

    def __init__(self, real: Callable[[], datetime] = _real_now) -> None:
        self._real = real
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self._real() + self._offset

    @property
    def offset(self) -> timedelta:
        """How far the sandbox runs ahead of real time."""
        return self._offset

    def advance(self, by: timedelta) -> datetime:
        """Move forward by `by` (which must be positive); returns the new now."""
        if by <= timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += by
        return self()
