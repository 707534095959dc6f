"""The rules file: a TOML document of deadlines, people, routing words and escalation steps.

Each TOML table is one frozen pydantic dataclass, and each key one field of it: adding a section
is adding its dataclass and one field on `Rules`; reading, defaults and `rules_to_toml` follow.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    WrapSerializer,
)
from pydantic.dataclasses import dataclass

from bot.config.fields import (
    BLANK_IS_MISSING,
    AnyDuration,
    ClockDuration,
    NonNegative,
    Number,
    OptionalChannel,
    OptionalHttpUrl,
    OptionalPerson,
    OptionalText,
    Person,
    Word,
    listed,
    problem,
    problems,
    raise_problems,
)
from bot.config.playbook import Pilot, Tiers, TouchpointRoutes
from bot.config.program import Kpi, Review, Themes
from bot.config.sources import Sources
from bot.config.toml_out import to_toml
from bot.config.values import (
    ROLES,
    BusinessDays,
    ClockTime,
    HolidayCalendar,
    Holidays,
    Notify,
    RootCauses,
    TimeZoneName,
)
from bot.domain.durations import Duration, parse_duration

__all__ = [
    "DEFAULT_RULES",
    "ROLES",
    "ROUTING_DEFAULTS",
    "SLA_DEFAULTS",
    "Digest",
    "EscalationStep",
    "Kpi",
    "Owner",
    "People",
    "Resurvey",
    "Review",
    "Routing",
    "Rules",
    "RulesError",
    "Scheduler",
    "Sla",
    "load_rules",
    "rules_from_mapping",
    "rules_to_toml",
]

TABLE = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
"""Every table refuses unknown keys; code may build one by field name, files use the TOML key."""

SLA_DEFAULTS = {
    "detractor": "48h",
    "passive": "5bd",
    "promoter": "7d",
    "resolution": "5bd",
    "resurvey_after": "30d",
}
ROUTING_DEFAULTS = {
    "churn_words": ["cancel", "switch", "competitor", "leaving", "not renew", "churn"],
    "product_words": ["bug", "crash", "feature", "broken", "missing"],
    "service_words": ["support", "ticket", "waiting", "response time", "rude"],
}
DEFAULT_ROOT_CAUSES = (
    "Onboarding complexity",
    "Billing errors",
    "Slow support response",
    "Missing feature",
    "Product bug",
    "Other",
)


class RulesError(ValueError):
    """A rules file that cannot be used; one "<dotted.key>: <reason>" line per problem."""

    def __init__(self, key: str, reason: str, *more: tuple[str, str]) -> None:
        self.problems: list[tuple[str, str]] = [(key, reason), *more]
        super().__init__("\n".join(f"{k}: {r}" for k, r in self.problems))
        self.key = key
        self.reason = reason

    @classmethod
    def of(cls, found: Sequence[tuple[str, str]]) -> RulesError:
        """The error listing every (key, reason) found; there must be at least one."""
        (key, reason), *more = found
        return cls(key, reason, *more)


def _sla_default(name: str) -> Duration:
    return parse_duration(SLA_DEFAULTS[name])


def _words_default(name: str) -> tuple[str, ...]:
    return tuple(ROUTING_DEFAULTS[name])


Words = Annotated[tuple[Word, ...], listed("words")]


# --- people -----------------------------------------------------------------------------------


@dataclass(frozen=True, config=TABLE)
class Owner:
    """An account owner with the manager and channel their cases go to."""

    user: Annotated[Person, BLANK_IS_MISSING]
    manager: OptionalPerson = None
    channel: OptionalChannel = None


def _unique_owners(owners: tuple[Owner, ...]) -> tuple[Owner, ...]:
    first: dict[str, int] = {}
    repeats = []
    for i, owner in enumerate(owners):
        previous = first.setdefault(owner.user.casefold(), i)
        if previous != i:
            repeats.append(((i, "user"), f"duplicate of people.owners[{previous}]"))
    raise_problems(repeats)
    return owners


@dataclass(frozen=True, config=TABLE)
class People:
    """Who is notified for each role, and the known account owners."""

    cx_lead: OptionalPerson = None
    vp_customer_success: OptionalPerson = None
    support_lead: OptionalPerson = None
    default_channel: OptionalChannel = None
    owners: Annotated[
        tuple[Owner, ...], listed("owner tables"), AfterValidator(_unique_owners)
    ] = ()

    def owner_entry(self, ref: str) -> Owner | None:
        """The owners entry whose user matches ref, ignoring case."""
        return self._owners_by_user.get(ref.strip().casefold())

    @cached_property
    def _owners_by_user(self) -> dict[str, Owner]:
        return {o.user.casefold(): o for o in self.owners}


# --- deadlines and escalation -----------------------------------------------------------------


@dataclass(frozen=True, config=TABLE)
class Sla:
    """First-contact deadlines per segment, the resolution deadline and the resurvey delay."""

    detractor: AnyDuration = _sla_default("detractor")
    passive: AnyDuration = _sla_default("passive")
    promoter: AnyDuration = _sla_default("promoter")
    resolution: AnyDuration = _sla_default("resolution")
    resurvey_after: AnyDuration = _sla_default("resurvey_after")
    tiers: Tiers = ()


@dataclass(frozen=True, config=TABLE)
class EscalationStep:
    """Who is told, and whether the case moves to them, once a contact deadline lapses."""

    after: AnyDuration
    notify: Notify
    reassign: StrictBool = False


DEFAULT_STEPS = (
    EscalationStep(Duration(24, "h"), "manager"),
    EscalationStep(Duration(36, "h"), "cx_lead", reassign=True),
)


def _ordering_length(duration: Duration) -> timedelta:
    """The length used to order steps; a business day counts as one calendar day."""
    if duration.business:
        return timedelta(days=duration.amount)
    return duration.as_timedelta()


def _increasing(steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
    late = []
    for i in range(1, len(steps)):
        before, after = steps[i - 1].after, steps[i].after
        if _ordering_length(after) <= _ordering_length(before):
            reason = f"{after} must be later than escalation.steps[{i - 1}].after ({before})"
            late.append(((i, "after"), reason))
    raise_problems(late)
    return steps


@dataclass(frozen=True, config=TABLE)
class Escalation:
    """The `[escalation]` table: the ladder of steps, strictly later one after another."""

    steps: Annotated[
        tuple[EscalationStep, ...], listed("step tables"), AfterValidator(_increasing)
    ] = DEFAULT_STEPS


_ESCALATION = TypeAdapter(Escalation)


def _ladder(value: object) -> object:
    """The steps of an `[escalation]` table; a tuple of built steps is checked as its steps."""
    if isinstance(value, Mapping):
        return _ESCALATION.validate_python(value).steps
    if isinstance(value, tuple):
        return _ESCALATION.validate_python({"steps": value}).steps
    raise problem("expected a table")


def _as_table(steps: tuple[EscalationStep, ...], serialize: Any) -> dict[str, Any]:
    return {"steps": serialize(steps)}


Ladder = Annotated[tuple[EscalationStep, ...], BeforeValidator(_ladder), WrapSerializer(_as_table)]
"""The escalation steps, read from and written as the `[escalation]` table."""


# --- routing and reports ----------------------------------------------------------------------


def _share(share: float) -> float:
    if not 0 < share <= 1:
        raise problem(f"{share:g} is not in (0, 1]")
    return share


@dataclass(frozen=True, config=TABLE)
class Routing:
    """The words that flag a comment and what counts as a top-revenue account."""

    churn_words: Words = _words_default("churn_words")
    product_words: Words = _words_default("product_words")
    service_words: Words = _words_default("service_words")
    product_channel: OptionalChannel = None
    top_revenue_share: Annotated[Number, AfterValidator(_share)] = 0.2
    top_revenue_arr: Annotated[
        NonNegative | None,
        AfterValidator(lambda arr: arr or None),
        WrapSerializer(lambda arr, _: arr or 0.0),
    ] = None
    by_touchpoint: TouchpointRoutes = ()


@dataclass(frozen=True, config=TABLE)
class Digest:
    """Where and at what local time the daily digest is posted."""

    channel: OptionalChannel = None
    time: ClockTime = dt.time(9, 0)


@dataclass(frozen=True, config=TABLE)
class Resurvey:
    """Where resurvey requests are sent."""

    webhook_url: OptionalHttpUrl = None


@dataclass(frozen=True, config=TABLE)
class Scheduler:
    """How often the deadline scheduler runs."""

    tick: ClockDuration = Duration(60, "s")


# --- the whole file ---------------------------------------------------------------------------


@dataclass(frozen=True, config=TABLE)
class Rules:
    """Every setting the rules file controls."""

    timezone: TimeZoneName = "UTC"
    business_days: BusinessDays = frozenset(range(5))
    holidays: Holidays = frozenset()
    holiday_calendar: HolidayCalendar = None
    root_causes: RootCauses = DEFAULT_ROOT_CAUSES
    templates_dir: OptionalText = None
    people: People = People()
    sla: Sla = Sla()
    escalation_steps: Ladder = Field(default=DEFAULT_STEPS, alias="escalation")
    routing: Routing = Routing()
    digest: Digest = Digest()
    kpi: Kpi = Kpi()
    themes: Themes = ()
    review: Review = Review()
    resurvey: Resurvey = Resurvey()
    scheduler: Scheduler = Scheduler()
    sources: Sources = ()
    pilot: Pilot = Pilot()

    @property
    def tzinfo(self) -> ZoneInfo:
        """The rules' time zone."""
        return ZoneInfo(self.timezone)


