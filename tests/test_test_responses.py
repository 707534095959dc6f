"""Test responses: stored with their flag, a card marked TEST, and absent from every figure; the
migration that adds the flag, up and down on both databases."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from blocks.card import card_blocks, card_text
from storage import cases
from storage.advocacy import advocacy_counts
from storage.case_view import case_view
from storage.db import alembic_config, migrate
from storage.digest import digest_counts
from storage.export import export_cases
from storage.kpi import kpi_summary, weekly_series
from storage.playbook_changes import log_advocacy
from storage.rollup import root_cause_rollup
from tests.conftest import post_survey, services_of, survey_body
from tests.test_timers import T0, case, make_case
from tests.test_workflow import card_json, case_row, wait_until

DAY = timedelta(days=1)


def figures(engine) -> dict:
    """Every report's figures for the days around T0."""
    start, end, now = T0 - DAY, T0 + DAY, T0 + 2 * DAY
    kpi = kpi_summary(engine, start=start, end=end, now=now, monthly_cost=0)
    counts = digest_counts(engine, day_start=T0 - timedelta(hours=8), day_end=end, now=now)
    week = weekly_series(engine, weeks=2, end=now)
    return {
        "nps": (kpi.responses, kpi.detractors, kpi.promoters),
        "contact": (kpi.contact_rate.numerator, kpi.contact_rate.denominator),
        "digest": (counts.new_cases, counts.resolved),
        "week": [(p.contact_rate, p.resolution_rate, p.nps) for p in week],
        "rollup": [(r.cause, r.cases) for r in root_cause_rollup(engine, start=start, end=end)],
        "advocacy": advocacy_counts(engine, start=start, end=now).by_kind,
        "export": [r["response_id"] for r in export_cases(engine)],
    }


def work(engine, response_id: str, score: int, *, test: bool) -> int:
    case_id = make_case(engine, response_id, score=score, test=test,
                        customer={"id": f"c-{response_id}", "name": "N"})  # fmt: skip
    if score <= 6:
        cases.resolve(
            engine, case_id, actor="U0ALICE", summary="Fixed", satisfied=True,
            root_cause="Billing errors", resurvey_on=None, now=T0 + timedelta(hours=1),
        )  # fmt: skip
    else:
        log_advocacy(engine, case_id, actor="U0ALICE", kind="review", stage="done", notes=None,
                     now=T0 + timedelta(hours=1))  # fmt: skip
    return case_id


def test_test_responses_are_absent_from_every_figure(engine):
    work(engine, "r-1", 2, test=False)
    work(engine, "r-2", 10, test=False)
    before = figures(engine)
    detractor = work(engine, "r-3", 1, test=True)
    work(engine, "r-4", 9, test=True)
    assert figures(engine) == before
    assert before["nps"] == (2, 1, 1) and before["export"] == ["r-1", "r-2"]
    assert case(engine, detractor).test is True
    view = case_view(engine, detractor)
    assert view.response.test is True
    header = card_blocks(view, now=T0)[0].to_dict()["text"]["text"]
    assert header.startswith("TEST · ") and card_text(view).startswith("TEST · ")
    plain = case_view(engine, make_case(engine, "r-5", score=3, customer={"id": "c5", "name": "M"}))
    assert "TEST" not in json.dumps(card_blocks(plain, now=T0)[0].to_dict())


def test_a_test_response_through_the_app_gets_a_test_card(client, fake_slack):
    services_of(client).outbox.channel_interval = 0.0
    answer = post_survey(client, survey_body("r-test", score=2, test=True))
    assert answer.status_code == 202, answer.text
    case_id = answer.json()["case_id"]
    wait_until(lambda: case_row(client, case_id).card_ts is not None)
    row = case_row(client, case_id)
    assert row.test is True
    assert "TEST \\u00b7 " in card_json(fake_slack, row.card_channel, row.card_ts)
    refused = post_survey(client, survey_body("r-bad", score=2, test="yes"))
    assert refused.status_code == 422


def test_migration_0010_up_and_down(fresh_engine):
    migrate(fresh_engine)
    kept = make_case(fresh_engine, "r-1", score=2, test=True)
    command.downgrade(alembic_config(fresh_engine), "0008")
    for table in ("survey_response", "follow_up_case"):
        assert "test" not in {c["name"] for c in sa.inspect(fresh_engine).get_columns(table)}
    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        rows = conn.execute(sa.text("SELECT id, test FROM follow_up_case")).all()
    assert [(r[0], bool(r[1])) for r in rows] == [(kept, False)]


def test_a_test_source_marks_its_answers_as_test():
    from bot.services.platforms import PlatformAnswer, to_record

    answer = PlatformAnswer(
        response_id="zap:1", source="zap", score=3, comment=None, email="a@b.io", name=None,
        account_id=None, submitted_at=None, complete=True, test=True,
    )  # fmt: skip
    assert to_record(answer, T0).test is True
    assert to_record(replace(answer, test=False), T0).test is False
