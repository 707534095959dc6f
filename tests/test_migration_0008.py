"""Migration 0008 (the playbook's case columns) up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from storage.db import alembic_config, migrate
from tests.test_timers import make_case

NEW = {"priority", "tier", "routed_by", "resolution_reminded_at", "resolution_overdue_at"}


def case_columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("follow_up_case")}


def test_migration_0008_up_and_down_backfills_priority(fresh_engine):
    migrate(fresh_engine)
    detractor = make_case(fresh_engine, "r-1", score=2)
    passive = make_case(fresh_engine, "r-2", score=8, customer={"id": "c-2", "name": "B"})
    promoter = make_case(fresh_engine, "r-3", score=10, customer={"id": "c-3", "name": "C"})

    command.downgrade(alembic_config(fresh_engine), "0007")
    assert not NEW & case_columns(fresh_engine)
    with fresh_engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT id FROM follow_up_case ORDER BY id")).scalars().all()
    assert kept == [detractor, passive, promoter]

    migrate(fresh_engine)
    assert case_columns(fresh_engine) >= NEW
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        rows = conn.execute(
            sa.text("SELECT id, priority, tier FROM follow_up_case ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [
        (detractor, "high", None),
        (passive, "medium", None),
        (promoter, "low", None),
    ]
