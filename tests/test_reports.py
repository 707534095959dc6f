"""Reports on both databases: KPI definitions on hand-built data, the digest, root causes, weekly
trends, account events (import, idempotency), the BI export and migration 0004."""

from __future__ import annotations

import json
import types
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.config.rules import rules_from_mapping
from bot.domain.vocabulary import Segment
from bot.services.imports import CsvError, parse_account_csv
from bot.services.intake import IntakeWriter, parse_survey, to_response_data
from bot.services.router import Router
from storage import cases
from storage.account_events import (
    AccountEventRow,
    ImportResult,
    import_account_events,
    record_account_event,
)
from storage.db import alembic_config, migrate
from storage.digest import digest_counts, digest_rows
from storage.export import EXPORT_COLUMNS, export_cases
from storage.kpi import (
    NO_BASELINE,
    KpiSummary,
    kpi_summary,
    program_months,
    week_start,
    weekly_series,
)
from storage.measures import Ratio, nps
from storage.models import Account, FollowUpCase
from storage.rollup import RootCauseRow, root_cause_rollup
from tests.conftest import TEST_RULES, survey_body
from tests.test_imports import CSV_TEXT

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULES = rules_from_mapping(TEST_RULES)
ARR = {"A": 120_000, "B": 80_000, "C": 40_000, "D": 30_000, "E": 20_000, "F": 10_000}
ARR |= {"G": 50_000, "H": 300_000}


def at(month: int, day: int, hour: int = 0, minute: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, 0, micro, tzinfo=UTC)


def add(
    engine: sa.Engine,
    rid: str,
    *,
    score: int,
    received: datetime,
    account: str = "A",
    owner: str = ALICE,
    arr: float | None = None,
    **values,
) -> int:
    """One response through the intake, received at `received`; `values` then set on its case."""
    body = survey_body(rid, score=score, comment="Slow exports.")
    body["customer"] = {
        "id": f"c-{rid}",  # one customer per response: no accidental re-survey links
        "name": f"Person {rid}",
        "email": f"{rid}@customer.example",
        "phone": "+45 5555 0000",
    }
    body["account"] = {
        "id": account,
        "name": f"Account {account}",
        "arr": arr if arr is not None else ARR.get(account),
        "owner": owner,
        "plan": "Enterprise",
        "renewal_date": "2027-03-01",
    }
    record = to_response_data(
        parse_survey(json.dumps(body).encode()), received_at=received, webhook_id="m"
    )
    writer = IntakeWriter(engine, Router(RULES), clock=lambda: received)
    case_id = writer._write([record])[rid].case_id
    set_case(engine, case_id, contact_due_at=received + timedelta(hours=24))
    if values:
        set_case(engine, case_id, **values)
    return case_id


def set_case(engine: sa.Engine, case_id: int, **values) -> None:
    table = FollowUpCase.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == case_id).values(**values))


def reached(engine: sa.Engine, case_id: int, when: datetime) -> None:
    change = cases.log_contact(
        engine,
        case_id,
        actor=ALICE,
        how="phone",
        outcome="reached",
        notes="Talked it through.",
        next_follow_up=None,
        now=when,
    )
    assert change.ok


def resolved(
    engine: sa.Engine, case_id: int, when: datetime, *, satisfied: bool | None, cause="Billing"
) -> None:
    change = cases.resolve(
        engine,
        case_id,
        actor=ALICE,
        summary="Sorted.",
        satisfied=satisfied,
        root_cause=cause,
        resurvey_on=None,
        now=when,
    )
    assert change.ok


def event(engine: sa.Engine, account: str, kind: str, when: datetime, arr=None) -> bool:
    return record_account_event(
        engine, account_id=account, event=kind, at=when, arr=arr, source="webhook", now=NOW
    )


# --- Ratio and the derived figures -----------------------------------------------------------


