"""Tests for the rules file: durations, defaults, validation messages and TOML round trips."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.config.fields import (
    AnyDuration,
    ChannelId,
    ClockDuration,
    Email,
    HttpUrl,
    Person,
    problems,
)
from bot.config.rules import (
    DEFAULT_RULES,
    Digest,
    EscalationStep,
    Kpi,
    Owner,
    People,
    Resurvey,
    Routing,
    Rules,
    RulesError,
    Scheduler,
    Sla,
    load_rules,
    rules_from_mapping,
    rules_to_toml,
)
from bot.config.toml_out import to_toml
from bot.domain.durations import Duration, parse_duration

EXAMPLE = Path(__file__).resolve().parent.parent / "nps-bot.example.toml"

CUSTOM_TOML = """
timezone = "America/New_York"
business_days = ["Monday", "tue", "WED", "thu"]
holidays = ["2026-12-24", 2026-12-31]
holiday_calendar = "us"
root_causes = ["Pricing", "Onboarding \\"fast track\\"", "Back\\\\slash", "Tab\\there", "Ünïcode ✓"]
templates_dir = "/etc/nps-bot/templates"

[people]
cx_lead = "U0CXLEAD"
vp_customer_success = "vp@example.com"
support_lead = "W0SUPPORT"
default_channel = "C0CARDS"

[[people.owners]]
user = "Alice@Example.com"
manager = "U0MANAGER"
channel = "G0ALICE"

[[people.owners]]
user = "U0BOB"

[sla]
detractor = "12h"
passive = "3bd"
promoter = "14d"
resolution = "90m"
resurvey_after = "45d"

[[escalation.steps]]
after = "2h"
notify = "support_lead"

[[escalation.steps]]
after = "1bd"
notify = "ops@example.com"
reassign = true

[[escalation.steps]]
after = "3d"
notify = "U0BOSS"

[routing]
churn_words = ["terminate", "go elsewhere"]
product_words = []
service_words = ["slow"]
product_channel = "C0PRODUCT"
top_revenue_share = 0.35
top_revenue_arr = 250000.5

[digest]
channel = "C0DIGEST"
time = 07:30:00

[kpi]
monthly_cost = 1234.56

[resurvey]
webhook_url = "https://example.com/hook?x=1"

