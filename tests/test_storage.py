"""Storage on SQLite and PostgreSQL: migrations, conflict-safe intake, concurrent writers."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from bot.config.rules import rules_from_mapping
from bot.domain.vocabulary import PRIORITY_RANK, SYSTEM_ACTOR, Action, Priority
from bot.services.intake import IntakeWriter, parse_survey, to_response_data
from bot.services.router import Router
from storage.activity import insert_activities
from storage.db import create_db_engine, pending_migrations
from storage.models import Account, EscalationStep, FollowUpCase, OutboxMessage, SurveyResponse
from storage.sql import Bulk, writing
from tests.conftest import TEST_RULES, survey_body

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def record(response_id: str, **overrides):
    body = json.dumps(survey_body(response_id, **overrides)).encode()
    return to_response_data(parse_survey(body), received_at=NOW, webhook_id="msg")


def test_migrations_match_the_models(engine):
    assert not pending_migrations(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_datetimes_come_back_aware_utc(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)), clock=lambda: NOW)
    writer._write([record("r-1")])
    with Session(engine) as session:
        case = session.exec(select(FollowUpCase)).one()
    assert case.received_at == NOW
    assert case.created_at.tzinfo is not None
    assert case.contact_due_at > case.received_at


def test_a_batch_with_repeats_makes_one_case_per_response(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    first = writer._write([record("r-1"), record("r-2", score=9), record("r-1")])
    assert {r.created for r in first.values()} == {True}
    again = writer._write([record("r-1"), record("r-3", score=7)])
    assert not again["r-1"].created
    assert again["r-1"].case_id == first["r-1"].case_id
    assert again["r-3"].created
    with Session(engine) as session:
        assert len(session.exec(select(FollowUpCase)).all()) == 3
        assert len(session.exec(select(SurveyResponse)).all()) == 3


def test_steps_and_outbox_rows_are_written_with_the_case(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    writer._write([record("r-1", score=5, comment=None)])
    with Session(engine) as session:
        case = session.exec(select(FollowUpCase)).one()
        assert case.suggest_email_first
        steps = session.exec(select(EscalationStep)).all()
        assert sorted(s.kind for s in steps) == ["ladder", "ladder"]
        outbox = session.exec(select(OutboxMessage)).all()
        assert [(o.kind, o.channel, o.priority) for o in outbox] == [
            ("card", "C0ALICE", PRIORITY_RANK[Priority.HIGH])
        ]


def test_two_writers_on_one_database_never_double_a_case(db_url):
    """Two app instances (separate engines and writers) take the same responses at once."""
    rules = rules_from_mapping(TEST_RULES)
    engines = [create_db_engine(db_url) for _ in range(2)]
    writers = [IntakeWriter(e, Router(rules)) for e in engines]
    batches = [
        [record(f"r-{i}", account={"id": f"a-{i % 3}", "name": "A", "arr": i}) for i in range(30)]
        for _ in range(2)
    ]
    results: list[dict] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(writer: IntakeWriter, batch: list) -> None:
        start.wait()
        try:
            for i in range(0, len(batch), 5):
                results.append(writer._write_with_retry(batch[i : i + 5]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(w, b)) for w, b in zip(writers, batches, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    case_ids: dict[str, set[int]] = {}
    created = 0
    for result in results:
        for rid, stored in result.items():
            case_ids.setdefault(rid, set()).add(stored.case_id)
            created += stored.created
    assert created == 30
    assert all(len(ids) == 1 for ids in case_ids.values())
    with Session(engines[0]) as session:
        assert len(session.exec(select(FollowUpCase)).all()) == 30
        assert len(session.exec(select(Account)).all()) == 3
    for e in engines:
        e.dispose()


def test_account_update_keeps_fields_left_out(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    writer._write([record("r-1")])
    writer._write([record("r-2", account={"id": "a-1", "name": "Acme Renamed", "arr": None})])
    with Session(engine) as session:
        account = session.get(Account, "a-1")
    assert account.name == "Acme Renamed"
    assert account.arr == 120000
    assert account.plan == "Enterprise"
    assert account.renewal_date.isoformat() == "2027-03-01"


def test_ping_and_migrations_report(engine):
    from storage.db import ping

    assert ping(engine)
    broken = create_db_engine("postgresql://nobody@127.0.0.1:1/none")
    assert not ping(broken)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM outbox")).scalar_one() == 0


def test_the_same_response_twice_in_one_group_is_created_once(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)))
    # Queued before the writer starts, so both land in one group commit.
    futures = [writer.submit(record("r-1")), writer.submit(record("r-1"))]
    writer.start()
    try:
        results = [f.result(timeout=10) for f in futures]
    finally:
        writer.stop()
    assert sorted(r.created for r in results) == [False, True]
    assert len({r.case_id for r in results}) == 1


def test_writing_commits_on_success_and_rolls_back_on_error(engine):
    with writing(engine) as conn:
        Bulk(conn).insert("job_run", ("job", "day:d", "ran_at:t"), [("kept", NOW.date(), NOW)])
    with pytest.raises(RuntimeError), writing(engine) as conn:
        Bulk(conn).insert("job_run", ("job", "day:d", "ran_at:t"), [("lost", NOW.date(), NOW)])
        raise RuntimeError("stop")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT job FROM job_run")).scalars().all() == ["kept"]


def test_bulk_ids_come_back_in_the_rows_order(engine):
    writer = IntakeWriter(engine, Router(rules_from_mapping(TEST_RULES)), clock=lambda: NOW)
    case_id = writer._write([record("r-1")])["r-1"].case_id
    rows = [(case_id, NOW, SYSTEM_ACTOR, Action.NUDGED, {"n": n}) for n in range(3)]
    with writing(engine) as conn:
        first = insert_activities(conn, rows)
        second = insert_activities(conn, rows[:1])
    assert len(set(first + second)) == 4 and second[0] > max(first)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, detail FROM activity")).all())
    details = {i: json.loads(d) if isinstance(d, str) else d for i, d in stored.items()}
    assert [details[i] for i in first] == [{"n": 0}, {"n": 1}, {"n": 2}]
