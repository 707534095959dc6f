"""`POST /webhooks/survey` end to end: signatures, validation, idempotency, concurrency."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from storage.models import (
    Account,
    Activity,
    Customer,
    EscalationStep,
    FollowUpCase,
    OutboxMessage,
    SurveyResponse,
)
from tests.conftest import WEBHOOK_SECRET, post_survey, services_of, sign, survey_body


def count(engine: sa.Engine, model: type) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model)).all())


def stored_nothing(engine: sa.Engine) -> bool:
    return all(
        count(engine, m) == 0
        for m in (Account, Customer, SurveyResponse, FollowUpCase, OutboxMessage, Activity)
    )


def test_new_response_is_stored_routed_and_carded(client, fake_slack):
    answer = post_survey(client, survey_body())
    assert answer.status_code == 202
    assert answer.json() == {"response_id": "r-1", "case_id": 1, "segment": "detractor"}

    engine = services_of(client).engine
    with Session(engine) as session:
        case = session.exec(select(FollowUpCase)).one()
        assert case.segment == "detractor"
        assert case.owner_ref == "alice@example.com"
        # the only known account is in the top 20% by ARR
        assert set(case.reasons) == {"churn_intent", "top_revenue"}
        # churn intent from a 0-3 score shortens the 48h contact deadline to 24h
        assert case.contact_due_at - case.received_at == timedelta(hours=24)
        steps = session.exec(select(EscalationStep).order_by(EscalationStep.id)).all()
        ladder = [(s.notify, s.due_at - case.received_at) for s in steps if s.kind == "ladder"]
        assert ladder == [("manager", timedelta(hours=24)), ("cx_lead", timedelta(hours=36))]
        alerts = [(s.notify, s.reason) for s in steps if s.kind == "alert"]
        assert alerts == [("cx_lead", "churn_intent"), ("vp_customer_success", "top_revenue")]
        activity = session.exec(select(Activity)).one()
        assert activity.action == "received"

    posts = fake_slack.wait_for("chat.postMessage", count=3)
    by_channel = {call.args["channel"]: call.args for call in posts}
    assert "C0ALICE" in by_channel  # the owner's channel from the rules
    assert "U0CXLEAD" in by_channel  # the churn alert, straight to the CX lead
    assert "U0VP" in by_channel  # a 0-3 score from a top-revenue account
    card = by_channel["C0ALICE"]
    assert "Dana Reyes" in json.dumps(card["blocks"])
    assert fake_slack.calls_to("users.lookupByEmail")[0].args["email"] == "alice@example.com"


def test_repeated_response_id_answers_200_with_the_same_case(client):
    first = post_survey(client, survey_body(), msg_id="msg_a")
    again = post_survey(client, survey_body(), msg_id="msg_b")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == first.json()
    assert count(services_of(client).engine, FollowUpCase) == 1


def test_forty_concurrent_deliveries_of_one_response_make_one_case(client):
    body = json.dumps(survey_body("r-same")).encode()
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(
            pool.map(
                lambda i: client.post(
                    "/webhooks/survey", content=body, headers=sign(body, msg_id=f"m{i}")
                ),
                range(40),
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 39 + [202]
    assert len({a.json()["case_id"] for a in answers}) == 1
    engine = services_of(client).engine
    assert count(engine, FollowUpCase) == 1
    assert count(engine, SurveyResponse) == 1


def test_concurrent_responses_from_one_account_all_succeed(client):
    bodies = [
        json.dumps(survey_body(f"r-{i}", score=i % 11, customer={"id": f"c-{i}", "name": "X"}))
        for i in range(40)
    ]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda b: post_survey(client, b.encode()), bodies))
    assert [a.status_code for a in answers] == [202] * 40
    engine = services_of(client).engine
    assert count(engine, Account) == 1
    assert count(engine, FollowUpCase) == 40


def test_account_data_updates_the_account_and_keeps_history(client):
    post_survey(client, survey_body("r-1", score=2))
    newer = survey_body(
        "r-2",
        score=8,
        comment="Better now",
        account={"id": "a-1", "name": "Acme A/S", "arr": 150000, "owner": "U0BOB"},
    )
    assert post_survey(client, newer).status_code == 202
    engine = services_of(client).engine
    with Session(engine) as session:
        account = session.get(Account, "a-1")
        assert (account.arr, account.owner) == (150000, "U0BOB")
        assert account.plan == "Enterprise"  # not sent again: kept
        scores = session.exec(select(SurveyResponse.score).order_by(SurveyResponse.id)).all()
        assert scores == [2, 8]
        latest = session.exec(select(FollowUpCase).where(FollowUpCase.response_id == "r-2")).one()
        assert (latest.segment, latest.owner_ref) == ("passive", "U0BOB")


def test_not_json_is_400_and_stores_nothing(client):
    raw = b"{not json"
    answer = client.post("/webhooks/survey", content=raw, headers=sign(raw))
    assert answer.status_code == 400
    raw = b"[1, 2]"
    assert client.post("/webhooks/survey", content=raw, headers=sign(raw)).status_code == 400
    assert stored_nothing(services_of(client).engine)


def test_bad_signatures_are_401_and_store_nothing(client):
    raw = json.dumps(survey_body()).encode()
    wrong_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    cases = {
        "missing": {"content-type": "application/json"},
        "wrong secret": sign(raw, secret=wrong_secret),
        "stale": sign(raw, at=datetime.now(UTC) - timedelta(minutes=6)),
        "future": sign(raw, at=datetime.now(UTC) + timedelta(minutes=6)),
        "garbled": {**sign(raw), "webhook-signature": "v1"},
        "tampered": sign(raw.replace(b'"score": 3', b'"score": 9')),
    }
    for name, headers in cases.items():
        answer = client.post("/webhooks/survey", content=raw, headers=headers)
        assert answer.status_code == 401, name
        assert WEBHOOK_SECRET not in answer.text
    assert stored_nothing(services_of(client).engine)


def test_body_over_256_kib_is_413(client):
    raw = json.dumps(survey_body(comment="x" * (257 * 1024))).encode()
    answer = client.post("/webhooks/survey", content=raw, headers=sign(raw))
    assert answer.status_code == 413
    assert stored_nothing(services_of(client).engine)


def test_invalid_fields_are_422_with_every_field_named(client):
    body = survey_body(score=11)
    del body["customer"]["name"]
    body["account"]["owner"] = "not a person"
    body["account"]["arr"] = -5
    body["submitted_at"] = "yesterday"
    answer = post_survey(client, body)
    assert answer.status_code == 422
    fields = {f["field"] for f in answer.json()["fields"]}
    assert fields == {
        "score",
        "customer.name",
        "account.owner",
        "account.arr",
        "submitted_at",
    }
    assert "Dana" not in answer.text  # input is never echoed back
    assert stored_nothing(services_of(client).engine)


def test_score_must_be_a_whole_number(client):
    for score in (3.5, "3", True, None):
        answer = post_survey(client, survey_body(score=score))
        assert answer.status_code == 422, score
        assert [f["field"] for f in answer.json()["fields"]] == ["score"]


def test_required_fields(client):
    answer = post_survey(client, {"score": 5})
    assert answer.status_code == 422
    assert {f["field"] for f in answer.json()["fields"]} == {"response_id", "customer", "account"}


def test_healthz_reports_database_and_outbox(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["database"] == "ok"