[scheduler]
tick = "15m"
"""


def parse(text: str) -> Rules:
    """Rules from a TOML snippet."""
    return rules_from_mapping(tomllib.loads(text))


def error_for(text: str) -> str:
    """The message of the RulesError a TOML snippet raises: one "key: reason" line per problem."""
    with pytest.raises(RulesError) as info:
        parse(text)
    return str(info.value)


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit", "business"),
    [
        ("90s", 90, "s", False),
        ("15m", 15, "m", False),
        ("24h", 24, "h", False),
        ("7d", 7, "d", False),
        ("5bd", 5, "bd", True),
        ("1bd", 1, "bd", True),
        (" 48h ", 48, "h", False),
        ("007d", 7, "d", False),
    ],
)
def test_parse_duration(text: str, amount: int, unit: str, business: bool) -> None:
    duration = parse_duration(text)
    assert duration == Duration(amount, unit)
    assert duration.business is business
    assert str(duration) == f"{amount}{unit}"


@pytest.mark.parametrize(
    "text", ["", "5", "h", "5x", "0h", "0bd", "-1h", "1.5h", "5 h", "5H", "5b", "5dd", "1w", "5db"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(48)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (Duration(90, "s"), timedelta(seconds=90)),
        (Duration(15, "m"), timedelta(minutes=15)),
        (Duration(24, "h"), timedelta(hours=24)),
        (Duration(7, "d"), timedelta(days=7)),
    ],
)
def test_as_timedelta(duration: Duration, expected: timedelta) -> None:
    assert duration.as_timedelta() == expected


def test_business_days_have_no_timedelta() -> None:
    with pytest.raises(ValueError, match="business days"):
        Duration(5, "bd").as_timedelta()


@pytest.mark.parametrize(("amount", "unit"), [(0, "h"), (-1, "d"), (1, "w"), (True, "h"), (1, "")])
def test_duration_rejects_bad_fields(amount: int, unit: str) -> None:
    with pytest.raises(ValueError):
        Duration(amount, unit)


def test_duration_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Duration(1, "h").amount = 2  # type: ignore[misc]


# --- defaults ---------------------------------------------------------------------------------


def test_defaults() -> None:
    expected = Rules(
        timezone="UTC",
        business_days=frozenset({0, 1, 2, 3, 4}),
        holidays=frozenset(),
        holiday_calendar=None,
        root_causes=(
            "Onboarding complexity",
            "Billing errors",
            "Slow support response",
            "Missing feature",
            "Product bug",
            "Other",
        ),
        templates_dir=None,
        people=People(None, None, None, None, ()),
        sla=Sla(
            detractor=Duration(48, "h"),
            passive=Duration(5, "bd"),
            promoter=Duration(7, "d"),
            resolution=Duration(5, "bd"),
            resurvey_after=Duration(30, "d"),
        ),
        escalation_steps=(
            EscalationStep(Duration(24, "h"), "manager", False),
            EscalationStep(Duration(36, "h"), "cx_lead", True),
        ),
        routing=Routing(
            churn_words=("cancel", "switch", "competitor", "leaving", "not renew", "churn"),
            product_words=("bug", "crash", "feature", "broken", "missing"),
            service_words=("support", "ticket", "waiting", "response time", "rude"),
            product_channel=None,
            top_revenue_share=0.2,
            top_revenue_arr=None,
        ),
        digest=Digest(channel=None, time=time(9, 0)),
        kpi=Kpi(monthly_cost=0.0),
        resurvey=Resurvey(webhook_url=None),
        scheduler=Scheduler(tick=Duration(60, "s")),
    )
    assert expected == DEFAULT_RULES


def test_empty_mapping_and_none_path_give_defaults() -> None:
    assert rules_from_mapping({}) == DEFAULT_RULES
    assert load_rules(None) is DEFAULT_RULES


@pytest.mark.parametrize(
    "text",
    [
        "[people]\n[sla]\n[escalation]\n[routing]\n[digest]\n[kpi]\n[resurvey]\n[scheduler]\n",
        'holiday_calendar = ""\ntemplates_dir = ""\n[people]\ncx_lead = ""\ndefault_channel = ""\n'
        '[routing]\nproduct_channel = ""\ntop_revenue_arr = 0\n[digest]\nchannel = ""\n'
        '[resurvey]\nwebhook_url = ""\n',
    ],
)
def test_empty_tables_and_strings_mean_defaults(text: str) -> None:
    assert parse(text) == DEFAULT_RULES


def test_tzinfo() -> None:
    assert DEFAULT_RULES.tzinfo == ZoneInfo("UTC")
    assert parse('timezone = "Europe/Copenhagen"').tzinfo == ZoneInfo("Europe/Copenhagen")


def test_rules_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RULES.timezone = "Europe/Paris"  # type: ignore[misc]


# --- a fully customised file ------------------------------------------------------------------


def test_custom_values() -> None:
    rules = parse(CUSTOM_TOML)
    assert rules.timezone == "America/New_York"
    assert rules.business_days == frozenset({0, 1, 2, 3})
    assert rules.holidays == frozenset({date(2026, 12, 24), date(2026, 12, 31)})
    assert rules.holiday_calendar == "US"
    assert rules.root_causes[1] == 'Onboarding "fast track"'
    assert rules.templates_dir == "/etc/nps-bot/templates"
    assert rules.people == People(
        cx_lead="U0CXLEAD",
        vp_customer_success="vp@example.com",
        support_lead="W0SUPPORT",
        default_channel="C0CARDS",
        owners=(Owner("Alice@Example.com", "U0MANAGER", "G0ALICE"), Owner("U0BOB", None, None)),
    )
    assert rules.sla == Sla(
        Duration(12, "h"),
        Duration(3, "bd"),
        Duration(14, "d"),
        Duration(90, "m"),
        Duration(45, "d"),
    )
    assert rules.escalation_steps == (
        EscalationStep(Duration(2, "h"), "support_lead", False),
        EscalationStep(Duration(1, "bd"), "ops@example.com", True),
        EscalationStep(Duration(3, "d"), "U0BOSS", False),
    )
    assert rules.routing == Routing(
        churn_words=("terminate", "go elsewhere"),
        product_words=(),
        service_words=("slow",),
        product_channel="C0PRODUCT",
        top_revenue_share=0.35,
        top_revenue_arr=250000.5,
    )
    assert rules.digest == Digest("C0DIGEST", time(7, 30))
    assert rules.kpi == Kpi(1234.56)
    assert rules.resurvey == Resurvey("https://example.com/hook?x=1")
    assert rules.scheduler == Scheduler(Duration(15, "m"))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("alice@example.com", Owner("Alice@Example.com", "U0MANAGER", "G0ALICE")),
        ("ALICE@EXAMPLE.COM", Owner("Alice@Example.com", "U0MANAGER", "G0ALICE")),
        (" Alice@Example.com ", Owner("Alice@Example.com", "U0MANAGER", "G0ALICE")),
        ("u0bob", Owner("U0BOB", None, None)),
        ("U0CAROL", None),
        ("", None),
    ],
)
def test_owner_entry(ref: str, expected: Owner | None) -> None:
    assert parse(CUSTOM_TOML).people.owner_entry(ref) == expected


def test_escalation_can_be_turned_off() -> None:
    assert parse("[escalation]\nsteps = []").escalation_steps == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[digest]\ntime = "9:05"', time(9, 5)),
        ('[digest]\ntime = "23:59"', time(23, 59)),
        ('[digest]\ntime = "00:00"', time(0, 0)),
        ("[digest]\ntime = 18:15:00", time(18, 15)),
    ],
)
def test_digest_time(text: str, expected: time) -> None:
    assert parse(text).digest.time == expected


@pytest.mark.parametrize(
    ("text", "share", "arr"),
    [
        ("[routing]\ntop_revenue_share = 1", 1.0, None),
        ("[routing]\ntop_revenue_share = 0.05", 0.05, None),
        ("[routing]\ntop_revenue_arr = 100000", 0.2, 100000.0),
    ],
)
def test_top_revenue_settings(text: str, share: float, arr: float | None) -> None:
    routing = parse(text).routing
    assert (routing.top_revenue_share, routing.top_revenue_arr) == (share, arr)


@pytest.mark.parametrize(
    "steps",
    [
        ["24h", "36h"],
        ["90s", "15m", "1h", "2d"],
        ["1bd", "2bd", "5bd"],
        ["12h", "2bd"],
        ["1bd", "36h"],
    ],
)
def test_increasing_steps_are_accepted(steps: list[str]) -> None:
    text = "".join(f'[[escalation.steps]]\nafter = "{s}"\nnotify = "manager"\n' for s in steps)
    assert [str(s.after) for s in parse(text).escalation_steps] == steps


# --- error messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        # unknown keys, at every level
        ('slaa = "x"', "slaa", "unknown key"),
        ("[slaa]", "slaa", "unknown key"),
        ('[sla]\npasive = "5bd"', "sla.pasive", "unknown key"),
        ('[people]\ncx = "U0X"', "people.cx", "unknown key"),
        ('[[people.owners]]\nuser = "U0A"\nmgr = "U0B"', "people.owners[0].mgr", "unknown key"),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = "manager"\nto = "x"',
            "escalation.steps[0].to",
            "unknown key",
        ),
        ("[escalation]\nladder = []", "escalation.ladder", "unknown key"),
        ("[routing]\nwords = []", "routing.words", "unknown key"),
        ('[digest]\nwhen = "09:00"', "digest.when", "unknown key"),
        ("[kpi]\ncost = 1", "kpi.cost", "unknown key"),
        ('[resurvey]\nurl = ""', "resurvey.url", "unknown key"),
        ('[scheduler]\nevery = "1m"', "scheduler.every", "unknown key"),
        # durations
        (
            '[sla]\npassive = "5x"',
            "sla.passive",
            "'5x' is not a duration (use 90s, 15m, 24h, 7d or 5bd)",
        ),
        ('[sla]\ndetractor = "0h"', "sla.detractor", "is not a duration"),
        ("[sla]\npromoter = 7", "sla.promoter", "expected a duration string"),
        ('[sla]\nresolution = "1.5d"', "sla.resolution", "is not a duration"),
        ('[sla]\nresurvey_after = ""', "sla.resurvey_after", "is not a duration"),
        ('[scheduler]\ntick = "1bd"', "scheduler.tick", "business days are not allowed"),
        ('[scheduler]\ntick = "soon"', "scheduler.tick", "is not a duration"),
        # types
        ('business_days = "mon"', "business_days", "expected a list of day names"),
        ("business_days = [1, 2]", "business_days[0]", "expected a string"),
        ("timezone = 1", "timezone", "expected a string"),
        ('holidays = "2026-12-25"', "holidays", "expected a list of ISO dates"),
        ("holidays = [20261225]", "holidays[0]", "expected an ISO date string"),
        ("holidays = [2026-12-25T10:00:00]", "holidays[0]", "expected an ISO date string"),
        ('root_causes = "Other"', "root_causes", "expected a list of root causes"),
        ('templates_dir = ["a"]', "templates_dir", "expected a string"),
        ('people = "U0X"', "people", "expected a table"),
        ("[people]\ncx_lead = 5", "people.cx_lead", "expected a string"),
        ('[people]\nowners = "alice@example.com"', "people.owners", "expected a list of owner"),
        ('[people]\nowners = ["alice@example.com"]', "people.owners[0]", "expected a table"),
        ('sla = "48h"', "sla", "expected a table"),
        ('escalation = "none"', "escalation", "expected a table"),
        ('[escalation]\nsteps = "24h"', "escalation.steps", "expected a list of step tables"),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = "manager"\nreassign = "yes"',
            "escalation.steps[0].reassign",
            "expected true or false",
        ),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = 7',
            "escalation.steps[0].notify",
            "expected a string",
        ),
        ('[routing]\nchurn_words = "cancel"', "routing.churn_words", "expected a list of words"),
        ('[routing]\nproduct_words = ["bug", 3]', "routing.product_words[1]", "expected a string"),
        ('[routing]\nservice_words = ["  "]', "routing.service_words[0]", "must not be empty"),
        ('[routing]\ntop_revenue_share = "20%"', "routing.top_revenue_share", "expected a number"),
        ("[routing]\ntop_revenue_share = true", "routing.top_revenue_share", "expected a number"),
        ("[routing]\ntop_revenue_arr = nan", "routing.top_revenue_arr", "expected a finite number"),
        ("[digest]\ntime = 900", "digest.time", "is not a 24-hour time"),
        ('[kpi]\nmonthly_cost = "100"', "kpi.monthly_cost", "expected a number"),
        ("[resurvey]\nwebhook_url = 1", "resurvey.webhook_url", "expected a string"),
        ("[scheduler]\ntick = 60", "scheduler.tick", "expected a duration string"),
        # values
        ('timezone = "Mars/Olympus_Mons"', "timezone", "is not a known IANA time zone"),
        ('timezone = ""', "timezone", "is not a known IANA time zone"),
        ('timezone = "../etc/passwd"', "timezone", "is not a known IANA time zone"),
        ('business_days = ["mon", "funday"]', "business_days[1]", "'funday' is not a day name"),
        ("business_days = []", "business_days", "at least one business day"),
        ('holidays = ["2026-12-25", "2026-13-01"]', "holidays[1]", "is not an ISO date"),
        ('holidays = ["25/12/2026"]', "holidays[0]", "is not an ISO date"),
        ('holidays = ["20261225"]', "holidays[0]", "is not an ISO date"),
        ('holiday_calendar = "XX"', "holiday_calendar", "is not a country code"),
        ("root_causes = []", "root_causes", "at least one root cause"),
        ('root_causes = ["Billing", "billing"]', "root_causes[1]", "is listed twice"),
        (f'root_causes = ["{"x" * 76}"]', "root_causes[0]", "longer than 75 characters"),
        ('root_causes = ["a", ""]', "root_causes[1]", "must not be empty"),
        ('[people]\ncx_lead = "alice"', "people.cx_lead", "is not a Slack user id"),
        (
            '[people]\nvp_customer_success = "@vp"',
            "people.vp_customer_success",
            "is not a Slack user id",
        ),
        ('[people]\nsupport_lead = "u0lower"', "people.support_lead", "is not a Slack user id"),
        ('[people]\nsupport_lead = "C0CHANNEL"', "people.support_lead", "is not a Slack user id"),
        (
            '[people]\ndefault_channel = "#cards"',
            "people.default_channel",
            "is not a Slack channel id",
        ),
        (
            '[people]\ndefault_channel = "U0USER"',
            "people.default_channel",
            "is not a Slack channel id",
        ),
        ('[[people.owners]]\nmanager = "U0B"', "people.owners[0].user", "required"),
        ('[[people.owners]]\nuser = ""', "people.owners[0].user", "required"),
        (
            '[[people.owners]]\nuser = "U0A"\n[[people.owners]]\nuser = "bob"',
            "people.owners[1].user",
            "is not a Slack user id",
        ),
        (
            '[[people.owners]]\nuser = "U0A"\nmanager = "boss"',
            "people.owners[0].manager",
            "is not a Slack user id",
        ),
        (
            '[[people.owners]]\nuser = "U0A"\nchannel = "general"',
            "people.owners[0].channel",
            "is not a Slack channel id",
        ),
        (
            '[[people.owners]]\nuser = "a@x.io"\n[[people.owners]]\nuser = "A@X.IO"',
            "people.owners[1].user",
            "duplicate of people.owners[0]",
        ),
        ('[[escalation.steps]]\nnotify = "manager"', "escalation.steps[0].after", "required"),
        ('[[escalation.steps]]\nafter = "1h"', "escalation.steps[0].notify", "required"),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = "ceo"',
            "escalation.steps[0].notify",
            "'ceo' is not a role",
        ),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = "manager"\n'
            '[[escalation.steps]]\nafter = "1x"\nnotify = "cx_lead"',
            "escalation.steps[1].after",
            "is not a duration",
        ),
        (
            '[[escalation.steps]]\nafter = "24h"\nnotify = "manager"\n'
            '[[escalation.steps]]\nafter = "12h"\nnotify = "cx_lead"',
            "escalation.steps[1].after",
            "12h must be later than escalation.steps[0].after (24h)",
        ),
        (
            '[[escalation.steps]]\nafter = "24h"\nnotify = "manager"\n'
            '[[escalation.steps]]\nafter = "1d"\nnotify = "cx_lead"',
            "escalation.steps[1].after",
            "must be later",
        ),
        (
            '[[escalation.steps]]\nafter = "2bd"\nnotify = "manager"\n'
            '[[escalation.steps]]\nafter = "2d"\nnotify = "cx_lead"',
            "escalation.steps[1].after",
            "must be later",
        ),
        (
            '[[escalation.steps]]\nafter = "1h"\nnotify = "manager"\n'
            '[[escalation.steps]]\nafter = "2h"\nnotify = "cx_lead"\n'
            '[[escalation.steps]]\nafter = "2h"\nnotify = "U0VP"',
            "escalation.steps[2].after",
            "must be later",
        ),
        (
            '[routing]\nproduct_channel = "product"',
            "routing.product_channel",
            "is not a Slack channel id",
        ),
        ("[routing]\ntop_revenue_share = 0", "routing.top_revenue_share", "is not in (0, 1]"),
        ("[routing]\ntop_revenue_share = 1.5", "routing.top_revenue_share", "is not in (0, 1]"),
        ("[routing]\ntop_revenue_share = -0.1", "routing.top_revenue_share", "is not in (0, 1]"),
        ("[routing]\ntop_revenue_arr = -1", "routing.top_revenue_arr", "must not be negative"),
        ('[digest]\nchannel = "digest"', "digest.channel", "is not a Slack channel id"),
        ('[digest]\ntime = "24:00"', "digest.time", "is not a 24-hour time"),
        ('[digest]\ntime = "09:60"', "digest.time", "is not a 24-hour time"),
        ('[digest]\ntime = "9am"', "digest.time", "is not a 24-hour time"),
        ("[digest]\ntime = 09:00:30", "digest.time", "is not a 24-hour time"),
        ("[kpi]\nmonthly_cost = -5", "kpi.monthly_cost", "must not be negative"),
        ("[kpi]\nmonthly_cost = inf", "kpi.monthly_cost", "expected a finite number"),
        (
            '[resurvey]\nwebhook_url = "ftp://example.com/x"',
            "resurvey.webhook_url",
            "is not an http(s) URL",
        ),
        (
            '[resurvey]\nwebhook_url = "example.com/hook"',
            "resurvey.webhook_url",
            "is not an http(s) URL",
        ),
        ('[resurvey]\nwebhook_url = "https://"', "resurvey.webhook_url", "is not an http(s) URL"),
    ],
)
def test_errors_name_the_key(text: str, key: str, reason: str) -> None:
    first = error_for(text).splitlines()[0]
    assert first.startswith(f"{key}: "), first
    assert reason in first


def test_error_has_key_and_reason() -> None:
    with pytest.raises(RulesError) as info:
        parse('[sla]\npassive = "5x"')
    assert info.value.key == "sla.passive"
    assert info.value.reason == "'5x' is not a duration (use 90s, 15m, 24h, 7d or 5bd)"
    assert str(info.value) == "sla.passive: '5x' is not a duration (use 90s, 15m, 24h, 7d or 5bd)"
    assert isinstance(info.value, ValueError)


def test_top_level_must_be_a_table() -> None:
    with pytest.raises(RulesError, match=r"^\(top level\): expected a table$"):
        rules_from_mapping(["timezone"])  # type: ignore[arg-type]


# --- several problems at once -----------------------------------------------------------------

MANY_PROBLEMS = """
timezone = "Mars/Olympus_Mons"
business_days = ["mon", 3, "funday"]
colour = "blue"

