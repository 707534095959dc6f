"""The webhooks' bodies: their schema, checked at the edge so that nothing unstorable is accepted.

Dates are kept to sane years, NUL characters are stripped from free text and refused in ids, and a
long history keeps its most recent touchpoints; errors name the field, never echo the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bot.domain.patterns import EMAIL, is_person

EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
MAX_TOUCHPOINTS = 50
NUL = "\x00"

_Day = TypeVar("_Day", bound=date)


def _strip_nul(value: Any) -> Any:
    """Free text loses NUL characters, which no database column can hold."""
    return value.replace(NUL, "") if isinstance(value, str) else value


def _no_nul(value: str) -> str:
    """Refuse NUL characters in an id: stripping them would make it another id."""
    if NUL in value:
        raise ValueError("must not contain NUL characters")
    return value


def _sane_year(value: _Day) -> _Day:
    """Refuse a date outside the sane years: a typing error, and past 9999 not storable."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    BeforeValidator(_strip_nul),
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), BeforeValidator(_strip_nul)
]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_year)]
Day = Annotated[date, AfterValidator(_sane_year)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_Model = TypeVar("_Model", bound=_In)


class CustomerIn(_In):
    id: Id
    name: Name
    email: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, pattern=EMAIL.pattern),
            BeforeValidator(_strip_nul),
        ]
        | None
    ) = None
    phone: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=100),
            BeforeValidator(_strip_nul),
        ]
        | None
    ) = None


class AccountIn(_In):
    id: Id
    name: Name
    arr: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    plan: Short | None = None
    renewal_date: Day | None = None

    @field_validator("owner")
    @classmethod
    def _owner_is_person(cls, value: str | None) -> str | None:
        if value and (NUL in value or not is_person(value)):
            raise ValueError("must be an email address or a Slack user id (U...)")
        return value or None


Kind = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    BeforeValidator(_strip_nul),
]
Summary = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=1000), BeforeValidator(_strip_nul)
]


class TouchpointIn(_In):
    at: Instant
    kind: Kind
    summary: Summary = ""


def _latest(touchpoints: list[TouchpointIn]) -> list[TouchpointIn]:
    """The most recent touchpoints when there are more than the card can use."""
    if len(touchpoints) <= MAX_TOUCHPOINTS:
        return touchpoints
    return sorted(touchpoints, key=lambda t: t.at)[-MAX_TOUCHPOINTS:]


class SurveyIn(_In):
    """The body of `POST /webhooks/survey`."""

    response_id: Id
    score: Annotated[StrictInt, Field(ge=0, le=10)]
    comment: (
        Annotated[str, StringConstraints(max_length=20_000), BeforeValidator(_strip_nul)] | None
    ) = None
    submitted_at: Instant | None = None
    survey: Short | None = None
    customer: CustomerIn
    account: AccountIn
    touchpoints: Annotated[list[TouchpointIn], AfterValidator(_latest)] = []
    resurvey_of: Id | None = None
    test: StrictBool = False


class AccountEventIn(_In):
    """The body of `POST /webhooks/account`: an account churned or renewed."""

    account_id: Id
    event: Literal["churned", "renewed"]
    at: Instant
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
