"""The outcome figures on both databases: recovery inside its window, churn over its window,
the program's ROI from its parts, contact rates per segment, and costs by month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.costs import program_cost
from bot.domain.vocabulary import Segment
from storage.kpi import NO_BASELINE, kpi_summary
from storage.measures import Ratio
from storage.outcomes import Windows
from tests.test_reports import END, START, add, at, event, reached, resolved, set_case

LATER = datetime(2027, 3, 1, tzinfo=UTC)
OCTOBER = (("2026-10", 10_000.0),)


def test_only_re_survey_answers_inside_the_window_count_for_recovery(engine):
    early = add(engine, "d-1", score=2, received=at(10, 1), account="A")
    set_case(engine, early, recovery_score=9, recovered_at=at(10, 3))  # two days after
    inside = add(engine, "d-2", score=3, received=at(10, 2), account="B")
    set_case(engine, inside, recovery_score=8, recovered_at=at(11, 15))  # 44 days
    low = add(engine, "d-3", score=4, received=at(10, 3), account="C")
    set_case(engine, low, recovery_score=4, recovered_at=at(11, 20))  # inside, not recovered
    edge = add(engine, "d-4", score=5, received=at(10, 4), account="D")
    set_case(engine, edge, recovery_score=10, recovered_at=at(10, 4) + timedelta(days=90))
    late = add(engine, "d-5", score=1, received=at(10, 5), account="E")
    set_case(engine, late, recovery_score=9, recovered_at=datetime(2027, 1, 10, tzinfo=UTC))

    kpi = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=0)
    # Inside [30d, 90d]: d-2 (8), d-3 (4) and d-4 (10, exactly 90 days); recovered: d-2, d-4.
    assert kpi.score_recovery == Ratio(2, 3)
    # d-1 two days after and d-5 97 days after are kept and shown, not counted.
    assert kpi.recovery_outside == 2
    wide = Windows(recovery=(timedelta(days=1), timedelta(days=120)))
    everything = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=0, windows=wide)
    assert everything.score_recovery == Ratio(4, 5) and everything.recovery_outside == 0


def test_a_renewal_the_program_did_not_earn_gives_no_credit(engine):
    # X: contacted, never resolved nor re-surveyed, renewed at 980,000. Counting every renewal
    # of a contacted account gave 980,000 / 10,000 = 98:1.
    x = add(engine, "d-x", score=2, received=at(10, 2), account="X", arr=980_000)
    reached(engine, x, at(10, 2, 5))
    event(engine, "X", "renewed", at(12, 1), arr=980_000)
    # Y: resolved with the customer satisfied, still a customer: 40,000 retained.
    y = add(engine, "d-y", score=3, received=at(10, 3), account="Y", arr=40_000)
    reached(engine, y, at(10, 3, 5))
    resolved(engine, y, at(10, 6), satisfied=True)
    # Z: re-surveyed 9 inside the window, but churned within 90 days: nothing retained.
    z = add(engine, "d-z", score=4, received=at(10, 4), account="Z", arr=70_000)
    reached(engine, z, at(10, 4, 5))
    set_case(engine, z, recovery_score=9, recovered_at=at(11, 10))
    event(engine, "Z", "churned", at(12, 20))
    # The baseline: two Detractor accounts never contacted; U1 churned within 90 days, U2
    # after them (not counted).
    add(engine, "d-u1", score=1, received=at(10, 5), account="U1", arr=10_000)
    add(engine, "d-u2", score=1, received=at(10, 6), account="U2", arr=10_000)
    event(engine, "U1", "churned", at(11, 4))
    event(engine, "U2", "churned", datetime(2027, 2, 10, tzinfo=UTC))

    kpi = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=OCTOBER)
    assert kpi.churn_contacted == Ratio(1, 3)  # Z of X, Y, Z
    assert kpi.churn_uncontacted == Ratio(1, 2)  # U1 of U1, U2
    assert kpi.baseline_churn == 0.5
    assert kpi.retained_arr == 40_000 and kpi.recovered_accounts == 1
    assert kpi.program_cost == 10_000 and kpi.cost_missing is None
    # 40,000 x 50% / 10,000: a modest 2:1, not 98:1.
    assert kpi.roi == pytest.approx(2.0)


def test_roi_says_which_part_is_missing(engine):
    y = add(engine, "d-y", score=3, received=at(10, 3), account="Y", arr=40_000)
    reached(engine, y, at(10, 3, 5))
    resolved(engine, y, at(10, 6), satisfied=True)
    no_baseline = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=1000)
    assert no_baseline.retained_arr == 40_000
    assert no_baseline.roi is None and no_baseline.roi_missing == NO_BASELINE
    add(engine, "d-u", score=1, received=at(10, 5), account="U", arr=10_000)
    november = (("2026-11", 1000.0),)
    gap = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=november)
    assert gap.roi is None and gap.roi_missing == "no cost for 2026-10 in `kpi.monthly_cost`"


def test_contact_rates_within_the_deadline_for_every_segment(engine):
    passive = add(engine, "p-1", score=7, received=at(10, 2), account="A")
    reached(engine, passive, at(10, 2, 5))  # deadline is received + 24 h: on time
    late = add(engine, "p-2", score=8, received=at(10, 3), account="B")
    reached(engine, late, at(10, 6))
    promoter = add(engine, "q-1", score=10, received=at(10, 4), account="C")
    reached(engine, promoter, at(10, 4, 1))
    add(engine, "q-2", score=9, received=at(10, 31, 23), account="D")  # not yet due
    kpi = kpi_summary(engine, start=START, end=END, now=at(11, 1), monthly_cost=0)
    rates = dict(kpi.segment_contact)
    assert rates[Segment.PASSIVE] == Ratio(1, 2)
    assert rates[Segment.PROMOTER] == Ratio(1, 1)
    assert rates[Segment.DETRACTOR] == Ratio(0, 0)


def test_costs_by_month_are_shared_by_the_days_a_period_covers():
    table = (("2026-10", 3100.0), ("2026-11", 3000.0))
    half = program_cost(table, at(10, 17), at(11, 16), UTC)
    assert half.amount == pytest.approx(1500 + 1500) and half.missing is None
    assert program_cost(table, START, END, UTC).amount == pytest.approx(3100)
    gap = program_cost(table, at(9, 20), at(10, 5), UTC)
    assert gap.amount is None and "2026-09" in (gap.missing or "")


def test_resolutions_within_their_deadline_are_counted(engine):
    on_time = add(engine, "r-1", score=2, received=at(10, 1), account="A")
    set_case(engine, on_time, resolution_due_at=at(10, 10))
    resolved(engine, on_time, at(10, 8), satisfied=True)
    late = add(engine, "r-2", score=3, received=at(10, 2), account="B")
    set_case(engine, late, resolution_due_at=at(10, 10))
    resolved(engine, late, at(10, 12), satisfied=False)
    add(engine, "r-3", score=4, received=at(10, 3), account="C")  # open: not counted

    kpi = kpi_summary(engine, start=START, end=END, now=LATER, monthly_cost=0)
    assert kpi.resolved_in_time == Ratio(1, 2)
