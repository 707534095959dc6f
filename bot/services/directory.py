"""The account directory and the touchpoint feed as they arrive: JSON arrays from reverse-ETL
tools and CRM workflows, and the accounts CSV of a CRM export, each record checked by one model."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.patterns import EMAIL, is_person
from bot.services.payloads import Day, Id, Instant, Kind, Name, Short, Summary
from storage.accounts import AccountRecord
from storage.touchpoints import TouchpointRecord

MAX_RECORDS = 1000
ACCOUNT_COLUMNS = ("account_id", "name", "arr", "plan", "renewal_date", "owner", "domains")

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=EMAIL.pattern)
]
DOMAIN_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(frozen=True)
class FieldError:
    """One invalid field, by path (`[3].arr`, or `line 4: arr` in a file); never its value."""

    field: str
    message: str


class BadRecords(ValueError):
    """Some records are invalid; every bad field is named."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class NotJsonArray(ValueError):
    """The body is not a JSON array."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DirectoryAccountIn(_Record):
    """One account of the directory."""

    account_id: Id
    name: Name
    arr: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    plan: Short | None = None
    renewal_date: Day | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    domains: tuple[str, ...] = ()

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value and not is_person(value):
            raise ValueError("must be an email address or a Slack user id (U...)")
        return value or None

    @field_validator("domains", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> tuple[str, ...]:
        items = value.split() if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("must be a list of email domains or a space-separated string")
        domains = []
        for item in items:
            domain = str(item).strip().lower().removeprefix("@")
            if not domain or "." not in domain or not set(domain) <= DOMAIN_CHARS:
                raise ValueError("each domain must look like example.com")
            domains.append(domain)
        return tuple(dict.fromkeys(domains))

    def record(self) -> AccountRecord:
        """The storage record."""
        return AccountRecord(
            self.account_id,
            self.name,
            self.arr,
            self.plan or None,
            self.renewal_date,
            self.owner,
            self.domains,
        )


class TouchpointFeedIn(_Record):
    """One event of a touchpoint feed, for an account or for a person."""

    account_id: Id | None = None
    email: Email | None = None
    at: Instant
    kind: Kind
    summary: Summary = ""

    @model_validator(mode="after")
    def _someone(self) -> TouchpointFeedIn:
        if not self.account_id and not self.email:
            raise ValueError("needs account_id or email")
        return self

    def record(self) -> TouchpointRecord:
        """The storage record."""
        return TouchpointRecord(
            self.at.astimezone(UTC), self.kind, self.summary, self.account_id, self.email
        )


_ACCOUNTS = TypeAdapter(Annotated[list[DirectoryAccountIn], Field(max_length=MAX_RECORDS)])
_TOUCHPOINTS = TypeAdapter(Annotated[list[TouchpointFeedIn], Field(max_length=MAX_RECORDS)])


def _field(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(body)"


def _validate(adapter: TypeAdapter[Any], body: bytes) -> list[Any]:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise NotJsonArray("body is not valid JSON") from None
        if any(e["type"] == "list_type" and not e["loc"] for e in errors):
            raise NotJsonArray("body must be a JSON array of records") from None
        raise BadRecords([FieldError(_field(e["loc"]), e["msg"]) for e in errors]) from None


def parse_accounts(body: bytes) -> list[AccountRecord]:
    """Account records from a JSON array; NotJsonArray or BadRecords, never echoing input."""
    return [a.record() for a in _validate(_ACCOUNTS, body)]


def parse_touchpoints(body: bytes) -> list[TouchpointRecord]:
    """Touchpoint records from a JSON array; NotJsonArray or BadRecords, never echoing input."""
    return [t.record() for t in _validate(_TOUCHPOINTS, body)]


def read_accounts_csv(lines: Iterable[str]) -> Iterator[AccountRecord | FieldError]:
    """Each line of an accounts CSV as a record, or as the errors that name it (`line N: ...`).

    The header is line 1 and must name every column in ACCOUNT_COLUMNS; other columns are
    ignored; empty cells are left out.
    """
    reader = csv.DictReader(lines)
    missing = [c for c in ACCOUNT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        yield FieldError("line 1", f"the header lacks {', '.join(missing)}")
        return
    for row in reader:
        line = reader.line_num
        values = {k: v for k in ACCOUNT_COLUMNS if (v := (row.get(k) or "").strip())}
        try:
            yield DirectoryAccountIn.model_validate(values).record()
        except ValidationError as exc:
            for e in exc.errors(include_input=False, include_url=False):
                yield FieldError(f"line {line}: {_field(e['loc'])}", e["msg"])
