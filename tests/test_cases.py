"""Case changes on SQLite and PostgreSQL: compare-and-set, activity, outbox rows, reads."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from bot.config.rules import rules_from_mapping
from bot.services.intake import IntakeWriter, parse_survey, to_response_data
from bot.services.router import Router
from storage import cases
from storage.db import alembic_config, create_db_engine, migrate
from storage.models import Activity, EscalationStep, FollowUpCase, OutboxMessage
from tests.conftest import TEST_RULES, survey_body

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
ALICE = "U0ALICE"
BOB = "U0BOB"
NEW_COLUMNS = {
    "next_follow_up_on",
    "root_cause",
    "root_cause_notes",
    "action_items",
    "resolution_summary",
    "customer_satisfied",
    "resurvey_on",
    "contact_count",
    "last_contact_at",
}


def record(response_id: str, **overrides):
    body = json.dumps(survey_body(response_id, **overrides)).encode()
    return to_response_data(parse_survey(body), received_at=NOW, webhook_id="msg")


def new_case(engine: sa.Engine, response_id: str = "r-1", **overrides) -> int:
    """Store one response through the intake and return its case id."""
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)), clock=lambda: NOW)
    return writer._write([record(response_id, **overrides)])[response_id].case_id


def set_case(engine: sa.Engine, case_id: int, **values) -> None:
    table = FollowUpCase.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == case_id).values(**values))


def written(engine: sa.Engine) -> tuple[int, int]:
    """How many activity and outbox rows exist."""
    with Session(engine) as session:
        activity = len(session.exec(select(Activity)).all())
        outbox = len(session.exec(select(OutboxMessage)).all())
    return activity, outbox


def outbox_for(engine: sa.Engine, activity_id: int) -> list[OutboxMessage]:
    """The outbox rows a change enqueued, in insertion order."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    kinds = ("update:", "thread:", "ticket:", "review:", "dm:", "nudge:")
    return [
        r
        for r in rows
        if r.dedupe_key.startswith(kinds) and r.dedupe_key.endswith(f":{activity_id}")
    ]


def assert_refused(engine: sa.Engine, change: cases.Change, reason: str, before) -> None:
    assert not change.ok
    assert change.reason == reason
    assert change.activity_id is None
    assert written(engine) == before


# --- claim -----------------------------------------------------------------------------------


def test_claim_takes_an_open_case_and_enqueues_the_card_update(engine):
    case_id = new_case(engine)
    change = cases.claim(engine, case_id, actor=ALICE, now=LATER)
    assert change.ok and change.reason is None
    case = change.case
    assert (case.status, case.claimed_by, case.claimed_at) == ("claimed", ALICE, LATER)
    assert case.updated_at == LATER
    assert cases.get_case(engine, case_id).claimed_by == ALICE

    activity = cases.activity_for(engine, change.activity_id)
    assert (activity.case_id, activity.actor, activity.action) == (case_id, ALICE, "claimed")
    assert activity.detail == {}
    assert activity.at == LATER

    rows = outbox_for(engine, change.activity_id)
    assert [(r.kind, r.dedupe_key) for r in rows] == [
        ("card_update", f"update:{case_id}:{change.activity_id}"),
        ("thread", f"thread:{change.activity_id}"),
    ]
    assert [r.payload for r in rows] == [{}, {"activity_id": change.activity_id}]
    assert {(r.priority, r.arr, r.channel, r.status, r.attempts) for r in rows} == {
        (-1, 120000.0, None, "pending", 0)
    }
    assert {(r.next_attempt_at, r.created_at) for r in rows} == {(LATER, LATER)}


def test_outbox_rows_go_to_the_cards_channel_once_it_is_posted(engine):
    case_id = new_case(engine)
    set_case(engine, case_id, card_channel="C0ALICE", card_ts="1700000000.000100")
    change = cases.claim(engine, case_id, actor=ALICE, now=LATER)
    assert {r.channel for r in outbox_for(engine, change.activity_id)} == {"C0ALICE"}