def test_a_ratio_over_nothing_has_no_value():
    assert Ratio(0, 0).value is None
    assert Ratio(3, 0).value is None
    assert Ratio(0, 4).value == 0.0
    assert Ratio(1, 4).value == 0.25


def summary(**overrides) -> KpiSummary:
    empty = Ratio(0, 0)
    values = dict(
        start=START,
        end=END,
        contact_rate=empty,
        contact_rate_72h=empty,
        resolution_rate=empty,
        score_recovery=empty,
        churn_contacted=empty,
        churn_uncontacted=empty,
        retained_arr=0.0,
        program_cost=0.0,
        responses=0,
        promoters=0,
        passives=0,
        detractors=0,
        nps=None,
        nps_previous=None,
    )
    return KpiSummary(**(values | overrides))


def test_churn_reduction_needs_churn_among_the_uncontacted():
    assert summary().churn_reduction is None
    # Nobody uncontacted churned: no rate to be lower than.
    assert (
        summary(churn_contacted=Ratio(1, 4), churn_uncontacted=Ratio(0, 5)).churn_reduction is None
    )
    # No contacted accounts at all.
    assert (
        summary(churn_contacted=Ratio(0, 0), churn_uncontacted=Ratio(1, 2)).churn_reduction is None
    )
    # 10% against 40%: churn is 75% lower.
    reduction = summary(churn_contacted=Ratio(1, 10), churn_uncontacted=Ratio(4, 10))
    assert reduction.churn_reduction == pytest.approx(0.75)


def test_roi_credits_the_baseline_churn_the_program_spared_and_needs_every_part():
    baseline = Ratio(1, 4)  # a quarter of not-contacted Detractor accounts churned
    no_cost = summary(retained_arr=100_000.0, program_cost=0.0, churn_uncontacted=baseline)
    assert no_cost.roi is None and "kpi.monthly_cost" in (no_cost.roi_missing or "")
    no_baseline = summary(retained_arr=100_000.0, program_cost=5_000.0)
    assert no_baseline.roi is None and "not-contacted" in (no_baseline.roi_missing or "")
    gap = summary(program_cost=5_000.0, churn_uncontacted=baseline, cost_missing="no cost")
    assert gap.roi is None and gap.roi_missing == "no cost"
    # 100,000 retained x 25% baseline churn / 5,000 cost.
    full = summary(retained_arr=100_000.0, program_cost=5_000.0, churn_uncontacted=baseline)
    assert full.roi == 5.0 and full.roi_missing is None


def test_nps_and_program_months():
    assert nps(promoters=0, detractors=0, responses=0) is None
    assert nps(promoters=5, detractors=2, responses=10) == pytest.approx(30.0)
    assert program_months(START, END) == pytest.approx(31 / 30.4375)
    assert program_months(START, START + timedelta(hours=1)) == pytest.approx(1 / 30.4375)


# --- KPI summary -------------------------------------------------------------------------------


def test_an_empty_period_has_no_figures_and_raises_nothing(engine):
    kpi = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=0)
    for ratio in (
        kpi.contact_rate,
        kpi.contact_rate_72h,
        kpi.resolution_rate,
        kpi.score_recovery,
        kpi.churn_contacted,
        kpi.churn_uncontacted,
    ):
        assert ratio == Ratio(0, 0) and ratio.value is None
    assert (kpi.responses, kpi.promoters, kpi.passives, kpi.detractors) == (0, 0, 0, 0)
    assert kpi.nps is None and kpi.nps_previous is None
    assert kpi.churn_reduction is None
    assert kpi.roi is None
    assert (kpi.start, kpi.end) == (START, END)
    costly = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=5000)
    assert costly.retained_arr == 0.0 and costly.roi is None
    assert costly.roi_missing == NO_BASELINE
    assert kpi.segment_contact == tuple((s, Ratio(0, 0)) for s in Segment)


