"""Reads back the responses that id-only platforms (SurveyMonkey, Qualtrics) only named.

A webhook's notification is queued durably and answered 202; this worker takes due read-backs,
asks the platform's API, and hands each answer to intake. Failures retry with backoff (seconds
at first, capped at a few minutes); a rejected token keeps retrying at the cap, so that fixing
it resumes the queue by itself. Only an answer the platform cannot give (no score) fails for
good, and stays visible in /healthz.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from bot.services.platforms import Source
from bot.services.sources import Answer, BadShape, FetchFailed, FetchRef
from storage import inbound

log = logging.getLogger(__name__)

FIRST_RETRY = 2.0
MAX_RETRY = 300.0


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, *, retry_after: float | None = None) -> float:
    """Seconds before the next try: doubling from a couple of seconds, capped, with jitter."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)
    wait = base * random.uniform(0.8, 1.2)
    return min(max(wait, retry_after or 0.0), MAX_RETRY)


def ref_of(fetch: inbound.Fetch) -> FetchRef:
    """The platform reference a queued read-back was made from."""
    return FetchRef(
        platform=str(fetch.ref.get("platform", "")),
        response_id=str(fetch.ref["response_id"]),
        survey_id=str(fetch.ref["survey_id"]),
        event_id=fetch.ref.get("event_id"),
    )


@dataclass(frozen=True)
class PassReport:
    """What one pass did."""

    stored: int
    retried: int
    failed: int


class Fetcher:
    """A thread that empties the read-back queue; `run_once` is one pass, for tests."""

    def __init__(
        self,
        engine: sa.Engine,
        sources: dict[str, Source],
        store: Callable[[Source, Answer], object],
        *,
        clock: Callable[[], datetime] = _now,
        timeout: float = 10.0,
    ) -> None:
        self.engine = engine
        self.sources = sources
        self.store = store
        self.clock = clock
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not any(s.platform.id_only for s in self.sources.values()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="fetcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.client.close()

    def wake(self) -> None:
        """A read-back was queued: look now."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = sum(vars(self.run_once()).values()) > 0
            except Exception as exc:  # the database is down: try again shortly
                log.warning("fetch.pass_failed error=%s", type(exc).__name__)
                busy = False
            if not busy:
                self._wake.wait(timeout=1.0)
                self._wake.clear()

    def run_once(self) -> PassReport:
        """Fetch every read-back that is due now."""
        stored = retried = failed = 0
        for fetch in inbound.claim_due(self.engine, now=self.clock()):
            outcome = self._fetch_one(fetch)
            stored += outcome == "stored"
            retried += outcome == "retried"
            failed += outcome == "failed"
        return PassReport(stored, retried, failed)

    def _fetch_one(self, fetch: inbound.Fetch) -> str:
        source = self.sources.get(fetch.source)
        now = self.clock()
        if source is None or not source.api_token:
            why = "source not configured" if source is None else "no API token configured"
            return self._retry(fetch, why, attempts=fetch.attempts, now=now)
        try:
            answer = source.platform.fetch(
                ref_of(fetch),
                client=self.client,
                api_url=source.api_url or "",
                api_token=source.api_token,
                fields=source.fields,
            )
            if answer.score is None:
                raise BadShape([])
        except FetchFailed as exc:
            if exc.permanent and "token" not in exc.reason:
                return self._fail(fetch, exc.reason, now=now)
            # A rejected token is an operator's fix away: keep trying at the cap.
            attempts = 99 if exc.permanent else fetch.attempts
            return self._retry(fetch, exc.reason, attempts=attempts, now=now, after=exc.retry_after)
        except BadShape:
            return self._fail(fetch, "the platform's answer has no 0-10 score", now=now)
        try:
            self.store(source, answer)
        except Exception as exc:  # intake busy or the database down: the answer is fetched again
            return self._retry(
                fetch, f"could not store ({type(exc).__name__})", attempts=1, now=now
            )
        inbound.done(self.engine, fetch.id, now=self.clock())
        log.info("fetch.stored source=%s response_id=%s", fetch.source, fetch.external_id)
        return "stored"

    def _retry(
        self,
        fetch: inbound.Fetch,
        error: str,
        *,
        attempts: int,
        now: datetime,
        after: float | None = None,
    ) -> str:
        wait = backoff(attempts, retry_after=after)
        inbound.retry(self.engine, fetch.id, at=now + timedelta(seconds=wait), error=error)
        log.warning(
            "fetch.retry source=%s response_id=%s attempt=%s in=%ss error=%r",
            fetch.source,
            fetch.external_id,
            fetch.attempts,
            round(wait),
            error,
        )
        return "retried"

    def _fail(self, fetch: inbound.Fetch, error: str, *, now: datetime) -> str:
        inbound.fail(self.engine, fetch.id, error=error, now=now)
        log.error(
            "fetch.failed source=%s response_id=%s error=%r", fetch.source, fetch.external_id, error
        )
        return "failed"