def test_a_second_claim_is_refused_and_writes_nothing(engine):
    case_id = new_case(engine)
    cases.claim(engine, case_id, actor=ALICE, now=NOW)
    before = written(engine)
    again = cases.claim(engine, case_id, actor=BOB, now=LATER)
    assert_refused(engine, again, "already_claimed", before)
    assert again.case.claimed_by == ALICE
    assert cases.get_case(engine, case_id).updated_at == NOW
    same = cases.claim(engine, case_id, actor=ALICE, now=LATER)
    assert_refused(engine, same, "already_claimed", before)


def test_claiming_a_resolved_case_is_refused(engine):
    case_id = new_case(engine)
    cases.mark_done(engine, case_id, actor=ALICE, now=NOW)
    before = written(engine)
    assert_refused(engine, cases.claim(engine, case_id, actor=BOB, now=LATER), "resolved", before)


def test_two_instances_claiming_at_once_make_one_winner(db_url):
    """Two app instances (separate engines) take the same click at the same moment."""
    engines = [create_db_engine(db_url) for _ in range(2)]
    case_id = new_case(engines[0])
    start = threading.Barrier(2)
    results: dict[str, cases.Change] = {}
    errors: list[BaseException] = []

    def run(engine: sa.Engine, actor: str) -> None:
        start.wait()
        try:
            results[actor] = cases.claim(engine, case_id, actor=actor, now=LATER)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(e, actor))
        for e, actor in zip(engines, (ALICE, BOB), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    winners = [actor for actor, change in results.items() if change.ok]
    assert len(winners) == 1
    loser = ({ALICE, BOB} - set(winners)).pop()
    assert results[loser].reason == "already_claimed"
    assert results[loser].case.claimed_by == winners[0]
    claims = [a for a in cases.case_activity(engines[0], case_id) if a.action == "claimed"]
    assert [a.actor for a in claims] == winners
    assert len(outbox_for(engines[0], claims[0].id)) == 2
    assert cases.get_case(engines[0], case_id).claimed_by == winners[0]
    for e in engines:
        e.dispose()


# --- log_contact -----------------------------------------------------------------------------


def test_reaching_the_customer_makes_the_case_contacted(engine):
    case_id = new_case(engine)
    change = cases.log_contact(
        engine,
        case_id,
        actor=ALICE,
        how="phone",
        outcome="reached",
        notes="Promised a call with support.",
        next_follow_up=date(2026, 11, 30),
        now=LATER,
    )
    assert change.ok
    case = change.case
    assert case.status == "contacted"
    assert case.first_contact_at == LATER
    assert case.last_contact_at == LATER
    assert case.contact_count == 1
    assert case.next_follow_up_on == date(2026, 11, 30)
    assert (case.claimed_by, case.claimed_at) == (ALICE, LATER)
    activity = cases.activity_for(engine, change.activity_id)
    assert activity.action == "contact_logged"
    assert activity.detail == {
        "how": "phone",
        "outcome": "reached",
        "notes": "Promised a call with support.",
        "next_follow_up": "2026-11-30",
    }
    assert [r.kind for r in outbox_for(engine, change.activity_id)] == ["card_update", "thread"]

    later = LATER + timedelta(days=1)
    again = cases.log_contact(
        engine,
        case_id,
        actor=BOB,
        how="email",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=later,
    )
    assert again.case.first_contact_at == LATER
    assert again.case.last_contact_at == later
    assert again.case.contact_count == 2
    assert again.case.next_follow_up_on == date(2026, 11, 30)
    assert again.case.claimed_by == ALICE


def test_a_voicemail_counts_as_a_contact_but_not_a_first_contact(engine):
    case_id = new_case(engine)
    change = cases.log_contact(
        engine,
        case_id,
        actor=BOB,
        how="phone",
        outcome="voicemail",
        notes="Left a message.",
        next_follow_up=None,
        now=LATER,
    )
    case = change.case
    assert case.status == "claimed"
    assert case.first_contact_at is None
    assert (case.contact_count, case.last_contact_at) == (1, LATER)
    assert (case.claimed_by, case.claimed_at) == (BOB, LATER)
    assert case.next_follow_up_on is None


def test_a_contact_keeps_an_existing_claim(engine):
    case_id = new_case(engine)
    cases.claim(engine, case_id, actor=ALICE, now=NOW)
    change = cases.log_contact(
        engine,
        case_id,
        actor=BOB,
        how="video",
        outcome="no_answer",
        notes=None,
        next_follow_up=None,
        now=LATER,
    )
    assert (change.case.status, change.case.claimed_by, change.case.claimed_at) == (
        "claimed",
        ALICE,
        NOW,
    )
    reached = cases.log_contact(
        engine,
        case_id,
        actor=BOB,
        how="meeting",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=LATER,
    )
    assert (reached.case.status, reached.case.claimed_by) == ("contacted", ALICE)


@pytest.mark.parametrize(("how", "outcome"), [("fax", "reached"), ("phone", "maybe")])
def test_unknown_contact_methods_and_outcomes_are_rejected(engine, how, outcome):
    case_id = new_case(engine)
    before = written(engine)
    with pytest.raises(ValueError):
        cases.log_contact(
            engine,
            case_id,
            actor=ALICE,
            how=how,
            outcome=outcome,
            notes=None,
            next_follow_up=None,
            now=LATER,
        )
    assert written(engine) == before


def test_no_contact_is_logged_on_a_resolved_case(engine):
    case_id = new_case(engine)
    cases.mark_done(engine, case_id, actor=ALICE, now=NOW)
    before = written(engine)
    change = cases.log_contact(
        engine,
        case_id,
        actor=ALICE,
        how="phone",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=LATER,
    )
    assert_refused(engine, change, "resolved", before)
    assert change.case.contact_count == 0


# --- log_root_cause --------------------------------------------------------------------------


def root_cause(engine, case_id, *, escalation=None, cause="Slow support", now=LATER):
    return cases.log_root_cause(
        engine,
        case_id,
        actor=ALICE,
        cause=cause,
        notes="Three tickets waited over a week.",
        action_items="Weekly check-in with the support lead.",
        next_follow_up=date(2026, 12, 1),
        escalation=escalation,
        now=now,
    )


def test_a_root_cause_is_stored_with_its_notes(engine):
    case_id = new_case(engine)
    change = root_cause(engine, case_id)
    case = change.case
    assert case.root_cause == "Slow support"
    assert case.root_cause_notes == "Three tickets waited over a week."
    assert case.action_items == "Weekly check-in with the support lead."
    assert case.next_follow_up_on == date(2026, 12, 1)
    assert case.status == "open"
    activity = cases.activity_for(engine, change.activity_id)
    assert activity.action == "root_cause_logged"
    assert activity.detail == {
        "cause": "Slow support",
        "notes": "Three tickets waited over a week.",
        "action_items": "Weekly check-in with the support lead.",
        "next_follow_up": "2026-12-01",
        "escalation": None,
    }
    assert [r.kind for r in outbox_for(engine, change.activity_id)] == ["card_update", "thread"]


@pytest.mark.parametrize(
    ("escalation", "kind", "prefix"),
    [("product", "ticket", "ticket"), ("support", "support_review", "review")],
)
def test_an_escalation_enqueues_its_own_delivery(engine, escalation, kind, prefix):
    case_id = new_case(engine)
    set_case(engine, case_id, card_channel="C0ALICE")
    change = root_cause(engine, case_id, escalation=escalation)
    rows = outbox_for(engine, change.activity_id)
    assert [r.kind for r in rows] == ["card_update", "thread", kind]
    extra = rows[2]
    assert extra.dedupe_key == f"{prefix}:{change.activity_id}"
    assert extra.payload == {"activity_id": change.activity_id}
    assert (extra.priority, extra.channel, extra.case_id) == (-1, None, case_id)


@pytest.mark.parametrize(
    ("cause", "escalation"), [("x" * 101, None), ("  ", None), ("Price", "legal")]
)
def test_bad_root_cause_entries_are_rejected(engine, cause, escalation):
    case_id = new_case(engine)
    before = written(engine)
    with pytest.raises(ValueError):
        root_cause(engine, case_id, cause=cause, escalation=escalation)
    assert written(engine) == before


def test_no_root_cause_is_logged_on_a_resolved_case(engine):
    case_id = new_case(engine)
    cases.mark_done(engine, case_id, actor=ALICE, now=NOW)
    before = written(engine)
    assert_refused(engine, root_cause(engine, case_id, escalation="product"), "resolved", before)


# --- resolve ---------------------------------------------------------------------------------


def resolve(engine, case_id, *, root_cause=None, now=LATER):
    return cases.resolve(
        engine,
        case_id,
        actor=ALICE,
        summary="Support SLA restored; customer happy with the plan.",
        satisfied=True,
        root_cause=root_cause,
        resurvey_on=date(2027, 2, 1),
        now=now,
    )


def test_resolving_needs_a_root_cause(engine):
    case_id = new_case(engine)
    before = written(engine)
    change = resolve(engine, case_id)
    assert_refused(engine, change, "root_cause_required", before)
    assert change.case.status == "open"
    assert_refused(engine, resolve(engine, case_id, root_cause="  "), "root_cause_required", before)


def test_a_root_cause_given_with_the_resolution_is_enough(engine):
    case_id = new_case(engine)
    change = resolve(engine, case_id, root_cause="Pricing")
    assert change.ok
    case = change.case
    assert (case.status, case.resolved_at, case.root_cause) == ("resolved", LATER, "Pricing")
    assert case.resolution_summary == "Support SLA restored; customer happy with the plan."
    assert case.customer_satisfied is True
    assert case.resurvey_on == date(2027, 2, 1)
    activity = cases.activity_for(engine, change.activity_id)
    assert activity.action == "resolved"
    assert activity.detail == {
        "summary": "Support SLA restored; customer happy with the plan.",
        "satisfied": True,
        "root_cause": "Pricing",
        "resurvey_on": "2027-02-01",
    }
    assert [r.kind for r in outbox_for(engine, change.activity_id)] == ["card_update", "thread"]


def test_a_logged_root_cause_lets_the_case_resolve_and_is_kept(engine):
    case_id = new_case(engine)
    root_cause(engine, case_id, now=NOW)
    change = resolve(engine, case_id)
    assert change.ok
    assert change.case.root_cause == "Slow support"
    assert change.case.status == "resolved"


def test_a_resolved_case_cannot_be_resolved_again(engine):
    case_id = new_case(engine)
    resolve(engine, case_id, root_cause="Pricing", now=NOW)
    before = written(engine)
    change = resolve(engine, case_id, root_cause="Other")
    assert_refused(engine, change, "resolved", before)
    assert change.case.root_cause == "Pricing"
    assert change.case.resolved_at == NOW


# --- mark_done -------------------------------------------------------------------------------


def test_done_closes_a_case_without_a_first_contact(engine):
    case_id = new_case(engine, score=9)
    change = cases.mark_done(engine, case_id, actor=ALICE, now=LATER)
    assert change.ok
    assert (change.case.status, change.case.resolved_at) == ("resolved", LATER)
    assert change.case.first_contact_at is None
    activity = cases.activity_for(engine, change.activity_id)
    assert (activity.action, activity.detail) == ("done", {})
    assert [r.kind for r in outbox_for(engine, change.activity_id)] == ["card_update", "thread"]
    before = written(engine)
    again = cases.mark_done(engine, case_id, actor=ALICE, now=LATER)
    assert_refused(engine, again, "resolved", before)


# --- reassign --------------------------------------------------------------------------------


def test_reassigning_releases_a_claim_and_tells_the_new_owner(engine):
    case_id = new_case(engine)
    set_case(engine, case_id, owner_user_id=ALICE, card_channel="C0ALICE")
    cases.claim(engine, case_id, actor=ALICE, now=NOW)
    change = cases.reassign(engine, case_id, actor="U0MANAGER", new_owner=BOB, now=LATER)
    assert change.ok
    case = change.case
    assert (case.owner_user_id, case.owner_ref) == (BOB, BOB)
    assert (case.status, case.claimed_by, case.claimed_at) == ("open", None, None)
    activity = cases.activity_for(engine, change.activity_id)
    assert (activity.actor, activity.action) == ("U0MANAGER", "reassigned")
    assert activity.detail == {"from": ALICE, "to": BOB}
    rows = outbox_for(engine, change.activity_id)
    assert [(r.kind, r.channel) for r in rows] == [
        ("card_update", "C0ALICE"),
        ("thread", "C0ALICE"),
        ("dm", BOB),
    ]
    assert rows[2].dedupe_key == f"dm:{change.activity_id}"
    assert rows[2].payload == {"activity_id": change.activity_id, "template": "reassigned"}
    assert rows[2].priority == -1


def test_reassigning_a_contacted_case_keeps_it_contacted(engine):
    case_id = new_case(engine)
    cases.log_contact(
        engine,
        case_id,
        actor=ALICE,
        how="phone",
        outcome="reached",
        notes=None,
        next_follow_up=None,
        now=NOW,
    )
    change = cases.reassign(engine, case_id, actor=ALICE, new_owner=BOB, now=LATER)
    assert (change.case.status, change.case.claimed_by) == ("contacted", ALICE)
    assert change.case.first_contact_at == NOW
    detail = cases.activity_for(engine, change.activity_id).detail
    assert detail == {"from": "alice@example.com", "to": BOB}


def test_reassigning_to_the_same_owner_or_a_resolved_case_is_refused(engine):
    case_id = new_case(engine)
    set_case(engine, case_id, owner_user_id=ALICE)
    before = written(engine)
    same = cases.reassign(engine, case_id, actor=ALICE, new_owner=ALICE, now=LATER)
    assert_refused(engine, same, "same_owner", before)
    cases.mark_done(engine, case_id, actor=ALICE, now=NOW)
    before = written(engine)
    done = cases.reassign(engine, case_id, actor=ALICE, new_owner=BOB, now=LATER)
    assert_refused(engine, done, "resolved", before)
    assert done.case.owner_user_id == ALICE


# --- nudge ------------------------------------------------------------------------------------


def test_a_nudge_sends_the_owner_a_dm(engine):
    case_id = new_case(engine)
    set_case(engine, case_id, owner_user_id=ALICE)
    change = cases.nudge(engine, case_id, actor="U0MANAGER", now=LATER)
    assert change.ok
    assert (change.case.status, change.case.updated_at) == ("open", LATER)
    activity = cases.activity_for(engine, change.activity_id)
    assert (activity.actor, activity.action, activity.detail) == (
        "U0MANAGER",
        "nudged",
        {"to": ALICE},
    )
    rows = outbox_for(engine, change.activity_id)
    assert [(r.kind, r.channel) for r in rows] == [
        ("card_update", None),
        ("thread", None),
        ("nudge", ALICE),
    ]
    assert rows[2].dedupe_key == f"nudge:{change.activity_id}"
    assert rows[2].payload == {"activity_id": change.activity_id}
    cases.mark_done(engine, case_id, actor=ALICE, now=LATER)
    before = written(engine)
    refused = cases.nudge(engine, case_id, actor="U0MANAGER", now=LATER)
    assert_refused(engine, refused, "resolved", before)


# --- the escalation ladder -------------------------------------------------------------------


def live_ladder(engine: sa.Engine, case_id: int) -> list[EscalationStep]:
    with Session(engine) as session:
        steps = session.exec(
            select(EscalationStep).where(
                EscalationStep.case_id == case_id, EscalationStep.kind == "ladder"
            )
        ).all()
    return [s for s in steps if s.cancelled_at is None and s.fired_at is None]


def test_picking_a_case_up_stops_its_ladder(engine):
    noted, claimed, reached, done = (new_case(engine, f"r-{i}") for i in range(4))
    assert all(live_ladder(engine, c) for c in (noted, claimed, reached, done))
    root_cause(engine, noted)
    cases.reassign(engine, noted, actor=ALICE, new_owner=BOB, now=LATER)
    assert live_ladder(engine, noted)
    cases.claim(engine, claimed, actor=ALICE, now=LATER)
    cases.log_contact(
        engine,
        reached,
        actor=ALICE,
        how="email",
        outcome="voicemail",
        notes=None,
        next_follow_up=None,
        now=LATER,
    )
    cases.mark_done(engine, done, actor=ALICE, now=LATER)
    for case_id in (claimed, reached, done):
        assert live_ladder(engine, case_id) == []
    with Session(engine) as session:
        stopped = session.exec(
            select(EscalationStep).where(EscalationStep.case_id == claimed)
        ).all()
    assert {s.cancelled_at for s in stopped if s.kind == "ladder"} == {LATER}


# --- missing cases and reads -----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda e: cases.claim(e, 999, actor=ALICE, now=NOW),
        lambda e: cases.log_contact(
            e,
            999,
            actor=ALICE,
            how="phone",
            outcome="reached",
            notes=None,
            next_follow_up=None,
            now=NOW,
        ),
        lambda e: root_cause(e, 999),
        lambda e: resolve(e, 999, root_cause="Pricing"),
        lambda e: cases.mark_done(e, 999, actor=ALICE, now=NOW),
        lambda e: cases.reassign(e, 999, actor=ALICE, new_owner=BOB, now=NOW),
        lambda e: cases.nudge(e, 999, actor="U0MANAGER", now=NOW),
    ],
    ids=["claim", "log_contact", "log_root_cause", "resolve", "mark_done", "reassign", "nudge"],
)
def test_changes_to_a_missing_case_are_refused(engine, change):
    new_case(engine)
    before = written(engine)
    result = change(engine)
    assert_refused(engine, result, "not_found", before)
    assert result.case is None


