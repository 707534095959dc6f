"""Passive insights and Promoter advocacy: storage with an injected clock on both databases, the
modals' parsers, the card's buttons and suggestions, and clicks end to end through the app."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from blocks.advocacy_report import advocacy_text
from blocks.card import card_blocks
from blocks.ids import AdvocacyBlock, CardAction, ModalAction, ModalBlock, ModalCallback
from blocks.messages import thread_line
from blocks.playbook_modals import advocacy_modal, insight_modal, parse_advocacy, parse_insight
from bot.domain.vocabulary import Action, AdvocacyKind, AdvocacyStage
from storage import playbook_changes
from storage.advocacy import advocacy_counts
from storage.case_view import case_view
from storage.rollup import root_cause_rollup
from tests.test_report_commands import nps, respond_text
from tests.test_timers import RULES, T0, case, make_case
from tests.test_workflow import (
    TODAY,
    card_json,
    case_row,
    click,
    new_case,
    radio,
    select_option,
    submit,
    text,
    thread_lines,
    wait_until,
)

DAY = timedelta(days=1)


def insight(engine, case_id: int, theme: str = "Product gaps", at=T0):
    return playbook_changes.log_insight(
        engine, case_id, actor="U0ALICE", theme=theme, quick_win="Bulk export",
        notes="Wants CSV", now=at,
    )  # fmt: skip


def advocacy(engine, case_id: int, kind=AdvocacyKind.REVIEW, stage=AdvocacyStage.ASKED, at=T0):
    return playbook_changes.log_advocacy(
        engine, case_id, actor="U0ALICE", kind=kind, stage=stage, notes=None, now=at
    )


def test_a_passive_insight_reaches_the_root_cause_rollup(engine):
    passive = make_case(engine, "r-p", score=7, comment="Fine", rules=RULES)
    detractor = make_case(engine, "r-d", score=2, comment="Slow", rules=RULES)
    assert insight(engine, passive).ok
    assert not insight(engine, detractor).ok  # a Detractor logs a root cause instead
    stored = case(engine, passive)
    assert (stored.root_cause, stored.action_items) == ("Product gaps", "Bulk export")
    [row] = root_cause_rollup(engine, start=T0 - DAY, end=T0 + DAY)
    assert (row.cause, row.cases, row.average_score) == ("Product gaps", 1, 7.0)


def test_advocacy_counts_by_kind_and_stage_within_the_period(engine):
    first = make_case(engine, "r-1", score=10, comment="Love it", rules=RULES)
    second = make_case(
        engine, "r-2", score=9, comment="Great", rules=RULES, customer={"id": "c-2", "name": "B"}
    )
    passive = make_case(
        engine, "r-3", score=8, comment="Ok", rules=RULES, customer={"id": "c-3", "name": "C"}
    )
    assert advocacy(engine, first).ok
    assert advocacy(engine, first, stage=AdvocacyStage.AGREED, at=T0 + DAY).ok
    assert advocacy(engine, second, kind=AdvocacyKind.REFERRAL, stage=AdvocacyStage.DONE).ok
    assert advocacy(engine, second, at=T0 + 10 * DAY).ok  # outside the period
    refused = advocacy(engine, passive)
    assert (refused.ok, refused.reason) == (False, "not_promoter")
    counts = advocacy_counts(engine, start=T0 - DAY, end=T0 + 2 * DAY)
    assert counts.by_kind == {
        AdvocacyKind.REVIEW: {AdvocacyStage.ASKED: 1, AdvocacyStage.AGREED: 1},
        AdvocacyKind.REFERRAL: {AdvocacyStage.DONE: 1},
    }
    assert counts.total(AdvocacyStage.DONE) == 1
    text_ = advocacy_text(counts)
    assert "1 asked · 1 agreed · 1 done" in text_ and "Referral: 0 asked, 0 agreed, 1 done" in text_
    empty = advocacy_counts(engine, start=T0 - 3 * DAY, end=T0 - DAY)
    assert advocacy_text(empty) == "*Advocacy:* none logged in this period."


def test_top_revenue_passives_and_promoters_get_a_call_suggestion(engine):
    big = make_case(engine, "r-p", score=8, comment="Fine", rules=RULES)
    view = case_view(engine, big)
    assert "top_revenue" in view.case.reasons
    cards = json.dumps([b.to_dict() for b in card_blocks(view, now=T0)])
    assert "Suggested: a call." in cards and "Log insight" in cards
    rules = {**RULES, "routing": {**RULES["routing"], "top_revenue_arr": 10_000_000}}
    small = make_case(engine, "r-s", score=10, comment="Great", rules=rules,
                      customer={"id": "c-s", "name": "S"})  # fmt: skip
    view = case_view(engine, small)
    cards = json.dumps([b.to_dict() for b in card_blocks(view, now=T0)])
    assert "Suggested" not in cards and "Log advocacy" in cards


def test_the_modals_parse_and_refuse():
    assert (
        insight_modal(1, root_causes=["Product gaps"]).to_dict()["callback_id"] == "modal_insight"
    )
    assert advocacy_modal(1).to_dict()["callback_id"] == "modal_advocacy"
    assert parse_insight({}, today=TODAY) == {ModalBlock.CAUSE: "Choose a theme."}
    errors = parse_advocacy({}, today=TODAY)
    assert set(errors) == {ModalBlock.ADVOCACY_KIND, ModalBlock.ADVOCACY_STAGE}
    entry = parse_advocacy(advocacy_values("case_study", "agreed"), today=TODAY)
    assert (entry.kind, entry.stage) == (AdvocacyKind.CASE_STUDY, AdvocacyStage.AGREED)
    line = thread_line(Action.ADVOCACY_LOGGED, "U0A", {"kind": "case_study", "stage": "agreed"})
    assert line == ":star2: <@U0A> logged advocacy: case study (agreed)."


def advocacy_values(kind: str, stage: str) -> dict:
    return {
        ModalBlock.ADVOCACY_KIND: {ModalAction.ADVOCACY_KIND: radio(kind)},
        ModalBlock.ADVOCACY_STAGE: {ModalAction.ADVOCACY_STAGE: radio(stage)},
        ModalBlock.ADVOCACY_NOTES: {ModalAction.ADVOCACY_NOTES: text("G2 review")},
    }


@pytest.fixture
def quick(make_client):
    from tests.conftest import services_of

    client = make_client()
    services_of(client).outbox.channel_interval = 0.0
    return client


def test_a_passive_insight_through_the_app_lands_in_the_rollup(quick, fake_slack):
    case_id, channel, ts = new_case(quick, fake_slack, score=7, comment="It's fine")
    assert "Log insight" in card_json(fake_slack, channel, ts)
    click(quick, CardAction.LOG_INSIGHT, case_id, "U0ALICE", channel, ts)
    wait_until(lambda: fake_slack.calls_to("views.open"))
    opened = fake_slack.calls_to("views.open")[-1].args["view"]
    opened = json.loads(opened) if isinstance(opened, str) else opened
    assert opened["callback_id"] == ModalCallback.INSIGHT
    values = {
        ModalBlock.CAUSE: {ModalAction.CAUSE: select_option("Product gaps")},
        ModalBlock.QUICK_WIN: {ModalAction.QUICK_WIN: text("Bulk export")},
        ModalBlock.INSIGHT_NOTES: {ModalAction.INSIGHT_NOTES: text(None)},
    }
    answer = submit(quick, ModalCallback.INSIGHT, values, case_id, "U0ALICE", channel, ts)
    assert answer.status_code == 200 and not answer.content, answer.text
    wait_until(lambda: case_row(quick, case_id).root_cause == "Product gaps")
    wait_until(lambda: "Product gaps" in card_json(fake_slack, channel, ts))
    wait_until(lambda: any("logged an insight" in t for t in thread_lines(fake_slack, channel, ts)))
    nps(quick, fake_slack, f"rootcause {TODAY:%Y-%m}")
    assert "Product gaps" in json.dumps(respond_text(fake_slack)["blocks"])


def test_advocacy_through_the_app_shows_in_the_kpis(quick, fake_slack):
    case_id, channel, ts = new_case(quick, fake_slack, score=10, comment="Love it")
    click(quick, CardAction.LOG_ADVOCACY, case_id, "U0ALICE", channel, ts)
    wait_until(lambda: fake_slack.calls_to("views.open"))
    refused = submit(
        quick, ModalCallback.ADVOCACY, advocacy_values("review", "done"), case_id, "U0NOBODY",
        channel, ts,
    )  # fmt: skip
    assert "errors" in refused.text
    answer = submit(
        quick, ModalCallback.ADVOCACY, advocacy_values("review", "done"), case_id, "U0ALICE",
        channel, ts,
    )  # fmt: skip
    assert answer.status_code == 200 and not answer.content, answer.text
    wait_until(lambda: any("logged advocacy" in t for t in thread_lines(fake_slack, channel, ts)))
    nps(quick, fake_slack, "kpi 30d")
    blocks = respond_text(fake_slack)["blocks"]
    [section] = [b for b in blocks if b.get("block_id") == AdvocacyBlock.COUNTS]
    assert "Review: 0 asked, 0 agreed, 1 done" in section["text"]["text"]
