"""The rules file: a TOML document of deadlines, people, routing words and escalation steps."""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_lib

from bot.domain.durations import DAY_NAMES, DURATION_HINT, Duration, parse_duration
from bot.domain.patterns import SLACK_CHANNEL_ID, is_person

FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROLES = ("manager", "cx_lead", "vp_customer_success", "support_lead")
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class RulesError(ValueError):
    """A rules file that cannot be used; the message is "<dotted.key>: <reason>"."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Owner:
    """An account owner with the manager and channel their cases go to."""

    user: str
    manager: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class People:
    """Who is notified for each role, and the known account owners."""

    cx_lead: str | None
    vp_customer_success: str | None
    support_lead: str | None
    default_channel: str | None
    owners: tuple[Owner, ...]

    def owner_entry(self, ref: str) -> Owner | None:
        """The owners entry whose user matches ref, ignoring case."""
        return self._owners_by_user.get(ref.strip().casefold())

    @cached_property
    def _owners_by_user(self) -> dict[str, Owner]:
        return {o.user.casefold(): o for o in self.owners}


@dataclass(frozen=True)
class Sla:
    """First-contact deadlines per segment, the resolution deadline and the resurvey delay."""

    detractor: Duration
    passive: Duration
    promoter: Duration
    resolution: Duration
    resurvey_after: Duration


@dataclass(frozen=True)
class EscalationStep:
    """Who is told, and whether the case moves to them, once a contact deadline lapses."""

    after: Duration
    notify: str
    reassign: bool = False


@dataclass(frozen=True)
class Routing:
    """The words that flag a comment and what counts as a top-revenue account."""

    churn_words: tuple[str, ...]
    product_words: tuple[str, ...]
    service_words: tuple[str, ...]
    product_channel: str | None
    top_revenue_share: float
    top_revenue_arr: float | None


@dataclass(frozen=True)
class Digest:
    """Where and at what local time the daily digest is posted."""

    channel: str | None
    time: dt.time


@dataclass(frozen=True)
class Kpi:
    """Inputs to the program's return-on-investment figures."""

    monthly_cost: float


@dataclass(frozen=True)
class Resurvey:
    """Where resurvey requests are sent."""

    webhook_url: str | None


@dataclass(frozen=True)
class Scheduler:
    """How often the deadline scheduler runs."""

    tick: Duration


@dataclass(frozen=True)
class Rules:
    """Every setting the rules file controls."""

    timezone: str
    business_days: frozenset[int]
    holidays: frozenset[date]
    holiday_calendar: str | None
    root_causes: tuple[str, ...]
    templates_dir: str | None
    people: People
    sla: Sla
    escalation_steps: tuple[EscalationStep, ...]
    routing: Routing
    digest: Digest
    kpi: Kpi
    resurvey: Resurvey
    scheduler: Scheduler

    @property
    def tzinfo(self) -> ZoneInfo:
        """The rules' time zone."""
        return ZoneInfo(self.timezone)


# --- reading values ---------------------------------------------------------------------------


