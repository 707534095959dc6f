"""Survey intake: the routing decision, and the single writer that commits accepted responses in
groups before anyone is told they were accepted."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.services.payloads import SurveyIn, parse_survey
from bot.services.placement import amend_repeats, place
from bot.services.router import Router
from storage import accounts
from storage import intake as store
from storage import touchpoints as feeds
from storage.sql import writing

__all__ = [
    "IntakeWriter",
    "NotYetStored",
    "Overloaded",
    "Router",
    "parse_survey",  # the survey webhook's parser, where the intake's callers have found it
    "to_response_data",
]

log = logging.getLogger(__name__)


def to_response_data(
    payload: SurveyIn, *, received_at: datetime, webhook_id: str | None
) -> store.ResponseData:
    """The storage record for a validated payload."""
    account = payload.account
    customer = payload.customer
    comment = payload.comment if payload.comment and payload.comment.strip() else None
    return store.ResponseData(
        response_id=payload.response_id,
        score=payload.score,
        customer=store.CustomerData(
            customer.id, account.id, customer.name, customer.email, customer.phone
        ),
        account=store.AccountData(
            account.id, account.name, account.arr, account.owner, account.plan, account.renewal_date
        ),
        submitted_at=payload.submitted_at or received_at,
        received_at=received_at,
        comment=comment,
        survey=payload.survey,
        touchpoints=[t.model_dump(mode="json") for t in payload.touchpoints],
        resurvey_of=payload.resurvey_of,
        webhook_id=webhook_id,
        test=payload.test,
    )


def _log_failure(response_id: str, exc: Exception) -> None:
    """Log a failed write by id and error class: a database error's text carries the values."""
    if isinstance(exc, sa.exc.SQLAlchemyError):
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.error("intake.write_failed response_id=%s error=%s", response_id, cause)
    else:
        log.exception("intake.write_failed response_id=%s", response_id)


class Overloaded(RuntimeError):
    """The intake queue is full; the sender should retry later."""


class NotYetStored(Overloaded):
    """The response is queued but was not committed in time; a retry finds it once it is."""


@dataclass
class _Job:
    """A response waiting for the writer, with whoever waits for its commit."""

    response: store.ResponseData
    future: Future[store.Stored] | asyncio.Future[store.Stored]
    loop: asyncio.AbstractEventLoop | None = None


def _settle(outcomes: list[tuple[_Job, store.Stored | None, BaseException | None]]) -> None:
    for job, result, error in outcomes:
        if job.future.done():  # an awaiting request was cancelled (client went away)
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]