def test_promoters_only_no_resurveys_and_no_detractors(engine):
    add(engine, "p-1", score=10, received=at(10, 3), account="A")
    add(engine, "p-2", score=9, received=at(10, 4), account="B")
    add(engine, "p-3", score=7, received=at(10, 5), account="B")
    kpi = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=1000)
    # No Detractor case: every case figure is 0/0.
    assert kpi.contact_rate.value is None and kpi.resolution_rate.value is None
    # No re-survey answered: score recovery is 0/0, not 0%.
    assert kpi.score_recovery == Ratio(0, 0)
    assert kpi.churn_contacted == kpi.churn_uncontacted == Ratio(0, 0)
    # 2 promoters, 1 passive of 3: (2 - 0) / 3 * 100.
    assert (kpi.responses, kpi.promoters, kpi.passives, kpi.detractors) == (3, 2, 1, 0)
    assert kpi.nps == pytest.approx(200 / 3)
    assert kpi.nps_previous is None  # nothing in September


def test_kpis_on_a_hand_built_month(engine):
    """October 2026, seen at noon on 1 November. Every Detractor's deadline is received + 24 h."""
    # D1 (A): contacted after 5 h (on time, within 72 h); resolved satisfied; re-surveyed 9.
    d1 = add(engine, "d-1", score=2, received=at(10, 5, 10), account="A")
    reached(engine, d1, at(10, 5, 15))
    resolved(engine, d1, at(10, 8), satisfied=True)
    set_case(engine, d1, recovery_score=9, recovered_at=at(10, 20))
    # D2 (A): contacted after 48 h (late, within 72 h); resolved unsatisfied; re-surveyed 4.
    d2 = add(engine, "d-2", score=5, received=at(10, 6, 10), account="A")
    reached(engine, d2, at(10, 8, 10))
    resolved(engine, d2, at(10, 10), satisfied=False)
    set_case(engine, d2, recovery_score=4, recovered_at=at(10, 25))
    # D3 (B): contacted after 96 h (late, not within 72 h); still open.
    d3 = add(engine, "d-3", score=0, received=at(10, 10, 9), account="B")
    reached(engine, d3, at(10, 14, 9))
    # D4 (C): never contacted.
    add(engine, "d-4", score=6, received=at(10, 12), account="C")
    # D5 (D): received 20:00 on 31 Oct: its deadline has not passed at noon, nor its 72 h.
    add(engine, "d-5", score=3, received=at(10, 31, 20), account="D")
    # D6 (E): deadline 06:00 on 1 Nov has passed uncontacted; its 72 h have not.
    add(engine, "d-6", score=3, received=at(10, 31, 6), account="E")
    # D7 (F): contacted at 13:00 on 1 Nov, after `now`: as of noon, uncontacted and late.
    d7 = add(engine, "d-7", score=4, received=at(10, 31, 8), account="F")
    reached(engine, d7, at(11, 1, 13))
    # D8, D9 (G): contacted exactly 72 h after receipt (within), and 1 µs past it (not).
    d8 = add(engine, "d-8", score=1, received=at(10, 20, 0, 0, 250_000), account="G")
    reached(engine, d8, at(10, 23, 0, 0, 250_000))
    d9 = add(engine, "d-9", score=1, received=at(10, 20, 0, 0, 250_000), account="G")
    reached(engine, d9, at(10, 23, 0, 0, 250_001))
    # Not Detractors, or not received in October: no case figure moves.
    add(engine, "p-1", score=10, received=at(10, 7), account="A")
    add(engine, "p-2", score=8, received=at(10, 9), account="B")
    add(engine, "p-3", score=9, received=at(10, 15), account="H")
    x1 = add(engine, "x-1", score=2, received=at(9, 20), account="H")
    reached(engine, x1, at(9, 20, 5))
    add(engine, "x-2", score=2, received=at(11, 1, 1), account="H")
    add(engine, "y-1", score=10, received=at(9, 25), account="H")
    add(engine, "y-2", score=9, received=at(9, 26), account="H")

    # Churn and renewals. Contacted accounts: A, B, G. Uncontacted: C, D, E, F.
    assert event(engine, "A", "renewed", at(9, 1), arr=999)  # before its first case: ignored
    event(engine, "A", "renewed", at(10, 20), arr=150_000)
    event(engine, "A", "renewed", at(10, 30))  # states no ARR: the 150,000 above stands
    event(engine, "B", "churned", at(10, 25))  # churned, contacted
    event(engine, "G", "churned", at(9, 1))  # before its first case: not churn
    event(engine, "G", "renewed", at(10, 25))  # no ARR stated: the account's 50,000
    event(engine, "C", "churned", at(10, 30))  # churned, uncontacted
    event(engine, "D", "churned", at(11, 5))  # after `now`: not yet
    event(engine, "E", "churned", at(10, 31))  # 00:00, before its case at 06:00: not churn
    event(engine, "F", "churned", at(11, 1, 10))  # after its case, before noon: churned
    event(engine, "H", "renewed", at(10, 10), arr=400_000)  # no Detractor case in October

    kpi = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=10_000)

    # Deadline passed or contacted by noon: D1 D2 D3 D4 D6 D7 D8 D9 (not D5); on time: D1.
    assert kpi.contact_rate == Ratio(1, 8)
    # 72 h passed (received before 12:00 on 29 Oct) or contacted: D1 D2 D3 D4 D8 D9;
    # within 72 h: D1 (5 h), D2 (48 h), D8 (72 h exactly).
    assert kpi.contact_rate_72h == Ratio(3, 6)
    # Nine Detractor cases; D1 resolved satisfied.
    assert kpi.resolution_rate == Ratio(1, 9)
    # Re-surveyed D1 (9) and D2 (4) 15 and 19 days after: before the 30-day window opens.
    assert kpi.score_recovery == Ratio(0, 0) and kpi.recovery_outside == 2
    # Contacted A, B, G: B churned. Uncontacted C, D, E, F: C and F churned.
    assert kpi.churn_contacted == Ratio(1, 3)
    assert kpi.churn_uncontacted == Ratio(2, 4)
    # 1 - (1/3) / (2/4) = 1/3.
    assert kpi.churn_reduction == pytest.approx(1 / 3)
    # Recovered: A (D1 resolved satisfied), renewed at 150,000. G renewed but was never
    # resolved nor re-surveyed: the program gets no credit for it.
    assert kpi.retained_arr == 150_000 and kpi.recovered_accounts == 1
    # 31 days = 31 / 30.4375 months at 10,000 a month.
    assert kpi.program_cost == pytest.approx(10_000 * 31 / 30.4375)
    # The ARR spared: 150,000 x the 2/4 baseline churn.
    assert kpi.roi == pytest.approx(150_000 * 0.5 / (10_000 * 31 / 30.4375))
    # October: D1-D9 (9 detractors), p-1 and p-3 promoters, p-2 passive: (2 - 9) / 12 * 100.
    assert (kpi.responses, kpi.promoters, kpi.passives, kpi.detractors) == (12, 2, 1, 9)
    assert kpi.nps == pytest.approx(-700 / 12)
    # The 31 days before: x-1 detractor, y-1 and y-2 promoters: (2 - 1) / 3 * 100.
    assert kpi.nps_previous == pytest.approx(100 / 3)

    free = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=0)
    assert free.retained_arr == 150_000 and free.program_cost == 0 and free.roi is None

    # Seen a week later, D5's deadline and everyone's 72 h have passed, and D7 was reached.
    later = kpi_summary(engine, start=START, end=END, now=NOW + timedelta(days=7), monthly_cost=0)
    assert later.contact_rate == Ratio(1, 9)
    # D7 was reached 29 h after receipt: within 72 h too.
    assert later.contact_rate_72h == Ratio(4, 9)
    # F is contacted now, and churned; D churned on 5 Nov: contacted A B F G, uncontacted C D E.
    assert later.churn_contacted == Ratio(2, 4)
    assert later.churn_uncontacted == Ratio(2, 3)