def _key(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


def _table(value: Any, key: str, allowed: Iterable[str], what: str = "a table") -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise RulesError(key or "(top level)", f"expected {what}")
    known = set(allowed)
    for name in value:
        if name not in known:
            raise RulesError(_key(key, str(name)), "unknown key")
    return dict(value)


def _list(value: Any, key: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RulesError(key, f"expected a list of {what}")
    return value


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise RulesError(key, "expected a string")
    return value.strip()


def _optional_string(value: Any, key: str) -> str | None:
    return _string(value, key) or None


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(key, "expected a number")
    if not math.isfinite(value):
        raise RulesError(key, "expected a finite number")
    return float(value)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(key, "expected true or false")
    return value


def _duration(value: Any, key: str, *, business_ok: bool = True) -> Duration:
    if not isinstance(value, str):
        raise RulesError(key, f'expected a duration string such as "48h" ({DURATION_HINT})')
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise RulesError(key, str(exc)) from None
    if duration.business and not business_ok:
        raise RulesError(key, f"{value!r}: business days are not allowed here")
    return duration


def _person(value: Any, key: str) -> str | None:
    text = _optional_string(value, key)
    if text is not None and not is_person(text):
        raise RulesError(key, f"{text!r} is not a Slack user id (U... or W...) or an email")
    return text


def _channel(value: Any, key: str) -> str | None:
    text = _optional_string(value, key)
    if text is not None and not SLACK_CHANNEL_ID.match(text):
        raise RulesError(key, f"{text!r} is not a Slack channel id (C..., G... or D...)")
    return text


def _words(value: Any, key: str, what: str = "words") -> tuple[str, ...]:
    items = _list(value, key, what)
    words = tuple(_string(item, _key(key, i)) for i, item in enumerate(items))
    for i, word in enumerate(words):
        if not word:
            raise RulesError(_key(key, i), "must not be empty")
    return words


# --- sections ---------------------------------------------------------------------------------


def _timezone(value: Any) -> str:
    name = _string(value, "timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RulesError("timezone", f"{name!r} is not a known IANA time zone") from None
    return name


def _weekday(value: Any, key: str) -> int:
    name = _string(value, key).lower()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in FULL_DAY_NAMES:
        return FULL_DAY_NAMES.index(name)
    raise RulesError(key, f"{value!r} is not a day name ({', '.join(DAY_NAMES)})")


def _business_days(value: Any) -> frozenset[int]:
    key = "business_days"
    items = _list(value, key, "day names")
    days = frozenset(_weekday(item, _key(key, i)) for i, item in enumerate(items))
    if not days:
        raise RulesError(key, "at least one business day is required")
    return days


def _holiday(value: Any, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise RulesError(key, "expected an ISO date string (YYYY-MM-DD)")
    text = value.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise RulesError(key, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _holidays(value: Any) -> frozenset[date]:
    items = _list(value, "holidays", "ISO dates")
    return frozenset(_holiday(item, _key("holidays", i)) for i, item in enumerate(items))


def _holiday_calendar(value: Any) -> str | None:
    code = _optional_string(value, "holiday_calendar")
    if code is None:
        return None
    code = code.upper()
    if code not in holiday_lib.list_supported_countries():
        raise RulesError(
            "holiday_calendar", f"{value!r} is not a country code the holidays package knows"
        )
    return code


def _root_causes(value: Any) -> tuple[str, ...]:
    causes = _words(value, "root_causes", "root causes")
    if not causes:
        raise RulesError("root_causes", "at least one root cause is required")
    if len(causes) > MAX_OPTIONS:
        raise RulesError("root_causes", f"at most {MAX_OPTIONS} root causes fit in a Slack menu")
    seen: set[str] = set()
    for i, cause in enumerate(causes):
        if len(cause) > MAX_OPTION_TEXT:
            raise RulesError(
                _key("root_causes", i), f"longer than {MAX_OPTION_TEXT} characters (Slack's limit)"
            )
        if cause.casefold() in seen:
            raise RulesError(_key("root_causes", i), f"{cause!r} is listed twice")
        seen.add(cause.casefold())
    return causes


def _owner(value: Any, key: str) -> Owner:
    entry = _table(value, key, ("user", "manager", "channel"))
    if "user" not in entry:
        raise RulesError(_key(key, "user"), "required")
    user = _person(entry["user"], _key(key, "user"))
    if user is None:
        raise RulesError(_key(key, "user"), "required")
    return Owner(
        user=user,
        manager=_person(entry.get("manager", ""), _key(key, "manager")),
        channel=_channel(entry.get("channel", ""), _key(key, "channel")),
    )


def _owners(value: Any) -> tuple[Owner, ...]:
    key = "people.owners"
    items = _list(value, key, "owner tables")
    owners = tuple(_owner(item, _key(key, i)) for i, item in enumerate(items))
    first: dict[str, int] = {}
    for i, owner in enumerate(owners):
        previous = first.setdefault(owner.user.casefold(), i)
        if previous != i:
            raise RulesError(_key(_key(key, i), "user"), f"duplicate of {key}[{previous}]")
    return owners


def _people(value: Any) -> People:
    roles = ("cx_lead", "vp_customer_success", "support_lead")
    table = _table(value, "people", (*roles, "default_channel", "owners"))
    persons = {role: _person(table.get(role, ""), _key("people", role)) for role in roles}
    return People(
        **persons,
        default_channel=_channel(table.get("default_channel", ""), "people.default_channel"),
        owners=_owners(table.get("owners", [])),
    )


SLA_DEFAULTS = {
    "detractor": "48h",
    "passive": "5bd",
    "promoter": "7d",
    "resolution": "5bd",
    "resurvey_after": "30d",
}


def _sla(value: Any) -> Sla:
    table = _table(value, "sla", SLA_DEFAULTS)
    return Sla(
        **{
            name: _duration(table.get(name, default), _key("sla", name))
            for name, default in SLA_DEFAULTS.items()
        }
    )


DEFAULT_STEPS = (
    {"after": "24h", "notify": "manager"},
    {"after": "36h", "notify": "cx_lead", "reassign": True},
)


def _notify(value: Any, key: str) -> str:
    text = _string(value, key)
    if text in ROLES or is_person(text):
        return text
    raise RulesError(
        key, f"{value!r} is not a role ({', '.join(ROLES)}), a Slack user id or an email"
    )


def _ordering_length(duration: Duration) -> timedelta:
    """The length used to order steps; a business day counts as one calendar day."""
    if duration.business:
        return timedelta(days=duration.amount)
    return duration.as_timedelta()


def _step(value: Any, key: str) -> EscalationStep:
    entry = _table(value, key, ("after", "notify", "reassign"))
    for required in ("after", "notify"):
        if required not in entry:
            raise RulesError(_key(key, required), "required")
    return EscalationStep(
        after=_duration(entry["after"], _key(key, "after")),
        notify=_notify(entry["notify"], _key(key, "notify")),
        reassign=_bool(entry.get("reassign", False), _key(key, "reassign")),
    )


def _escalation(value: Any) -> tuple[EscalationStep, ...]:
    table = _table(value, "escalation", ("steps",))
    key = "escalation.steps"
    items = _list(table.get("steps", list(DEFAULT_STEPS)), key, "step tables")
    steps = tuple(_step(item, _key(key, i)) for i, item in enumerate(items))
    for i in range(1, len(steps)):
        before, after = steps[i - 1].after, steps[i].after
        if _ordering_length(after) <= _ordering_length(before):
            raise RulesError(
                _key(_key(key, i), "after"),
                f"{after} must be later than {key}[{i - 1}].after ({before})",
            )
    return steps


ROUTING_DEFAULTS = {
    "churn_words": ["cancel", "switch", "competitor", "leaving", "not renew", "churn"],
    "product_words": ["bug", "crash", "feature", "broken", "missing"],
    "service_words": ["support", "ticket", "waiting", "response time", "rude"],
}


def _routing(value: Any) -> Routing:
    table = _table(
        value,
        "routing",
        (*ROUTING_DEFAULTS, "product_channel", "top_revenue_share", "top_revenue_arr"),
    )
    words = {
        name: _words(table.get(name, default), _key("routing", name))
        for name, default in ROUTING_DEFAULTS.items()
    }
    share = _number(table.get("top_revenue_share", 0.2), "routing.top_revenue_share")
    if not 0 < share <= 1:
        raise RulesError("routing.top_revenue_share", f"{share:g} is not in (0, 1]")
    arr = _number(table.get("top_revenue_arr", 0), "routing.top_revenue_arr")
    if arr < 0:
        raise RulesError("routing.top_revenue_arr", "must not be negative")
    return Routing(
        **words,
        product_channel=_channel(table.get("product_channel", ""), "routing.product_channel"),
        top_revenue_share=share,
        top_revenue_arr=arr or None,
    )


def _clock(value: Any, key: str) -> dt.time:
    if isinstance(value, dt.time) and not (value.second or value.microsecond or value.tzinfo):
        return value
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise RulesError(key, f'{value!r} is not a 24-hour time such as "09:00"')
    return dt.time(int(match.group(1)), int(match.group(2)))


def _digest(value: Any) -> Digest:
    table = _table(value, "digest", ("channel", "time"))
    return Digest(
        channel=_channel(table.get("channel", ""), "digest.channel"),
        time=_clock(table.get("time", "09:00"), "digest.time"),
    )


def _kpi(value: Any) -> Kpi:
    table = _table(value, "kpi", ("monthly_cost",))
    cost = _number(table.get("monthly_cost", 0), "kpi.monthly_cost")
    if cost < 0:
        raise RulesError("kpi.monthly_cost", "must not be negative")
    return Kpi(monthly_cost=cost)


def _url(value: Any, key: str) -> str | None:
    text = _optional_string(value, key)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", text):
        raise RulesError(key, f"{text!r} is not an http(s) URL")
    return text


def _resurvey(value: Any) -> Resurvey:
    table = _table(value, "resurvey", ("webhook_url",))
    return Resurvey(webhook_url=_url(table.get("webhook_url", ""), "resurvey.webhook_url"))


def _scheduler(value: Any) -> Scheduler:
    table = _table(value, "scheduler", ("tick",))
    return Scheduler(tick=_duration(table.get("tick", "60s"), "scheduler.tick", business_ok=False))


_SECTIONS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "timezone": (_timezone, "UTC"),
    "business_days": (_business_days, ["mon", "tue", "wed", "thu", "fri"]),
    "holidays": (_holidays, []),
    "holiday_calendar": (_holiday_calendar, ""),
    "root_causes": (
        _root_causes,
        [
            "Onboarding complexity",
            "Billing errors",
            "Slow support response",
            "Missing feature",
            "Product bug",
            "Other",
        ],
    ),
    "templates_dir": (lambda value: _optional_string(value, "templates_dir"), ""),
    "people": (_people, {}),
    "sla": (_sla, {}),
    "escalation": (_escalation, {}),
    "routing": (_routing, {}),
    "digest": (_digest, {}),
    "kpi": (_kpi, {}),
    "resurvey": (_resurvey, {}),
    "scheduler": (_scheduler, {}),
}


def rules_from_mapping(data: Mapping[str, Any]) -> Rules:
    """Validates a parsed rules document, filling in defaults for missing keys."""
    table = _table(data, "", _SECTIONS)
    values = {name: parse(table.get(name, default)) for name, (parse, default) in _SECTIONS.items()}
    values["escalation_steps"] = values.pop("escalation")
    return Rules(**values)


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


# --- writing ----------------------------------------------------------------------------------

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str | None) -> str:
    escaped = "".join(
        _ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
        for ch in text or ""
    )
    return f'"{escaped}"'


def _toml_strings(items: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_string(item) for item in items) + "]"


def _toml_number(value: float | None) -> str:
    number = value or 0.0
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _lines(**values: str) -> list[str]:
    return [f"{name} = {value}" for name, value in values.items()]


def _people_toml(people: People) -> list[str]:
    lines = [
        "[people]",
        *_lines(
            cx_lead=_toml_string(people.cx_lead),
            vp_customer_success=_toml_string(people.vp_customer_success),
            support_lead=_toml_string(people.support_lead),
            default_channel=_toml_string(people.default_channel),
        ),
    ]
    for owner in people.owners:
        lines += [
            "",
            "[[people.owners]]",
            *_lines(
                user=_toml_string(owner.user),
                manager=_toml_string(owner.manager),
                channel=_toml_string(owner.channel),
            ),
        ]
    return lines


def _escalation_toml(steps: tuple[EscalationStep, ...]) -> list[str]:
    if not steps:
        return ["[escalation]", "steps = []"]
    lines: list[str] = []
    for step in steps:
        lines += [
            "[[escalation.steps]]",
            *_lines(
                after=_toml_string(str(step.after)),
                notify=_toml_string(step.notify),
                reassign="true" if step.reassign else "false",
            ),
            "",
        ]
    return lines[:-1]


def rules_to_toml(rules: Rules) -> str:
    """Renders rules as a TOML document that reads back to the same rules."""
    sla = rules.sla
    routing = rules.routing
    sections = [
        _lines(
            timezone=_toml_string(rules.timezone),
            business_days=_toml_strings(DAY_NAMES[d] for d in sorted(rules.business_days)),
            holidays=_toml_strings(d.isoformat() for d in sorted(rules.holidays)),
            holiday_calendar=_toml_string(rules.holiday_calendar),
            root_causes=_toml_strings(rules.root_causes),
            templates_dir=_toml_string(rules.templates_dir),
        ),
        _people_toml(rules.people),
        [
            "[sla]",
            *_lines(**{name: _toml_string(str(getattr(sla, name))) for name in SLA_DEFAULTS}),
        ],
        _escalation_toml(rules.escalation_steps),
        [
            "[routing]",
            *_lines(
                **{name: _toml_strings(getattr(routing, name)) for name in ROUTING_DEFAULTS},
                product_channel=_toml_string(routing.product_channel),
                top_revenue_share=_toml_number(routing.top_revenue_share),
                top_revenue_arr=_toml_number(routing.top_revenue_arr),
            ),
        ],
        [
            "[digest]",
            *_lines(
                channel=_toml_string(rules.digest.channel),
                time=_toml_string(rules.digest.time.strftime("%H:%M")),
            ),
        ],
        ["[kpi]", *_lines(monthly_cost=_toml_number(rules.kpi.monthly_cost))],
        ["[resurvey]", *_lines(webhook_url=_toml_string(rules.resurvey.webhook_url))],
        ["[scheduler]", *_lines(tick=_toml_string(str(rules.scheduler.tick)))],
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"