[people]
cx_lead = "alice"

[[people.owners]]
manager = "U0BOSS"

[sla]
detractor = "2 days"
passive = 5

[[escalation.steps]]
after = "1h"
notify = "ceo"

[routing]
top_revenue_share = 2
top_revenue_arr = -1

[digest]
time = "25:00"

[scheduler]
tick = "1bd"
"""


def test_every_problem_in_the_file_is_reported() -> None:
    with pytest.raises(RulesError) as info:
        parse(MANY_PROBLEMS)
    assert info.value.problems == [
        ("timezone", "'Mars/Olympus_Mons' is not a known IANA time zone"),
        ("business_days[1]", "expected a string"),
        ("business_days[2]", "'funday' is not a day name (mon, tue, wed, thu, fri, sat, sun)"),
        ("people.cx_lead", "'alice' is not a Slack user id (U... or W...) or an email"),
        ("people.owners[0].user", "required"),
        ("sla.detractor", "'2 days' is not a duration (use 90s, 15m, 24h, 7d or 5bd)"),
        ("sla.passive", 'expected a duration string such as "48h" (use 90s, 15m, 24h, 7d or 5bd)'),
        (
            "escalation.steps[0].notify",
            "'ceo' is not a role (manager, cx_lead, vp_customer_success, support_lead), "
            "a Slack user id or an email",
        ),
        ("routing.top_revenue_share", "2 is not in (0, 1]"),
        ("routing.top_revenue_arr", "must not be negative"),
        ("digest.time", "'25:00' is not a 24-hour time such as \"09:00\""),
        ("scheduler.tick", "'1bd': business days are not allowed here"),
        ("colour", "unknown key"),
    ]
    assert (info.value.key, info.value.reason) == info.value.problems[0]
    assert str(info.value).splitlines() == [f"{k}: {r}" for k, r in info.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'root_causes = ["Billing", "Pricing", "billing", "PRICING"]',
            [
                ("root_causes[2]", "'billing' is listed twice"),
                ("root_causes[3]", "'PRICING' is listed twice"),
            ],
        ),
        (
            'root_causes = ["", "ok", "  "]',
            [("root_causes[0]", "must not be empty"), ("root_causes[2]", "must not be empty")],
        ),
        (
            "".join(f'[[people.owners]]\nuser = "{u}"\n' for u in ["U0A", "u0x@x.io", "U0A"])
            + '[[people.owners]]\nuser = "U0X@X.IO"\n',
            [
                ("people.owners[2].user", "duplicate of people.owners[0]"),
                ("people.owners[3].user", "duplicate of people.owners[1]"),
            ],
        ),
        (
            "".join(
                f'[[escalation.steps]]\nafter = "{after}"\nnotify = "manager"\n'
                for after in ["3h", "2h", "1h"]
            ),
            [
                (
                    "escalation.steps[1].after",
                    "2h must be later than escalation.steps[0].after (3h)",
                ),
                (
                    "escalation.steps[2].after",
                    "1h must be later than escalation.steps[1].after (2h)",
                ),
            ],
        ),
        (
            'holidays = ["2026-02-30", 5, "2026-12-24"]',
            [
                ("holidays[0]", "'2026-02-30' is not an ISO date (YYYY-MM-DD)"),
                ("holidays[1]", "expected an ISO date string (YYYY-MM-DD)"),
            ],
        ),
    ],
    ids=["duplicate-causes", "empty-causes", "duplicate-owners", "late-steps", "holidays"],
)
def test_every_problem_in_a_list_is_reported(text: str, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(RulesError) as info:
        parse(text)
    assert info.value.problems == expected


def test_a_long_value_is_not_repeated_in_full() -> None:
    with pytest.raises(RulesError) as info:
        parse(f'timezone = "{"x" * 5000}"')
    assert info.value.key == "timezone"
    assert len(str(info.value)) < 120


def test_the_python_name_of_the_ladder_is_not_a_file_key() -> None:
    with pytest.raises(RulesError) as info:
        parse("escalation_steps = []")
    assert info.value.problems == [("escalation_steps", "unknown key")]


def test_rules_error_of_one_problem() -> None:
    error = RulesError("sla.passive", "required")
    assert error.problems == [("sla.passive", "required")]
    assert (error.key, error.reason, str(error)) == (
        "sla.passive",
        "required",
        "sla.passive: required",
    )


# --- files ------------------------------------------------------------------------------------


def test_load_rules_from_file(tmp_path: Path) -> None:
    path = tmp_path / "nps-bot.toml"
    path.write_text(CUSTOM_TOML, encoding="utf-8")
    assert load_rules(path) == parse(CUSTOM_TOML)
    assert load_rules(str(path)) == parse(CUSTOM_TOML)


def test_load_rules_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert str(info.value) == f"{path}: file not found"


def test_load_rules_directory(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"cannot read"):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b'timezone = "UTC',
        b"[sla\n",
        b'timezone = "UTC"\ntimezone = "UTC"\n',
        b"= 3\n",
    ],
)
def test_load_rules_invalid_toml(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}: invalid TOML: ")
    assert info.value.key == str(path)


def test_load_rules_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('root_causes = ["Fakturafejl på ordre"]'.encode("latin-1"))
    with pytest.raises(RulesError, match=r"invalid TOML: the file is not UTF-8"):
        load_rules(path)


def test_load_rules_validation_error_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "nps-bot.toml"
    path.write_text('[sla]\ndetractor = "2 days"\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"^sla\.detractor: "):
        load_rules(path)


def test_example_file_parses() -> None:
    rules = load_rules(EXAMPLE)
    assert rules.timezone == "Europe/Copenhagen"
    assert rules.holiday_calendar == "DK"
    assert rules.people.cx_lead == "U0CXLEAD"
    assert rules.people.default_channel == "C0CARDS"
    assert rules.people.owners
    assert len(rules.escalation_steps) >= 2
    assert rules.resurvey.webhook_url is not None


def test_example_file_sets_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    rendered = tomllib.loads(rules_to_toml(DEFAULT_RULES))
    assert set(data) == set(rendered)
    for section, table in rendered.items():
        if isinstance(table, dict):
            assert set(data[section]) >= set(table) - {"owners"}, section


# --- rendering --------------------------------------------------------------------------------


def custom_rules_with_empty_ladder() -> Rules:
    """A customised rule set that turns escalation off."""
    return dataclasses.replace(parse(CUSTOM_TOML), escalation_steps=())


@pytest.mark.parametrize(
    "rules",
    [
        DEFAULT_RULES,
        parse(CUSTOM_TOML),
        load_rules(EXAMPLE),
        custom_rules_with_empty_ladder(),
        dataclasses.replace(
            DEFAULT_RULES,
            root_causes=("Line\nbreak", "Nul\x00and\x7fdel", "Quote ' and \"", "\u00e9\u2713"),
            kpi=Kpi(1e20),
            routing=dataclasses.replace(DEFAULT_RULES.routing, top_revenue_share=1 / 3),
        ),
    ],
    ids=["defaults", "custom", "example", "no-escalation", "awkward-values"],
)
def test_rules_to_toml_round_trips(rules: Rules) -> None:
    text = rules_to_toml(rules)
    assert rules_from_mapping(tomllib.loads(text)) == rules


def test_rules_to_toml_is_readable() -> None:
    text = rules_to_toml(DEFAULT_RULES)
    assert 'timezone = "UTC"' in text
    assert 'business_days = ["mon", "tue", "wed", "thu", "fri"]' in text
    assert 'passive = "5bd"' in text
    assert "[[escalation.steps]]" in text
    assert "top_revenue_share = 0.2" in text
    assert "top_revenue_arr = 0" in text
    assert 'time = "09:00"' in text
    assert 'tick = "60s"' in text


def test_rules_to_toml_renders_disabled_escalation() -> None:
    text = rules_to_toml(custom_rules_with_empty_ladder())
    assert "[escalation]\nsteps = []" in text
    assert "[[escalation.steps]]" not in text


# --- the model behind the rules ---------------------------------------------------------------


def test_equal_rules_hash_alike() -> None:
    first, second = parse(CUSTOM_TOML), parse(CUSTOM_TOML)
    assert first is not second
    assert hash(first) == hash(second)
    assert len({first, second, DEFAULT_RULES}) == 2


def test_code_built_rules_take_built_values_and_are_checked() -> None:
    weekend = dataclasses.replace(DEFAULT_RULES, business_days=frozenset({5, 6}))
    assert 'business_days = ["sat", "sun"]' in rules_to_toml(weekend)
    with pytest.raises(ValueError, match="is not a known IANA time zone"):
        dataclasses.replace(DEFAULT_RULES, timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="must be later than"):
        dataclasses.replace(DEFAULT_RULES, escalation_steps=DEFAULT_RULES.escalation_steps[::-1])


def test_to_toml_writes_nested_tables_and_table_arrays() -> None:
    document = {
        "name": "x",
        "sources": [
            {"name": "typeform", "score_field": "score", "fields": {"email": "hidden.email"}},
            {"name": "delighted", "tags": ["a", "b"], "retry": {"limit": 3, "on": True}},
        ],
        "empty": {},
        "section": {"ratio": 0.5, "inner": {"when": "09:00"}, "odd key": None},
    }
    text = to_toml(document)
    assert "[[sources]]" in text
    assert "[sources.fields]" in text
    assert tomllib.loads(text) == {
        **document,
        "section": {"ratio": 0.5, "inner": {"when": "09:00"}, "odd key": ""},
    }


# --- shared field types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "good", "bad", "reason"),
    [
        (Person, ["U0ABC", "W0ABC", "a@b.co"], ["u0abc", "C0ABC", "a@b", "@x.io"], "Slack user id"),
        (ChannelId, ["C0ABC", "G0ABC", "D0ABC"], ["#general", "U0ABC", "c0abc"], "channel id"),
        (Email, ["a@b.co", "first.last@example.com"], ["a@b", "a b@c.io", "U0ABC"], "email"),
        (
            HttpUrl,
            ["https://x.io/h?q=1", "http://127.0.0.1:9/"],
            ["ftp://x.io", "x.io", "https://"],
            "http(s) URL",
        ),
        (AnyDuration, ["90s", "5bd"], ["5x", "0h", "1.5h"], "is not a duration"),
        (ClockDuration, ["90s", "2d"], ["1bd"], "business days are not allowed"),
    ],
)
def test_field_types(kind: object, good: list[str], bad: list[str], reason: str) -> None:
    adapter = TypeAdapter(kind)
    for value in good:
        assert str(adapter.validate_python(f" {value} ")) == value
    for value in bad:
        with pytest.raises(ValidationError) as info:
            adapter.validate_python(value)
        assert problems(info.value)[0][0] == "(top level)"
        assert reason in problems(info.value)[0][1], value
    assert adapter.json_schema()["type"] == "string"


def test_field_types_refuse_non_strings() -> None:
    for kind in (Person, ChannelId, Email, HttpUrl):
        with pytest.raises(ValidationError) as info:
            TypeAdapter(kind).validate_python(5)
        assert problems(info.value) == [("(top level)", "expected a string")]


def test_kpi_windows_a_cost_table_and_themes_read_and_write_back() -> None:
    rules = parse(
        '[kpi]\nrecovery_window = ["14d", "60d"]\nchurn_window = "120d"\n'
        '[kpi.monthly_cost]\n"2026-11" = 4500\n"2026-10" = 4000\n'
        '[[themes]]\nname = "Billing errors"\nowner = "U0FIN"\nmandate = "Invoices right."\n'
        '[review]\nchannel = "C0REVIEW"\n'
    )
    assert rules.kpi.monthly_cost == (("2026-10", 4000.0), ("2026-11", 4500.0))
    assert [str(d) for d in rules.kpi.recovery_window] == ["14d", "60d"]
    assert str(rules.kpi.churn_window) == "120d"
    assert rules.themes[0].owner == "U0FIN" and rules.review.channel == "C0REVIEW"
    assert parse(rules_to_toml(rules)) == rules


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[kpi]\nmonthly_cost = { "2026-13" = 1 }', "kpi.monthly_cost", "is not a month"),
        ('[kpi]\nmonthly_cost = { "2026-10" = -1 }', "kpi.monthly_cost", "must not be negative"),
        ('[kpi]\nrecovery_window = ["90d", "30d"]', "kpi.recovery_window", "must be longer"),
        ('[kpi]\nrecovery_window = ["30d"]', "kpi.recovery_window", "expected two durations"),
        ('[kpi]\nchurn_window = "5bd"', "kpi.churn_window", "business days"),
        ('[[themes]]\nname = "Weather"\nowner = "U0X"', "themes[0].name", "not one of"),
        (
            '[[themes]]\nname = "Other"\nowner = "U0X"\n[[themes]]\nname = "other"\nowner = "U0Y"',
            "themes[1].name",
            "listed twice",
        ),
    ],
)
def test_bad_kpi_windows_costs_and_themes_are_refused(text: str, key: str, reason: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse(text)
    assert caught.value.key == key and reason in caught.value.reason