def test_contact_counts_as_soon_as_it_happens_even_before_the_deadline(engine):
    case_id = add(engine, "d-1", score=3, received=at(10, 31, 20), account="A")
    reached(engine, case_id, at(10, 31, 21))
    kpi = kpi_summary(engine, start=START, end=END, now=NOW, monthly_cost=0)
    assert kpi.contact_rate == Ratio(1, 1)
    assert kpi.contact_rate_72h == Ratio(1, 1)


def test_a_period_must_be_aware_and_forward(engine):
    with pytest.raises(ValueError):
        kpi_summary(engine, start=END, end=START, now=NOW, monthly_cost=0)
    with pytest.raises(ValueError):
        kpi_summary(engine, start=datetime(2026, 10, 1), end=END, now=NOW, monthly_cost=0)


# --- digest ------------------------------------------------------------------------------------


def test_digest_lists_open_cases_by_priority_arr_then_age_with_overdue_flags(engine):
    small = add(engine, "r-small", score=3, received=at(10, 30), account="F", owner=ALICE)
    big = add(engine, "r-big", score=9, received=at(10, 31), account="H", owner=BOB)
    older = add(engine, "r-older", score=2, received=at(10, 20), account="A", owner=ALICE)
    newer = add(engine, "r-newer", score=5, received=at(10, 25), account="A", owner=CAROL)
    unknown = add(engine, "r-noarr", score=4, received=at(10, 1), account="Z", owner=ALICE)
    done = add(engine, "r-done", score=1, received=at(10, 2), account="H", owner=ALICE)
    resolved(engine, done, at(10, 3), satisfied=True)
    reached(engine, older, at(10, 20, 5))
    set_case(
        engine,
        big,
        contact_due_at=NOW + timedelta(hours=1),
        card_channel="C0BIG",
        card_ts="1700000000.000100",
    )

    rows = digest_rows(engine, owners=None, now=NOW)
    # Detractors (High) before the Promoter (Low); then A 120k (oldest first); F 10k; Z with no
    # ARR last. The resolved case is left out.
    assert [r.case_id for r in rows] == [older, newer, small, unknown, big]
    first = rows[-1]
    assert (first.customer_name, first.account_name, first.arr) == (
        "Person r-big",
        "Account H",
        300_000,
    )
    assert (first.score, first.segment, first.status) == (9, "promoter", "open")
    assert (first.owner_user_id, first.owner_ref) == (BOB, BOB)
    assert (first.card_channel, first.card_ts) == ("C0BIG", "1700000000.000100")
    assert first.contact_due_at == NOW + timedelta(hours=1)
    # Overdue: uncontacted and due before now. `big` is not due yet; `older` was contacted.
    assert {r.case_id: r.overdue for r in rows} == {
        big: False,
        older: False,
        newer: True,
        small: True,
        unknown: True,
    }

    mine = digest_rows(engine, owners=[ALICE, CAROL], now=NOW)
    assert [r.case_id for r in mine] == [older, newer, small, unknown]
    assert digest_rows(engine, owners={BOB}, now=NOW, limit=1)[0].case_id == big
    assert digest_rows(engine, owners=[], now=NOW) == []
    assert digest_rows(engine, owners=None, now=NOW, limit=2) == rows[:2]


