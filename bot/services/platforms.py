"""Configured survey sources: each platform adapter bound to its secret, fields and API token,
and a platform's answer turned into the record the intake writer stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.services.sources import PLATFORMS, Answer, FieldMap, Platform

NATIVE = "native"
UNMATCHED_ACCOUNT = "~unmatched"
"""The account of a response the directory could not place: its card says no account matched."""
UNMATCHED_NAME = "No matching account"


class SourceRule(Protocol):
    """What the rules file says of one source (the configuration's model is one)."""

    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def secret_env(self) -> str | None: ...
    @property
    def token_env(self) -> str | None: ...
    @property
    def score_field(self) -> str | None: ...
    @property
    def comment_field(self) -> str | None: ...
    @property
    def account_field(self) -> str | None: ...
    @property
    def email_field(self) -> str | None: ...
    @property
    def api_token_env(self) -> str | None: ...
    @property
    def api_url(self) -> str | None: ...
    @property
    def test(self) -> bool: ...


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
        if rule.platform != NATIVE
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

    def customer_id(self, known: str | None) -> str:
        """The customer row: the known customer with this email, else one keyed by the email."""
        if known:
            return known
        return f"email:{self.email}" if self.email else self.response_id


def json_ready(answer: PlatformAnswer) -> dict[str, Any]:
    """Ids and flags only, for log lines and queues: never the comment, name or email."""
    return {"response_id": answer.response_id, "source": answer.source, "score": answer.score}
