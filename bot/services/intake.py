"""Survey intake: the payload's schema, the routing decision, and the single writer that commits
accepted responses in groups before anyone is told they were accepted."""

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
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.config.rules import Rules
from bot.delivery.destinations import Destinations
from bot.domain.calendar import Calendar
from bot.domain.patterns import EMAIL, is_person, is_user_id
from bot.domain.policy import Matchers, is_top_revenue, plan_case, top_revenue_threshold
from bot.domain.vocabulary import SEGMENT_PRIORITY, StepKind
from storage import intake as store
from storage.db import begin_immediate

log = logging.getLogger(__name__)


Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_Model = TypeVar("_Model", bound=_In)


class CustomerIn(_In):
    id: Id
    name: Name
    email: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=EMAIL.pattern)] | None
    ) = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class AccountIn(_In):
    id: Id
    name: Name
    arr: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    plan: Short | None = None
    renewal_date: date | None = None

    @field_validator("owner")
    @classmethod
    def _owner_is_person(cls, value: str | None) -> str | None:
        if value and not is_person(value):
            raise ValueError("must be an email address or a Slack user id (U...)")
        return value or None


class TouchpointIn(_In):
    at: AwareDatetime
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class SurveyIn(_In):
    """The body of `POST /webhooks/survey`."""

    response_id: Id
    score: Annotated[StrictInt, Field(ge=0, le=10)]
    comment: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    submitted_at: AwareDatetime | None = None
    survey: Short | None = None
    customer: CustomerIn
    account: AccountIn
    touchpoints: Annotated[list[TouchpointIn], Field(max_length=50)] = []
    resurvey_of: Id | None = None


class AccountEventIn(_In):
    """The body of `POST /webhooks/account`: an account churned or renewed."""

    account_id: Id
    event: Literal["churned", "renewed"]
    at: AwareDatetime
    arr: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class BadPayload(ValueError):
    """The body is JSON but not a valid survey response; every bad field is named."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class NotJson(ValueError):
    """The body is not a JSON object."""


def parse_survey(body: bytes) -> SurveyIn:
    """Validate a survey response; raise NotJson or BadPayload, never echoing the input."""
    return _parse(SurveyIn, body)


def parse_account_event(body: bytes) -> AccountEventIn:
    """Validate an account event; raise NotJson or BadPayload, never echoing the input."""
    return _parse(AccountEventIn, body)


def _parse(model: type[_Model], body: bytes) -> _Model:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise NotJson("body is not valid JSON") from None
        if any(e["type"] == "model_type" and not e["loc"] for e in errors):
            raise NotJson("body must be a JSON object") from None
        fields = [
            FieldError(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"]) for e in errors
        ]
        raise BadPayload(fields) from None


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
    )


class Router:
    """Turns a stored response into its case draft under the current rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.calendar = Calendar.from_rules(rules)
        self.matchers = Matchers.from_routing(rules.routing)
        self.destinations = Destinations(rules)

    def threshold(self, conn: sa.Connection) -> float | None:
        """The ARR at or above which an account counts as top revenue."""
        known = store.count_accounts_with_arr(conn)
        return top_revenue_threshold(
            self.rules.routing, lambda rank: store.arr_at_rank(conn, rank), known
        )

    def draft(self, response: store.ResponseData, *, arr: float | None, threshold: float | None):
        """The case the policy decides for one response."""
        plan = plan_case(
            score=response.score,
            comment=response.comment,
            received_at=response.received_at,
            top_revenue=is_top_revenue(arr, threshold=threshold),
            rules=self.rules,
            calendar=self.calendar,
            matchers=self.matchers,
        )
        steps = [
            store.StepDraft(StepKind.LADDER, s.seq, s.notify, s.due_at, s.reassign)
            for s in plan.steps
        ]
        owner = response.account.owner
        steps += [
            store.StepDraft(
                StepKind.ALERT,
                i,
                a.notify,
                response.received_at,
                reason=a.reason.value,
                channel=self.destinations.known_channel(a.notify, owner),
            )
            for i, a in enumerate(plan.alerts, start=1)
        ]
        return store.CaseDraft(
            segment=plan.segment.value,
            priority=SEGMENT_PRIORITY[plan.segment],
            arr=arr,
            reasons=sorted(r.value for r in plan.reasons),
            suggest_email_first=plan.suggest_email_first,
            contact_due_at=plan.contact_due_at,
            resolution_due_at=plan.resolution_due_at,
            policy=plan.policy,
            steps=steps,
            card_channel=self.destinations.card_channel(owner),
            owner_user_id=owner if is_user_id(owner) else None,
        )


class Overloaded(RuntimeError):
    """The intake queue is full; the sender should retry later."""


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

    async def store(self, response: store.ResponseData) -> store.Stored:
        """Queue a response and wait until it is committed."""
        loop = asyncio.get_running_loop()
        job = _Job(response, loop.create_future(), loop)
        self._put(job)
        return await job.future

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
        except Exception:
            if len(batch) == 1:
                log.exception("intake.write_failed response_id=%s", batch[0].response.response_id)
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
        with self.engine.connect() as conn:
            begin_immediate(conn)
            with conn.begin():
                arrs = store.upsert_accounts(conn, (r.account for r in responses), now=now)
                store.upsert_customers(conn, (r.customer for r in responses), now=now)
                threshold = self._current_threshold(conn)
                # Repeats are rare: drafting them too costs less than a query to find them first.
                items = [
                    (r, self.router.draft(r, arr=arrs.get(r.account.id), threshold=threshold))
                    for r in responses
                ]
                stored = store.insert_responses(conn, items, now=now)
        for rid, result in stored.items():
            if result.created:
                log.info(
                    "intake.stored response_id=%s case_id=%s segment=%s",
                    rid,
                    result.case_id,
                    result.segment,
                )
        return stored

    def _current_threshold(self, conn: sa.Connection) -> float | None:
        now = time.monotonic()
        if self._threshold is None or now - self._threshold[0] > self.THRESHOLD_TTL:
            self._threshold = (now, self.router.threshold(conn))
        return self._threshold[1]