def test_reads_of_cases_and_activity(engine):
    case_id = new_case(engine)
    assert cases.get_case(engine, 999) is None
    assert cases.activity_for(engine, 999) is None
    claimed = cases.claim(engine, case_id, actor=ALICE, now=NOW)
    done = cases.mark_done(engine, case_id, actor=ALICE, now=LATER)
    history = cases.case_activity(engine, case_id)
    assert [a.action for a in history] == ["received", "claimed", "done"]
    assert [a.id for a in history[1:]] == [claimed.activity_id, done.activity_id]
    assert cases.case_activity(engine, 999) == []
    case = cases.get_case(engine, case_id)
    assert (case.status, case.contact_count, case.resolved_at) == ("resolved", 0, LATER)


# --- open_cases_for --------------------------------------------------------------------------


def test_open_cases_come_overdue_first_then_by_arr(engine):
    def account(n: int, arr: float | None) -> dict:
        return {"id": f"a-{n}", "name": f"Account {n}", "arr": arr, "owner": "alice@example.com"}

    ids = {
        "small_overdue": new_case(engine, "r-1", account=account(1, 1000)),
        "big": new_case(engine, "r-2", account=account(2, 500000)),
        "mid": new_case(engine, "r-3", account=account(3, 50000)),
        "no_arr": new_case(engine, "r-4", account=account(4, None)),
        "big_overdue": new_case(engine, "r-5", account=account(5, 900000)),
        "contacted_late": new_case(engine, "r-6", account=account(6, 2000000)),
        "claimed_by_alice": new_case(engine, "r-7", account=account(7, 100)),
        "bobs": new_case(engine, "r-8", account=account(8, 5000000)),
        "resolved": new_case(engine, "r-9", account=account(9, 9000000)),
    }
    due_later = NOW + timedelta(days=2)
    due_before = NOW - timedelta(hours=1)
    for name, case_id in ids.items():
        overdue = name.endswith("overdue") or name == "contacted_late"
        owner = BOB if name in ("bobs", "claimed_by_alice") else ALICE
        set_case(
            engine,
            case_id,
            owner_user_id=owner,
            contact_due_at=due_before if overdue else due_later,
        )
    set_case(engine, ids["contacted_late"], first_contact_at=NOW - timedelta(minutes=5))
    set_case(engine, ids["claimed_by_alice"], status="claimed", claimed_by=ALICE)
    set_case(engine, ids["resolved"], status="resolved", resolved_at=NOW)
    set_case(engine, ids["big"], card_channel="C0ALICE", card_ts="1.2")

    rows = cases.open_cases_for(engine, ALICE, now=NOW)
    names = {case_id: name for name, case_id in ids.items()}
    assert [names[r.case_id] for r in rows] == [
        "big_overdue",
        "small_overdue",
        "contacted_late",
        "big",
        "mid",
        "claimed_by_alice",
        "no_arr",
    ]
    assert [r.overdue for r in rows] == [True, True, False, False, False, False, False]
    big = rows[3]
    assert (big.account_name, big.customer_name, big.arr) == ("Account 2", "Dana Reyes", 500000)
    assert (big.segment, big.score, big.status) == ("detractor", 3, "open")
    assert (big.card_channel, big.card_ts, big.contact_due_at) == ("C0ALICE", "1.2", due_later)

    assert [names[r.case_id] for r in cases.open_cases_for(engine, ALICE, now=NOW, limit=2)] == [
        "big_overdue",
        "small_overdue",
    ]
    assert [names[r.case_id] for r in cases.open_cases_for(engine, BOB, now=NOW)] == [
        "bobs",
        "claimed_by_alice",
    ]
    assert cases.open_cases_for(engine, "U0NOBODY", now=NOW) == []