class IntakeWriter:
    """One thread owns every intake write and commits whatever has queued up as one transaction.

    Callers wait on a future that resolves only after the commit, so a 2xx always means durable.
    """

    THRESHOLD_TTL = 30.0

    def __init__(
        self,
        engine: sa.Engine,
        router: Router,
        *,
        max_batch: int = 200,
        max_queue: int = 20_000,
        on_commit: Callable[[set[str | None]], None] | None = None,
        clock: Any = None,
    ) -> None:
        self.engine = engine
        self.router = router
        self.max_batch = max_batch
        self.on_commit = on_commit
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._threshold: tuple[float, float | None] | None = None
        self._clock = clock or (lambda: datetime.now(UTC))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write everything already accepted, then stop."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, response: store.ResponseData) -> Future[store.Stored]:
        """Queue a response; the future resolves once it is committed."""
        job = _Job(response, Future())
        self._put(job)
        return job.future  # type: ignore[return-value]

    async def store(
        self, response: store.ResponseData, *, timeout: float | None = None
    ) -> store.Stored:
        """Queue a response and wait for its commit; past `timeout` s raise NotYetStored."""
        loop = asyncio.get_running_loop()
        job = _Job(response, loop.create_future(), loop)
        self._put(job)
        try:
            return await asyncio.wait_for(job.future, timeout)
        except TimeoutError:
            log.warning("intake.slow response_id=%s waited=%ss", response.response_id, timeout)
            raise NotYetStored("the response was not committed in time") from None

    def _put(self, job: _Job) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise Overloaded("intake queue is full") from None

    @staticmethod
    def _deliver(outcomes: list[tuple[_Job, store.Stored | None, BaseException | None]]) -> None:
        """Hand results back: one wake-up per event loop per batch, not one per request."""
        by_loop: dict[asyncio.AbstractEventLoop | None, list] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, group in by_loop.items():
            if loop is None:
                _settle(group)
            else:
                # A closed loop means nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, group)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._write_isolating(batch)
            if stopping:
                return

    def _write_isolating(self, batch: list[_Job]) -> None:
        """Write a batch; if it fails, write its jobs one by one so one bad job fails alone."""
        try:
            results = self._write_with_retry([job.response for job in batch])
        except Exception as exc:
            if len(batch) == 1:
                _log_failure(batch[0].response.response_id, exc)
                error = RuntimeError("could not store the response")
                self._deliver([(batch[0], None, error)])
                return
            for job in batch:
                self._write_isolating([job])
            return
        outcomes = []
        answered: set[str] = set()
        for job in batch:
            result = results[job.response.response_id]
            if result.response_id in answered:  # the same response twice in one group
                result = dataclasses.replace(result, created=False)
            answered.add(result.response_id)
            outcomes.append((job, result, None))
        self._deliver(outcomes)
        if self.on_commit is not None:
            self.on_commit({c for result in results.values() for c in result.channels})

    def _write_with_retry(self, responses: list[store.ResponseData]) -> dict[str, store.Stored]:
        for attempt in range(3):
            try:
                return self._write(responses)
            except sa.exc.OperationalError:
                # Deadlocks, serialization failures and lock timeouts are worth another go.
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _write(self, responses: list[store.ResponseData]) -> dict[str, store.Stored]:
        now = self._clock()
        with writing(self.engine) as conn:
            responses = place(conn, responses)
            facts = self._accounts(conn, responses, now=now)
            threshold = self._current_threshold(conn)
            # Repeats are rare: drafting them too costs less than a query to find them first.
            items = []
            for r in responses:
                arr, owner = facts.get(r.account.id, (None, None))
                seen = self._touchpoints(conn, r)
                draft = self.router.draft(
                    r, arr=arr, threshold=threshold, owner=owner, touchpoints=seen
                )
                items.append((r, draft))
            stored = store.insert_responses(conn, items, now=now)
            stored.update(amend_repeats(conn, items, stored, now=now))
        for rid, result in stored.items():
            if result.created:
                log.info(
                    "intake.stored response_id=%s case_id=%s segment=%s",
                    rid,
                    result.case_id,
                    result.segment,
                )
        return stored

    @staticmethod
    def _accounts(
        conn: sa.Connection, responses: list[store.ResponseData], *, now: datetime
    ) -> store.AccountFacts:
        """Write the accounts and customers: a payload's own data updates them, a platform's
        answer only names them. Their ARR and owner, as stored."""
        native = [r for r in responses if r.placed]
        named = [r for r in responses if not r.placed]
        facts = accounts.upsert_accounts(conn, (r.account for r in native), now=now)
        facts.update(accounts.ensure_accounts(conn, (r.account for r in named), now=now))
        accounts.upsert_customers(conn, (r.customer for r in native), now=now)
        accounts.ensure_customers(conn, (r.customer for r in named), now=now)
        return facts

    def _touchpoints(
        self, conn: sa.Connection, response: store.ResponseData
    ) -> list[dict[str, Any]]:
        """The feed's and the payload's latest touchpoints, read only when a rule routes by them."""
        if not self.router.rules.routing.by_touchpoint:
            return response.touchpoints
        feed = feeds.latest_before(
            conn,
            account_id=response.account.id,
            email=response.customer.email,
            before=response.submitted_at,
        )
        return feeds.merge_latest(response.touchpoints, feed, limit=None)

    def _current_threshold(self, conn: sa.Connection) -> float | None:
        now = time.monotonic()
        if self._threshold is None or now - self._threshold[0] > self.THRESHOLD_TTL:
            self._threshold = (now, self.router.threshold(conn))
        return self._threshold[1]