def test_digest_counts_one_local_day(engine):
    # The day is 1 November in Copenhagen: 31 Oct 23:00 to 1 Nov 23:00 UTC.
    day_start, day_end = at(10, 31, 23), at(11, 1, 23)
    now = at(11, 2, 8)
    before = add(engine, "r-before", score=2, received=at(10, 30, 22, 59), account="A")
    first = add(engine, "r-first", score=2, received=at(10, 31, 23), account="B")
    second = add(engine, "r-second", score=9, received=at(11, 1, 10), account="C")
    add(engine, "r-next-day", score=3, received=at(11, 1, 23), account="D")
    reached(engine, before, at(11, 1, 9))  # contacted on the day (late)
    reached(engine, first, at(11, 1, 23))  # contacted the next day, right on its deadline
    resolved(engine, second, at(11, 1, 12), satisfied=None)  # resolved on the day
    old = add(engine, "r-old", score=4, received=at(10, 20), account="E")
    resolved(engine, old, at(10, 21), satisfied=True)  # resolved long before

    counts = digest_counts(engine, day_start=day_start, day_end=day_end, now=now)
    assert (counts.day_start, counts.day_end) == (day_start, day_end)
    assert counts.new_cases == 2  # first, second
    assert counts.contacted == 1  # before
    assert counts.resolved == 1  # second
    # Open, uncontacted, due before 08:00 on 2 Nov: r-next-day (due 23:00 on 2 Nov) is not.
    assert counts.overdue == 0
    assert digest_counts(engine, day_start=day_start, day_end=day_end, now=at(11, 3)).overdue == 1
    # Detractors received in the 7 days before `now`: before, first (on time), next-day (due
    # not passed); `old` is older. Due passed or contacted: before, first; on time: first.
    assert counts.contact_rate_7d == Ratio(1, 2)


