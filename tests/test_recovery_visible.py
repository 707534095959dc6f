"""A re-survey answer people see: the card shows the recovery, the owner and the CX lead get a DM,
the activity log records it and the case carries the `detractor recovery` tag."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from blocks.card import card_blocks
from bot.domain.vocabulary import DETRACTOR_RECOVERY, Action
from storage import cases
from storage.case_view import case_view
from storage.export import export_cases
from tests.conftest import post_survey, services_of, survey_body
from tests.test_escalations import dms_to
from tests.test_timers import T0, case, make_case, outbox
from tests.test_workflow import card_json, case_row, new_case, thread_lines, wait_until


def resolve(engine, case_id: int, at: datetime) -> None:
    cases.resolve(
        engine, case_id, actor="U0ALICE", summary="Fixed", satisfied=True,
        root_cause="Billing errors", resurvey_on=None, now=at,
    )  # fmt: skip


def test_a_linked_re_survey_is_recorded_announced_and_tagged(engine):
    case_id = make_case(engine, score=3)
    resolve(engine, case_id, T0 + timedelta(days=1))
    assert outbox(engine, "recovery") == []
    make_case(engine, "r-2", score=9, comment="Much better", at=T0 + timedelta(days=35))
    make_case(engine, "r-3", score=10, comment="Great", at=T0 + timedelta(days=70))

    [row] = [a for a in cases.case_activity(engine, case_id) if a.action == Action.RECOVERED]
    assert row.detail == {"response_id": "r-2", "score": 3, "recovery_score": 9}
    assert sorted(r.payload["notify"] for r in outbox(engine, "recovery")) == ["cx_lead", "owner"]
    updates = [r for r in outbox(engine, "card_update") if r.case_id == case_id]
    assert updates and outbox(engine, "thread")

    view = case_view(engine, case_id)
    card = json.dumps([b.to_dict() for b in card_blocks(view, now=T0 + timedelta(days=36))])
    assert "*Recovery:* 3 \\u2192 9" in card and DETRACTOR_RECOVERY in card
    tags = {r["case_id"]: r["tags"] for r in export_cases(engine)}
    assert tags[case_id] == DETRACTOR_RECOVERY
    assert case(engine, case_id).recovery_score == 9


def test_a_passive_re_survey_updates_the_card_without_dms(engine):
    case_id = make_case(engine, score=8)
    cases.mark_done(engine, case_id, actor="U0ALICE", now=T0 + timedelta(days=1))
    make_case(engine, "r-2", score=9, comment="Even better", at=T0 + timedelta(days=35))
    assert case(engine, case_id).recovery_score == 9
    assert [a.action for a in cases.case_activity(engine, case_id)][-1] == Action.RECOVERED
    assert outbox(engine, "recovery") == []
    assert [r["tags"] for r in export_cases(engine)] == ["", ""]


def test_an_unresolved_case_gets_no_recovery(engine):
    case_id = make_case(engine, score=3)
    make_case(engine, "r-2", score=9, comment="Better", at=T0 + timedelta(days=35))
    assert case(engine, case_id).recovery_score is None
    assert outbox(engine, "recovery") == []
    assert [r["tags"] for r in export_cases(engine)] == ["", ""]


def test_the_recovery_re_renders_the_card_and_dms_owner_and_cx_lead(make_client, fake_slack):
    client = make_client()
    services_of(client).outbox.channel_interval = 0.0
    case_id, channel, ts = new_case(client, fake_slack, score=3)
    resolve(services_of(client).engine, case_id, datetime.now(UTC))
    answer = post_survey(client, survey_body("r-2", score=9, comment="Much better now"))
    assert answer.status_code == 202
    wait_until(lambda: case_row(client, case_id).recovery_score == 9)
    wait_until(lambda: "3 \\u2192 9" in card_json(fake_slack, channel, ts))
    assert DETRACTOR_RECOVERY in card_json(fake_slack, channel, ts)

    def recovery_dms(user: str) -> list[dict]:
        return [m for m in dms_to(fake_slack, user) if "Re-survey" in m["text"]]

    for user in ("U0CXLEAD", "U0ALICE"):
        wait_until(lambda user=user: recovery_dms(user))
        [dm] = recovery_dms(user)
        assert "3 → 9" in dm["text"]
    wait_until(
        lambda: any("Re-survey answered" in t for t in thread_lines(fake_slack, channel, ts))
    )
