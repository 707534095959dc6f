"""Migration 0006 (outbox leases) up and down, on SQLite and PostgreSQL, keeping the rows."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from storage.db import alembic_config, migrate

NEW = {"lease_owner", "sending_at", "checks"}
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def outbox_columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("outbox")}


def test_migration_0006_up_and_down(fresh_engine):
    migrate(fresh_engine, "0005")
    assert not NEW & outbox_columns(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outbox (dedupe_key, kind, payload, priority, arr, status, attempts,"
                " next_attempt_at, created_at) VALUES ('k', 'card', '{}', 0, 0, 'sending', 1,"
                " :at, :at)"
            ),
            {"at": AT.isoformat(sep=" ") if fresh_engine.dialect.name == "sqlite" else AT},
        )

    migrate(fresh_engine)
    assert outbox_columns(fresh_engine) >= NEW
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        kept = conn.execute(sa.text("SELECT status, lease_owner, checks FROM outbox")).one()
    assert tuple(kept) == ("sending", None, 0)  # an old in-flight row: held by nobody

    command.downgrade(alembic_config(fresh_engine), "0005")
    assert not NEW & outbox_columns(fresh_engine)
    with fresh_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT dedupe_key FROM outbox")).scalars().all() == ["k"]

    migrate(fresh_engine)
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