# --- root causes -------------------------------------------------------------------------------


def test_root_causes_by_arr_at_risk(engine):
    add(engine, "r-1", score=3, received=at(10, 2), account="A", root_cause="Billing")
    add(engine, "r-2", score=5, received=at(10, 3), account="A", root_cause="Billing")
    add(engine, "r-3", score=2, received=at(10, 4), account="B", root_cause="Billing")
    add(engine, "r-4", score=1, received=at(10, 5), account="H", root_cause="Bugs")
    add(engine, "r-5", score=6, received=at(10, 6), account="C", root_cause="Onboarding")
    add(engine, "r-6", score=4, received=at(10, 7), account="D", root_cause="Onboarding")
    add(engine, "r-7", score=0, received=at(10, 8), account="E", root_cause="Support")
    add(engine, "r-8", score=0, received=at(10, 9), account="F", root_cause="Price")
    add(engine, "r-9", score=0, received=at(10, 9), account="E", root_cause="Price")
    add(engine, "r-none", score=2, received=at(10, 8), account="H")  # no cause
    add(engine, "r-sept", score=2, received=at(9, 8), account="H", root_cause="Billing")

    rows = root_cause_rollup(engine, start=START, end=END)
    assert rows == [
        RootCauseRow("Bugs", 1, 1.0, 300_000.0),  # H
        RootCauseRow("Billing", 3, 10 / 3, 200_000.0),  # A once (120k) + B (80k)
        RootCauseRow("Onboarding", 2, 5.0, 70_000.0),  # C 40k + D 30k
        RootCauseRow("Price", 2, 0.0, 30_000.0),  # F 10k + E 20k: 2 cases
        RootCauseRow("Support", 1, 0.0, 20_000.0),  # E
    ]
    assert root_cause_rollup(engine, start=at(12, 1), end=at(12, 31)) == []


def test_root_causes_tie_on_arr_by_count(engine):
    add(engine, "r-1", score=3, received=at(10, 2), account="E", root_cause="Solo")
    add(engine, "r-2", score=3, received=at(10, 2), account="E", root_cause="Pair")
    add(engine, "r-3", score=5, received=at(10, 3), account="E", root_cause="Pair")
    rows = root_cause_rollup(engine, start=START, end=END)
    assert [(r.cause, r.cases, r.arr_at_risk) for r in rows] == [
        ("Pair", 2, 20_000.0),
        ("Solo", 1, 20_000.0),
    ]


# --- weekly series -----------------------------------------------------------------------------