_RULES = TypeAdapter(Rules)


def rules_from_mapping(data: Mapping[str, Any]) -> Rules:
    """Validates a parsed rules document, filling in defaults for missing keys."""
    document = dict(data) if isinstance(data, Mapping) else data
    try:
        rules = _RULES.validate_python(document, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise RulesError.of(problems(exc)) from None
    _check_themes(rules)
    return rules


def _check_themes(rules: Rules) -> None:
    """Each theme names one of `root_causes`, once."""
    causes = {cause.casefold() for cause in rules.root_causes}
    found, seen = [], set()
    for i, theme in enumerate(rules.themes):
        name = theme.name.casefold()
        if name not in causes:
            found.append((f"themes[{i}].name", f"{theme.name!r} is not one of root_causes"))
        elif name in seen:
            found.append((f"themes[{i}].name", f"{theme.name!r} is listed twice"))
        seen.add(name)
    if found:
        raise RulesError.of(found)


DEFAULT_RULES: Rules = rules_from_mapping({})


def load_rules(path: str | Path | None) -> Rules:
    """Reads and validates the rules file at path; None means the defaults."""
    if path is None:
        return DEFAULT_RULES
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise RulesError(str(path), "file not found") from None
    except OSError as exc:
        raise RulesError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RulesError(str(path), "invalid TOML: the file is not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(str(path), f"invalid TOML: {exc}") from None
    return rules_from_mapping(data)


def rules_to_toml(rules: Rules) -> str:
    """Renders rules as a TOML document that reads back to the same rules."""
    return to_toml(_RULES.dump_python(rules, by_alias=True))
