"""Timers with an injected clock, on both databases: the ladder, breaches, reminders, re-surveys,
catch-up after downtime, several replicas, and the auditor."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.config.rules import rules_from_mapping
from bot.delivery.slack import UserDirectory
from bot.services.intake import IntakeWriter, parse_survey, to_response_data
from bot.services.router import Router
from bot.services.timers import Timers
from storage import cases
from storage import timers as store
from storage.db import create_db_engine
from storage.models import Activity, EscalationStep, FollowUpCase, OutboxMessage
from storage.slack_users import SlackUserCache
from tests.conftest import TEST_RULES, survey_body

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class NoSlack:
    """A directory for rules that name people by Slack id only: it never calls Slack."""

    def resolve(self, ref, *, now):
        assert "@" not in (ref or ""), "tests name people by id"
        return ref


def make_case(engine, response_id="r-1", *, rules=TEST_RULES, at=T0, **overrides) -> int:
    body = survey_body(response_id, **overrides)
    body["account"]["owner"] = body["account"].get("owner", "U0ALICE")
    if body["account"]["owner"] == "alice@example.com":
        body["account"]["owner"] = "U0ALICE"
    record = to_response_data(
        parse_survey(json.dumps(body).encode()), received_at=at, webhook_id="m"
    )
    writer = IntakeWriter(engine, Router(rules_from_mapping(rules)), clock=lambda: at)
    return writer._write([record])[response_id].case_id


RULES = {
    **TEST_RULES,
    "people": {
        **TEST_RULES["people"],
        "owners": [{"user": "U0ALICE", "manager": "U0MANAGER", "channel": "C0ALICE"}],
    },
}


def timers(engine, clock, rules=RULES) -> Timers:
    return Timers(engine, rules_from_mapping(rules), NoSlack(), clock=clock)


def outbox(engine, kind: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            ).all()
        )


def case(engine, case_id: int) -> FollowUpCase:
    return cases.get_case(engine, case_id)


def test_the_ladder_fires_each_step_once_at_its_time(engine):
    case_id = make_case(engine, comment="Slow and buggy")  # no churn words: 48h deadline
    clock = Clock(T0 + timedelta(hours=23, minutes=59))
    sweep = timers(engine, clock)
    assert sweep.tick().fired == 0

    clock.now = T0 + timedelta(hours=24)
    assert sweep.tick().fired == 1
    [dm] = outbox(engine, "escalation")
    assert dm.channel == "U0MANAGER"
    assert sweep.tick().fired == 0  # never twice

    clock.now = T0 + timedelta(hours=36)
    assert sweep.tick().fired == 1
    second = outbox(engine, "escalation")[-1]
    assert second.channel == "U0CXLEAD"
    assert case(engine, case_id).owner_user_id == "U0CXLEAD"  # the CX lead takes the case
    with Session(engine) as session:
        actions = session.exec(select(Activity.action).where(Activity.case_id == case_id)).all()
    assert actions.count("escalated") == 2
    assert len(outbox(engine, "thread")) == 2  # the thread says who was told, each time
    assert len(outbox(engine, "card_update")) == 1  # the card changes with its owner only


def test_no_escalation_once_claimed(engine):
    case_id = make_case(engine)
    cases.claim(engine, case_id, actor="U0ALICE", now=T0 + timedelta(hours=1))
    clock = Clock(T0 + timedelta(hours=72))
    assert timers(engine, clock).tick().fired == 0
    assert outbox(engine, "escalation") == []
    with Session(engine) as session:
        steps = session.exec(select(EscalationStep).where(EscalationStep.kind == "ladder")).all()
    assert steps and all(s.cancelled_at is not None and s.fired_at is None for s in steps)


def test_no_escalation_once_a_contact_is_logged(engine):
    case_id = make_case(engine)
    cases.log_contact(
        engine,
        case_id,
        actor="U0BOB",
        how="phone",
        outcome="voicemail",
        notes=None,
        next_follow_up=None,
        now=T0 + timedelta(hours=2),
    )
    assert timers(engine, Clock(T0 + timedelta(hours=72))).tick().fired == 0


def test_downtime_catches_up_once_and_says_it_is_late(engine):
    make_case(engine, comment="Slow and buggy")
    clock = Clock(T0 + timedelta(hours=40))  # the bot was down through both steps
    report = timers(engine, clock).tick()
    assert report.fired == 2
    with Session(engine) as session:
        details = [
            a.detail for a in session.exec(select(Activity).where(Activity.action == "escalated"))
        ]
    assert sorted(d["late_seconds"] for d in details) == [4 * 3600, 16 * 3600]
    assert timers(engine, clock).tick().fired == 0


def test_the_policy_frozen_on_the_case_decides_its_steps(engine):
    make_case(engine, comment="Slow and buggy")  # default ladder: 24h, 36h
    faster = {**RULES, "escalation": {"steps": [{"after": "1h", "notify": "cx_lead"}]}}
    clock = Clock(T0 + timedelta(hours=2))
    assert timers(engine, clock, rules=faster).tick().fired == 0
    make_case(engine, "r-2", rules=faster, comment="Slow and buggy")
    assert timers(engine, clock, rules=faster).tick().fired == 1  # the new case only


def test_two_replicas_never_double_a_step(db_url):
    engines = [create_db_engine(db_url) for _ in range(2)]
    for i in range(20):
        make_case(engines[0], f"r-{i}", comment="Slow", customer={"id": f"c-{i}", "name": "C"})
    clock = Clock(T0 + timedelta(hours=40))
    sweeps = [timers(e, clock) for e in engines]
    start = threading.Barrier(2)
    fired: list[int] = []
    errors: list[BaseException] = []

    def run(sweep: Timers) -> None:
        start.wait()
        try:
            for _ in range(3):
                fired.append(sweep.tick().fired)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sweeps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(fired) == 40
    keys = [row.dedupe_key for row in outbox(engines[0], "escalation")]
    assert len(keys) == len(set(keys)) == 40
    for e in engines:
        e.dispose()


def test_a_missed_deadline_shows_overdue_once(engine):
    case_id = make_case(engine, comment="Slow and buggy")
    other = make_case(engine, "r-2", customer={"id": "c-2", "name": "Sam"}, comment="Slow")
    cases.log_contact(
        engine,
        other,
        actor="U0ALICE",
        how="phone",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=T0 + timedelta(hours=1),
    )
    clock = Clock(T0 + timedelta(hours=47))
    assert timers(engine, clock).tick().breaches == 0
    clock.now = T0 + timedelta(hours=48, seconds=1)
    assert timers(engine, clock).tick().breaches == 1
    assert case(engine, case_id).overdue_at == clock.now
    assert case(engine, other).overdue_at is None
    assert timers(engine, clock).tick().breaches == 0


def test_passive_deadline_runs_on_business_days(engine):
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    case_id = make_case(engine, score=8, comment="ok", at=friday)
    due = case(engine, case_id).contact_due_at
    assert due == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # 5 business days: next Friday
    assert timers(engine, Clock(due - timedelta(seconds=1))).tick().breaches == 0
    assert timers(engine, Clock(due + timedelta(seconds=1))).tick().breaches == 1


def test_follow_up_reminder_on_the_morning_in_the_rules_time_zone(engine):
    rules = {**RULES, "timezone": "America/New_York"}
    case_id = make_case(engine, rules=rules)
    day = date(2026, 11, 25)
    cases.log_contact(
        engine,
        case_id,
        actor="U0ALICE",
        how="phone",
        outcome="reached",
        notes=None,
        next_follow_up=day,
        now=T0 + timedelta(hours=1),
    )
    early = datetime(2026, 11, 25, 13, 59, tzinfo=UTC)  # 08:59 in New York
    assert timers(engine, Clock(early), rules).tick().reminders == 0
    nine = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert timers(engine, Clock(nine), rules).tick().reminders == 1
    assert timers(engine, Clock(nine + timedelta(hours=1)), rules).tick().reminders == 0
    [reminder] = outbox(engine, "reminder")
    assert reminder.channel == "U0ALICE"
    assert reminder.payload["on"] == "2026-11-25"


def test_resurvey_after_resolution_once_with_the_platform_webhook(engine):
    rules = {**RULES, "resurvey": {"webhook_url": "https://survey.example/resurvey"}}
    case_id = make_case(engine, rules=rules)
    cases.resolve(
        engine,
        case_id,
        actor="U0ALICE",
        summary="Fixed",
        satisfied=True,
        root_cause="Billing errors",
        resurvey_on=date(2026, 12, 23),
        now=T0 + timedelta(days=2),
    )
    assert (
        timers(engine, Clock(datetime(2026, 12, 22, 12, tzinfo=UTC)), rules).tick().resurveys == 0
    )
    clock = Clock(datetime(2026, 12, 23, 9, tzinfo=UTC))
    assert timers(engine, clock, rules).tick().resurveys == 1
    assert timers(engine, clock, rules).tick().resurveys == 0
    assert [r.channel for r in outbox(engine, "resurvey")] == ["U0ALICE"]
    assert len(outbox(engine, "resurvey_webhook")) == 1


def test_a_later_response_is_the_recovery_score(engine):
    case_id = make_case(engine, score=2)
    cases.resolve(
        engine,
        case_id,
        actor="U0ALICE",
        summary="Fixed",
        satisfied=True,
        root_cause="Billing errors",
        resurvey_on=None,
        now=T0 + timedelta(days=1),
    )
    make_case(engine, "r-2", score=9, comment="Much better", at=T0 + timedelta(days=35))
    resolved = case(engine, case_id)
    assert (resolved.recovery_score, resolved.recovery_response_id) == (9, "r-2")


def test_resurvey_of_links_explicitly(engine):
    first = make_case(engine, score=1)
    cases.resolve(
        engine,
        first,
        actor="U0ALICE",
        summary="Fixed",
        satisfied=False,
        root_cause="Product bug",
        resurvey_on=None,
        now=T0 + timedelta(days=1),
    )
    make_case(
        engine,
        "r-9",
        score=7,
        comment="ok",
        resurvey_of="r-1",
        customer={"id": "c-other", "name": "Other"},
        at=T0 + timedelta(days=40),
    )
    assert case(engine, first).recovery_score == 7


def test_auditor_reports_a_stuck_scheduler(engine):
    make_case(engine, comment="Slow")
    clock = Clock(T0 + timedelta(hours=25))
    sweep = timers(engine, clock)
    assert sweep.oldest_overdue() == timedelta(hours=1)
    sweep.tick()
    assert sweep.oldest_overdue() is None


def test_daily_jobs_run_once_per_day_across_replicas(db_url):
    engines = [create_db_engine(db_url) for _ in range(2)]
    day = date(2026, 11, 23)
    won = [store.claim_daily_job(e, "digest", day, now=T0) for e in engines]
    assert sorted(won) == [False, True]
    assert store.claim_daily_job(engines[0], "digest", day + timedelta(days=1), now=T0)
    for e in engines:
        e.dispose()


def test_timers_resolve_people_by_email_through_the_directory(engine, fake_slack):
    from bot.delivery.slack import make_client

    fake_slack.users["manager@example.com"] = "U0MGR"
    rules = {
        **RULES,
        "people": {
            **RULES["people"],
            "owners": [{"user": "U0ALICE", "manager": "manager@example.com"}],
        },
    }
    make_case(engine, rules=rules, comment="Slow")
    directory = UserDirectory(make_client("xoxb-test", fake_slack.url), SlackUserCache(engine))
    sweep = Timers(
        engine, rules_from_mapping(rules), directory, clock=Clock(T0 + timedelta(hours=24))
    )
    assert sweep.tick().fired == 1
    assert outbox(engine, "escalation")[0].channel == "U0MGR"


def test_step_index_covers_the_sweep(engine):
    with engine.connect() as conn:
        names = {i["name"] for i in sa.inspect(conn).get_indexes("escalation_step")}
    assert "ix_step_due_unfired" in names


def test_an_escalation_fired_while_slack_was_down_finds_its_person_later(engine, fake_slack):
    from bot.delivery.outbox import OutboxWorker
    from bot.delivery.slack import make_client

    class Down:
        def resolve(self, ref, *, now):
            raise ConnectionError("Slack is unreachable")

    fake_slack.users["manager@example.com"] = "U0MGR"
    rules = {
        **RULES,
        "people": {
            **RULES["people"],
            "owners": [{"user": "U0ALICE", "manager": "manager@example.com"}],
        },
    }
    make_case(engine, rules=rules, comment="Slow")
    clock = Clock(T0 + timedelta(hours=24))
    sweep = Timers(engine, rules_from_mapping(rules), Down(), clock=clock)
    assert sweep.tick().fired == 1  # the step fires; who it goes to is settled when sent
    [row] = outbox(engine, "escalation")
    assert row.channel is None
    worker = OutboxWorker(
        engine,
        make_client("xoxb-test", fake_slack.url, rate_limit_retries=0),
        rules_from_mapping(rules),
        channel_interval=0,
        clock=clock,
    )
    worker.run_once()
    assert any(c.args["channel"] == "U0MGR" for c in fake_slack.calls_to("chat.postMessage"))