def test_weekly_series_over_whole_utc_weeks(engine):
    end = at(11, 25, 15)  # a Wednesday: the week of 23 Nov is not over and is left out
    # Week of 2 Nov: a Detractor contacted on time and resolved satisfied, and a promoter.
    d1 = add(engine, "w-1", score=2, received=at(11, 2, 0), account="A")
    reached(engine, d1, at(11, 2, 6))
    resolved(engine, d1, at(11, 3), satisfied=True)
    add(engine, "w-2", score=10, received=at(11, 8, 23, 59), account="B")
    # Week of 9 Nov: nothing. Week of 16 Nov: a Detractor never contacted.
    add(engine, "w-3", score=4, received=at(11, 16), account="C")
    # Outside: the Sunday before, and the unfinished week.
    add(engine, "w-0", score=0, received=at(11, 1, 23, 59), account="D")
    add(engine, "w-4", score=0, received=at(11, 23), account="D")

    points = weekly_series(engine, weeks=3, end=end)
    assert [p.week_start for p in points] == [at(11, 2), at(11, 9), at(11, 16)]
    assert [p.week_start.weekday() for p in points] == [0, 0, 0]
    assert [(p.contact_rate, p.resolution_rate, p.nps) for p in points] == [
        (1.0, 1.0, 0.0),  # one detractor, one promoter: NPS 0
        (None, None, None),
        (0.0, 0.0, -100.0),
    ]
    assert weekly_series(engine, weeks=0, end=end) == []
    # Ending on a Monday at 00:00 makes the week before the last one.
    assert weekly_series(engine, weeks=1, end=at(11, 9))[0].week_start == at(11, 2)


def test_week_start_is_monday_midnight_utc():
    assert week_start(at(11, 25, 15)) == at(11, 23)
    assert week_start(at(11, 23)) == at(11, 23)
    assert week_start(at(11, 22, 23, 59)) == at(11, 16)


# --- account events ----------------------------------------------------------------------------


def test_recording_an_event_twice_changes_nothing(engine):
    add(engine, "r-1", score=3, received=at(10, 2), account="A")
    assert event(engine, "A", "churned", at(10, 20), arr=120_000) is True
    assert event(engine, "A", "churned", at(10, 20), arr=999) is False
    assert event(engine, "A", "renewed", at(10, 20)) is True  # another event
    assert event(engine, "A", "churned", at(10, 21)) is True  # another time
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT event, arr, source FROM account_event ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("churned", 120_000, "webhook"),
        ("renewed", None, "webhook"),
        ("churned", None, "webhook"),
    ]


def test_an_event_for_an_unknown_account_creates_it(engine):
    assert event(engine, "acct-new", "renewed", at(10, 20), arr=5000)
    with engine.connect() as conn:
        row = conn.execute(sa.select(Account.__table__).where(Account.id == "acct-new")).one()
    assert (row.id, row.name, row.arr) == ("acct-new", "acct-new", None)


@pytest.mark.parametrize(
    "bad",
    [
        dict(event="cancelled"),
        dict(source="email"),
        dict(at=datetime(2026, 10, 1)),
        dict(arr=-1.0),
        dict(arr=float("nan")),
        dict(account_id=""),
        dict(account_id="x" * 201),
    ],
)
def test_a_bad_event_is_refused_and_stores_nothing(engine, bad):
    values = dict(account_id="A", event="churned", at=at(10, 1), arr=None, source="webhook")
    with pytest.raises(ValueError):
        record_account_event(engine, **(values | bad), now=NOW)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM account_event")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM account")).scalar_one() == 0


