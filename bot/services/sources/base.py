"""What a survey platform's webhook delivery becomes, how it can be refused, and the adapter shape.

Every platform adapter turns a raw delivery into one of three things: an `Answer` (the platform
pushed the response), a `FetchRef` (the platform only named it; `fetch` reads it from the API
later) or `Ignored` (a valid delivery with nothing to store). The errors map one to one onto the
HTTP answer the route gives: `Unauthorized` 401, `NotParseable` 400, `BadShape` 422. No message
in this package carries a value from the request, a comment, a name, an email or a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias

import httpx


@dataclass(frozen=True)
class FieldMap:
    """Which answer or property of a source holds the score, comment, account id and email.

    Each name is a platform key: a question id or ref, or a hidden field / custom property /
    embedded data key. With no `score_field` the first answer the platform marks as NPS is the
    score and the first long-text answer the comment.
    """

    score_field: str | None = None
    comment_field: str | None = None
    account_field: str | None = None
    email_field: str | None = None


@dataclass(frozen=True)
class Answer:
    """One survey response in the same shape whichever platform sent it."""

    response_id: str
    score: int | None
    comment: str | None = None
    email: str | None = None
    name: str | None = None
    account_id: str | None = None
    submitted_at: datetime | None = None
    properties: dict[str, str] = field(default_factory=dict)
    complete: bool = True


@dataclass(frozen=True)
class FetchRef:
    """An id-only notification: the response to read from the platform's API."""

    platform: str
    response_id: str
    survey_id: str
    event_id: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A valid delivery that carries nothing to store; the route answers 200."""

    reason: str


Delivery: TypeAlias = Answer | FetchRef | Ignored


@dataclass(frozen=True)
class FieldError:
    """One missing or invalid field of a delivery, by path; never its value."""

    field: str
    message: str


class SourceError(Exception):
    """Base of every error a platform adapter raises."""


class Unauthorized(SourceError):
    """The delivery is not from the source: missing or wrong signature or token (401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotParseable(SourceError):
    """The body is not the platform's encoding at all: not JSON, not a form (400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadShape(SourceError):
    """The body parses but is not the platform's shape; every bad field is named (422)."""

    def __init__(self, fields: list[FieldError]) -> None:
        names = ", ".join(f.field for f in fields)
        super().__init__(f"{len(fields)} invalid field(s): {names}")
        self.fields = fields


class FetchFailed(SourceError):
    """Reading a response back from the platform's API failed; `permanent` says not to retry."""

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class Platform(Protocol):
    """A survey platform's webhook: who sent it, what it says, and reading what it only names."""

    name: str
    id_only: bool

    def verify(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None,
        token: str | None,
        now: datetime,
    ) -> None:
        """Raise Unauthorized unless the signature (with a secret) or bearer token holds."""
        ...

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """Read a verified delivery; raise NotParseable or BadShape."""
        ...

    def fetch(
        self,
        ref: FetchRef,
        *,
        client: httpx.Client,
        api_url: str,
        api_token: str,
        fields: FieldMap,
    ) -> Answer:
        """Read a named response from the platform's API; raise FetchFailed."""
        ...