def test_open_cases_tie_on_arr_oldest_first(engine):
    first = new_case(engine, "r-1")
    second = new_case(engine, "r-2")
    set_case(engine, first, received_at=NOW, owner_user_id=ALICE)
    set_case(engine, second, received_at=NOW - timedelta(days=1), owner_user_id=ALICE)
    rows = cases.open_cases_for(engine, ALICE, now=NOW - timedelta(days=30))
    assert [r.case_id for r in rows] == [second, first]


# --- migration 0002 --------------------------------------------------------------------------


def case_columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("follow_up_case")}


def test_migration_0002_up_and_down_keeps_the_cases(fresh_engine):
    migrate(fresh_engine, "0001")
    assert not NEW_COLUMNS & case_columns(fresh_engine)
    migrate(fresh_engine, "0002")
    assert case_columns(fresh_engine) >= NEW_COLUMNS
    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []

    case_id = new_case(fresh_engine)
    cases.log_contact(
        fresh_engine,
        case_id,
        actor=ALICE,
        how="phone",
        outcome="voicemail",
        notes=None,
        next_follow_up=date(2026, 12, 1),
        now=LATER,
    )
    command.downgrade(alembic_config(fresh_engine), "0001")
    assert not NEW_COLUMNS & case_columns(fresh_engine)
    with fresh_engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT id, status, claimed_by FROM follow_up_case")).all()
        children = conn.execute(sa.text("SELECT COUNT(*) FROM activity")).scalar_one()
    assert [tuple(row) for row in kept] == [(case_id, "claimed", ALICE)]
    assert children == 2

    migrate(fresh_engine, "0002")
    with fresh_engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT contact_count, root_cause, next_follow_up_on FROM follow_up_case")
        ).one()
    assert tuple(row) == (0, None, None)
    migrate(fresh_engine)
    assert cases.get_case(fresh_engine, case_id).contact_count == 0