def test_import_is_idempotent_and_reports_progress(engine):
    add(engine, "r-1", score=3, received=at(10, 2), account="A")
    rows = [p for p in parse_account_csv(CSV_TEXT.splitlines()) if not isinstance(p, CsvError)]
    rows.append(rows[0])  # a line repeated within the file
    seen: list[int] = []
    first = import_account_events(engine, rows, now=NOW, batch=2, progress=seen.append)
    assert first == ImportResult(read=4, created=3, duplicates=1)
    assert seen == [2, 4]
    again = import_account_events(engine, iter(rows), now=NOW, batch=1000)
    assert again == ImportResult(read=4, created=0, duplicates=4)
    with engine.connect() as conn:
        events = conn.execute(
            sa.text("SELECT account_id, source FROM account_event ORDER BY account_id")
        ).all()
        names = dict(conn.execute(sa.text("SELECT id, name FROM account")).all())
    assert [tuple(e) for e in events] == [("A", "import"), ("B", "import"), ("C, Inc", "import")]
    # A was known and keeps its name; B and "C, Inc" were created with their id as name.
    assert names == {"A": "Account A", "B": "B", "C, Inc": "C, Inc"}
    assert import_account_events(engine, [], now=NOW) == ImportResult(0, 0, 0)


def test_an_imported_event_and_a_webhook_one_are_the_same_event(engine):
    assert event(engine, "A", "churned", at(10, 20, 10))
    # The same instant, written in another zone.
    rows = [AccountEventRow("A", "churned", at(10, 20, 10).astimezone(ZoneInfo("Asia/Tokyo")))]
    assert import_account_events(engine, rows, now=NOW).duplicates == 1


# --- BI export ---------------------------------------------------------------------------------


def test_export_streams_every_case_without_personal_data(engine):
    ids = [
        add(engine, f"r-{i}", score=i, received=at(10, 1 + i), account="AB"[i % 2])
        for i in range(5)
    ]
    reached(engine, ids[0], at(10, 2))
    resolved(engine, ids[0], at(10, 3), satisfied=True, cause="Billing")
    set_case(engine, ids[0], recovery_score=9, recovered_at=at(10, 20))

    stream = export_cases(engine, chunk=2)
    assert isinstance(stream, types.GeneratorType)
    first = next(stream)
    rest = list(stream)
    rows = [first, *rest]
    assert [r["case_id"] for r in rows] == ids
    assert all(tuple(r) == EXPORT_COLUMNS for r in rows)
    assert first["response_id"] == "r-0"
    assert first["received_at"] == at(10, 1)
    assert (first["segment"], first["score"], first["status"]) == ("detractor", 0, "resolved")
    assert first["first_contact_at"] == at(10, 2) and first["resolved_at"] == at(10, 3)
    assert (first["customer_satisfied"], first["root_cause"], first["recovery_score"]) == (
        True,
        "Billing",
        9,
    )
    assert (first["account_id"], first["account_name"], first["account_arr"]) == (
        "A",
        "Account A",
        120_000,
    )
    assert first["account_plan"] == "Enterprise"
    assert first["account_renewal_date"] == date(2027, 3, 1)
    assert first["customer_id"] == "c-r-0"
    assert first["owner_user_id"] == ALICE
    assert isinstance(first["reasons"], str)
    assert first["tags"] == "detractor recovery"
    assert all(r["tags"] == "" for r in rest)

    text = repr(rows)
    for personal in ("Slow exports", "@customer.example", "+45", "Person r-", "Talked it"):
        assert personal not in text


def test_an_abandoned_export_releases_its_connection(engine):
    for i in range(3):
        add(engine, f"r-{i}", score=2, received=at(10, 1 + i))
    stream = export_cases(engine, chunk=1)
    next(stream)
    stream.close()
    assert engine.pool.checkedout() == 0


# --- migration 0004 ----------------------------------------------------------------------------


def test_migration_0004_up_and_down(fresh_engine):
    migrate(fresh_engine, "0003")
    assert "account_event" not in sa.inspect(fresh_engine).get_table_names()
    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    assert event(fresh_engine, "A", "churned", at(10, 1))
    assert not event(fresh_engine, "A", "churned", at(10, 1))

    command.downgrade(alembic_config(fresh_engine), "0003")
    inspector = sa.inspect(fresh_engine)
    assert "account_event" not in inspector.get_table_names()
    with fresh_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM account")).scalars().all() == ["A"]

    migrate(fresh_engine)
    assert event(fresh_engine, "A", "churned", at(10, 1))
