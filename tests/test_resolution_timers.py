"""The resolution deadline with an injected clock, on both databases: one reminder a business day
before it, the manager told once when it passes, the card saying so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from blocks.card import card_blocks
from storage import cases
from storage.case_view import case_view
from tests.test_timers import RULES, T0, Clock, case, make_case, outbox, timers


def contacted(engine, case_id: int, at: datetime) -> None:
    cases.log_contact(
        engine, case_id, actor="U0ALICE", how="phone", outcome="reached", notes=None,
        next_follow_up=None, now=at,
    )  # fmt: skip


def test_reminder_a_business_day_before_then_the_manager_once(engine):
    case_id = make_case(engine, "r-1", score=2, comment="slow", rules=RULES)
    due = case(engine, case_id).resolution_due_at
    # Contact deadline Wed 08:00 (48h), resolution 5bd later: Wed 08:00 next week.
    assert due == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    clock = Clock(T0 + timedelta(hours=1))
    contacted(engine, case_id, clock.now)
    sweep = timers(engine, clock)

    clock.now = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)  # Tue, a minute early
    assert sweep.tick().resolutions == 0
    clock.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert sweep.tick().resolutions == 1
    assert sweep.tick().resolutions == 0
    [reminder] = outbox(engine, "resolution_reminder")
    assert reminder.channel == "U0ALICE"
    assert outbox(engine, "resolution_overdue") == []

    view = case_view(engine, case_id)
    text = str([b.to_dict() for b in card_blocks(view, now=clock.now)])
    assert "Resolve by:" in text and "resolution overdue" not in text

    clock.now = due + timedelta(seconds=1)
    assert sweep.tick().resolutions == 1
    assert sweep.tick().resolutions == 0
    assert len(outbox(engine, "resolution_overdue")) == 1
    assert case(engine, case_id).resolution_overdue_at == clock.now
    view = case_view(engine, case_id)
    assert "resolution overdue" in str([b.to_dict() for b in card_blocks(view, now=clock.now)])


def test_uncontacted_resolved_and_non_detractor_cases_have_no_resolution_timers(engine):
    waiting = make_case(engine, "r-1", score=2, comment="slow", rules=RULES)
    passive = make_case(engine, "r-2", score=8, customer={"id": "c-2", "name": "B"}, rules=RULES)
    contacted(engine, passive, T0 + timedelta(hours=1))
    sweep = timers(engine, Clock(T0 + timedelta(days=30)))
    assert sweep.tick().resolutions == 0
    assert case(engine, waiting).resolution_overdue_at is None
    assert outbox(engine, "resolution_reminder") == []


def test_the_reminder_skips_weekends_back_to_friday(engine):
    from bot.config.rules import DEFAULT_RULES
    from bot.domain.calendar import Calendar

    monday = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    friday = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    assert Calendar.from_rules(DEFAULT_RULES).business_day_before(monday) == friday
