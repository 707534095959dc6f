"""Configured survey sources: each platform adapter bound to its secret, fields and API token,
and a platform's answer turned into the record the intake writer stores."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from bot.config.sources import SourceRule
from bot.domain.vocabulary import NATIVE_SOURCE
from bot.services.sources import PLATFORMS, Answer, FetchRef, FieldMap, Platform
from storage import inbound
from storage import intake as store


@dataclass(frozen=True, repr=False)
class Source:
    """A survey source ready to serve: its platform, credentials and field mapping."""

    name: str
    platform: Platform
    fields: FieldMap
    secret: str | None = None
    token: str | None = None
    api_url: str | None = None
    api_token: str | None = None
    test: bool = False

    def __repr__(self) -> str:  # never the secrets
        return f"Source(name={self.name!r}, platform={self.platform.name!r})"


DEFAULT_API_URLS = {
    "surveymonkey": "https://api.surveymonkey.com/v3",
    "qualtrics": "https://iad1.qualtrics.com",
}


def build_sources(rules: Iterable[SourceRule], environ: Mapping[str, str]) -> dict[str, Source]:
    """The configured sources with their secrets read from the environment."""

    def env(name: str | None) -> str | None:
        value = environ.get(name or "", "").strip() if name else ""
        return value or None

    return {
        rule.name: Source(
            name=rule.name,
            platform=PLATFORMS[rule.platform],
            fields=FieldMap(
                score_field=rule.score_field,
                comment_field=rule.comment_field,
                account_field=rule.account_field,
                email_field=rule.email_field,
            ),
            secret=env(rule.secret_env),
            token=env(rule.token_env),
            api_url=(rule.api_url or DEFAULT_API_URLS.get(rule.platform, "")).rstrip("/"),
            api_token=env(rule.api_token_env),
            test=rule.test,
        )
        for rule in rules
        if rule.platform != NATIVE_SOURCE
    }


def response_key(source: str, platform_id: str) -> str:
    """The stored response id: the platform's id within its source, so two sources never clash."""
    return f"{source}:{platform_id}"


@dataclass(frozen=True)
class PlatformAnswer:
    """A platform's answer as intake stores it, before the directory has placed the respondent."""

    response_id: str
    source: str
    score: int
    comment: str | None
    email: str | None
    name: str | None
    account_id: str | None
    submitted_at: datetime | None
    complete: bool
    test: bool

    @classmethod
    def of(cls, source: Source, answer: Answer) -> PlatformAnswer:
        """The answer of a verified delivery; `answer.score` must be known."""
        if answer.score is None:
            raise ValueError("an answer without a score cannot be stored yet")
        email = answer.email.strip().lower() if answer.email else None
        return cls(
            response_id=response_key(source.name, answer.response_id),
            source=source.name,
            score=answer.score,
            comment=answer.comment,
            email=email,
            name=answer.name,
            account_id=answer.account_id,
            submitted_at=answer.submitted_at,
            complete=answer.complete,
            test=source.test,
        )

    def customer_name(self) -> str:
        """A name to show: the platform's, else the email's local part."""
        if self.name and self.name.strip():
            return self.name.strip()
        if self.email:
            return self.email.split("@", 1)[0]
        return "Survey respondent"


class Writer(Protocol):
    """The intake writer, as platform intake uses it."""

    async def store(self, response: Any, *, timeout: float | None = None) -> Any: ...
    def submit(self, response: Any) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC)


class PlatformIntake:
    """The configured sources' deliveries: answers to the intake writer, names to the queue."""

    STORE_TIMEOUT = 30.0

    def __init__(
        self,
        engine: sa.Engine,
        writer: Writer,
        sources: dict[str, Source],
        *,
        to_record: Callable[[PlatformAnswer, datetime], Any],
        wake_fetcher: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.sources = sources
        self.to_record = to_record
        self.wake_fetcher = wake_fetcher
        self.clock = clock
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, source: str, outcome: str) -> None:
        """Count a delivery's outcome for /healthz."""
        with self._lock:
            self._counts[(source, outcome)] += 1

    async def receive(self, name: str, answer: Answer, *, timeout: float | None = None) -> Any:
        """Store a pushed answer; resolves once it is committed (or raises past `timeout` s)."""
        record = self.to_record(PlatformAnswer.of(self.sources[name], answer), self.clock())
        return await self.writer.store(record, timeout=timeout)

    def store_fetched(self, source: Source, answer: Answer) -> Any:
        """Store an answer read back from the platform (the fetcher's thread)."""
        record = self.to_record(PlatformAnswer.of(source, answer), self.clock())
        return self.writer.submit(record).result(timeout=self.STORE_TIMEOUT)

    async def queue(self, name: str, ref: FetchRef) -> bool:
        """Queue a read-back durably; False when the response was queued before."""
        queued = await asyncio.to_thread(
            inbound.enqueue,
            self.engine,
            source=name,
            external_id=ref.response_id,
            ref=dataclasses.asdict(ref),
            now=self.clock(),
        )
        if queued:
            self.wake_fetcher()
        return queued

    def health(self) -> dict[str, dict[str, Any]]:
        """Per source: deliveries since start by outcome, and the read-back queue."""
        queues = inbound.queue_state(self.engine, now=self.clock())
        with self._lock:
            counts = dict(self._counts)
        report: dict[str, dict[str, Any]] = {}
        for name, source in self.sources.items():
            entry: dict[str, Any] = {
                "platform": source.platform.name,
                "deliveries": {o: n for (s, o), n in counts.items() if s == name},
            }
            if source.platform.id_only:
                queue = queues.get(name)
                entry["fetches"] = dataclasses.asdict(queue) if queue else {"pending": 0}
            report[name] = entry
        return report


def to_record(answer: PlatformAnswer, received_at: datetime) -> store.ResponseData:
    """The intake record of a platform's answer; the writer places it in the directory."""
    email = answer.email
    account_id = answer.account_id or ""
    return store.ResponseData(
        response_id=answer.response_id,
        score=answer.score,
        customer=store.CustomerData("", account_id, answer.customer_name(), email),
        account=store.AccountData(account_id, account_id),
        submitted_at=answer.submitted_at or received_at,
        received_at=received_at,
        comment=answer.comment,
        source=answer.source,
        test=answer.test,
        placed=False,
        amend=True,
    )
