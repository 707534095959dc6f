"""The webhooks' edges: dates out of range, NUL characters, long histories and a locked
database never cost a response or block delivery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.config.rules import rules_from_mapping
from bot.services.intake import IntakeWriter
from bot.services.router import Router
from handlers.account_webhook import account_route
from handlers.survey_webhook import survey_route
from storage.db import begin_immediate
from storage.models import Account, AccountEvent, Customer, FollowUpCase, SurveyResponse
from tests.conftest import (
    POSTGRES_URL,
    TEST_RULES,
    WEBHOOK_SECRET,
    post_survey,
    services_of,
    sign,
    survey_body,
)
from tests.test_intake import stored_nothing
from tests.test_workflow import wait_until

FAR_FUTURE = "9999-12-31T23:59:59-05:00"  # past year 10,000 in UTC
YEAR_ONE = "0001-01-01T00:00:00+05:00"  # before year 1 in UTC


def post_account(client: TestClient, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    return client.post("/webhooks/account", content=raw, headers=sign(raw))


def fields_of(answer: Any) -> set[str]:
    return {f["field"] for f in answer.json()["fields"]}


# --- dates ------------------------------------------------------------------------------------


def with_touchpoint_at(at: str) -> dict[str, Any]:
    return survey_body(touchpoints=[{"at": at, "kind": "billing", "summary": "Invoice"}])


def with_renewal(day: str) -> dict[str, Any]:
    body = survey_body()
    body["account"]["renewal_date"] = day
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (survey_body(submitted_at=FAR_FUTURE), "submitted_at"),
        (survey_body(submitted_at=YEAR_ONE), "submitted_at"),
        (survey_body(submitted_at="1999-12-31T23:00:00Z"), "submitted_at"),
        (with_touchpoint_at(FAR_FUTURE), "touchpoints.0.at"),
        (with_touchpoint_at(YEAR_ONE), "touchpoints.0.at"),
        (with_renewal("9999-12-31"), "account.renewal_date"),
        (with_renewal("0001-01-01"), "account.renewal_date"),
    ],
)
def test_dates_out_of_range_are_422_naming_the_field(client, body, field):
    answer = post_survey(client, body)
    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == {field}
    assert "2000" in answer.json()["fields"][0]["message"]
    assert stored_nothing(services_of(client).engine)


def test_a_refused_date_does_not_hold_up_the_next_card(client, fake_slack):
    assert post_survey(client, survey_body("r-bad", submitted_at=FAR_FUTURE)).status_code == 422
    assert post_survey(client, survey_body("r-good")).status_code == 202
    fake_slack.wait_for("chat.postMessage", count=1)


def test_dates_at_the_edges_of_the_range_are_taken(client):
    body = survey_body(submitted_at="2000-01-01T00:00:00+01:00")
    body["account"]["renewal_date"] = "2100-12-31"
    assert post_survey(client, body).status_code == 202


@pytest.mark.parametrize("at", [FAR_FUTURE, YEAR_ONE])
def test_account_event_time_out_of_range_is_422(client, at):
    answer = post_account(client, {"account_id": "a-1", "event": "churned", "at": at})
    assert answer.status_code == 422
    assert fields_of(answer) == {"at"}
    with Session(services_of(client).engine) as session:
        assert session.exec(select(AccountEvent)).all() == []


# --- NUL characters ---------------------------------------------------------------------------


def test_nul_characters_are_stripped_from_free_text(client):
    body = survey_body(comment="Support\x00 keeps\x00 us waiting", survey="Q4\x00 wave")
    body["customer"]["name"] = "Dana\x00 Reyes"
    body["customer"]["phone"] = "+45\x00 1234"
    body["customer"]["email"] = "dana\x00@acme.example"
    body["account"]["name"] = "Acme\x00 A/S"
    body["account"]["plan"] = "Enter\x00prise"
    body["touchpoints"] = [
        {"at": "2026-11-18T10:00:00Z", "kind": "bil\x00ling", "summary": "Invoice\x00 disputed"}
    ]
    answer = post_survey(client, body)
    assert answer.status_code == 202, answer.text
    with Session(services_of(client).engine) as session:
        response = session.exec(select(SurveyResponse)).one()
        customer = session.get(Customer, "c-1")
        account = session.get(Account, "a-1")
        assert response.comment == "Support keeps us waiting"
        assert response.survey == "Q4 wave"
        assert response.touchpoints[0]["kind"] == "billing"
        assert response.touchpoints[0]["summary"] == "Invoice disputed"
        assert (customer.name, customer.phone) == ("Dana Reyes", "+45 1234")
        assert customer.email == "dana@acme.example"
        assert (account.name, account.plan) == ("Acme A/S", "Enterprise")


def test_a_name_of_nul_characters_only_is_422(client):
    body = survey_body()
    body["customer"]["name"] = "\x00\x00"
    answer = post_survey(client, body)
    assert answer.status_code == 422
    assert fields_of(answer) == {"customer.name"}


def nul_in(path: str) -> dict[str, Any]:
    body = survey_body(resurvey_of="r-0")
    *parents, key = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    target[key] = "x\x00y" if key != "owner" else "al\x00ice@example.com"
    return body


@pytest.mark.parametrize(
    "field", ["response_id", "customer.id", "account.id", "account.owner", "resurvey_of"]
)
def test_nul_characters_in_ids_are_422(client, field):
    answer = post_survey(client, nul_in(field))
    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == {field}
    assert stored_nothing(services_of(client).engine)


def test_nul_in_an_account_event_id_is_422(client):
    answer = post_account(
        client, {"account_id": "a\x001", "event": "churned", "at": "2026-11-20T10:00:00Z"}
    )
    assert answer.status_code == 422
    assert fields_of(answer) == {"account_id"}


# --- long histories ---------------------------------------------------------------------------


def test_more_than_50_touchpoints_keep_the_response_and_the_latest_50(client):
    start = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    days = list(range(80))
    days.reverse()  # sent newest first: what is kept must not depend on the order
    touchpoints = [
        {"at": (start + timedelta(days=d)).isoformat(), "kind": "call", "summary": f"day {d}"}
        for d in days
    ]
    answer = post_survey(client, survey_body(score=1, touchpoints=touchpoints))
    assert answer.status_code == 202, answer.text
    assert answer.json()["segment"] == "detractor"
    with Session(services_of(client).engine) as session:
        kept = session.exec(select(SurveyResponse)).one().touchpoints
    assert len(kept) == 50
    assert {t["summary"] for t in kept} == {f"day {d}" for d in range(30, 80)}


# --- a locked database ------------------------------------------------------------------------

ANSWER_WITHIN = 0.5


@pytest.fixture
def edge(engine: sa.Engine) -> Iterator[TestClient]:
    """Both webhook routes on their own, answering within half a second."""
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    writer.start()
    app = Starlette(
        routes=[
            survey_route(secret=WEBHOOK_SECRET, writer=writer, answer_within=ANSWER_WITHIN),
            account_route(secret=WEBHOOK_SECRET, engine=engine, answer_within=ANSWER_WITHIN),
        ]
    )
    with TestClient(app) as client:
        yield client
    writer.stop()


@contextmanager
def locked(engine: sa.Engine) -> Iterator[None]:
    """Hold the database's write lock (SQLite) or the account table's lock (PostgreSQL)."""
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin() as transaction:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("LOCK TABLE account IN ACCESS EXCLUSIVE MODE"))
            else:
                conn.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE runs with the first statement
            try:
                yield
            finally:
                transaction.rollback()


def answer_while_locked(engine: sa.Engine, post: Any) -> tuple[Any, float]:
    """Post while the database is locked; the answer and how long it took."""
    with ThreadPoolExecutor(max_workers=1) as pool, locked(engine):
        started = time.monotonic()
        pending = pool.submit(post)
        try:
            answer = pending.result(timeout=ANSWER_WITHIN + 3)
        except TimeoutError:
            pytest.fail("the webhook held the request open while the database was locked")
        took = time.monotonic() - started
    return answer, took


def test_survey_webhook_answers_503_while_the_database_is_locked(edge, engine):
    body = json.dumps(survey_body("r-locked")).encode()
    answer, took = answer_while_locked(
        engine, lambda: edge.post("/webhooks/survey", content=body, headers=sign(body))
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"].isdigit()
    assert took < ANSWER_WITHIN + 1.5
    # The response was queued before the deadline: once the lock goes it is committed, and the
    # platform's retry finds it by its response id.
    wait_until(lambda: count_cases(engine) == 1, timeout=10)
    again = edge.post("/webhooks/survey", content=body, headers=sign(body))
    assert again.status_code == 200
    assert again.json()["response_id"] == "r-locked"


def test_account_webhook_answers_503_while_the_database_is_locked(edge, engine):
    event = {"account_id": "a-9", "event": "renewed", "at": "2026-11-20T10:00:00Z"}
    raw = json.dumps(event).encode()
    answer, took = answer_while_locked(
        engine, lambda: edge.post("/webhooks/account-events", content=raw, headers=sign(raw))
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"].isdigit()
    assert took < ANSWER_WITHIN + 1.5
    wait_until(lambda: count_events(engine) == 1, timeout=10)
    again = edge.post("/webhooks/account-events", content=raw, headers=sign(raw))
    assert again.status_code == 200


def count_cases(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(FollowUpCase)).all())


def count_events(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AccountEvent)).all())


@pytest.mark.skipif(not POSTGRES_URL, reason="NPS_TEST_POSTGRES_URL is not set")
def test_postgres_connections_give_up_on_locks_and_long_statements():
    from storage.db import create_db_engine

    engine = create_db_engine(POSTGRES_URL or "")
    try:
        with engine.connect() as conn:
            lock = conn.execute(sa.text("SHOW lock_timeout")).scalar_one()
            statement = conn.execute(sa.text("SHOW statement_timeout")).scalar_one()
            jit = conn.execute(sa.text("SHOW jit")).scalar_one()
    finally:
        engine.dispose()
    assert lock not in ("0", "0s")
    assert statement not in ("0", "0s")
    assert jit == "off"
