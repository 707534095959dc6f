"""The engine and migrations; SQLite in WAL mode by default, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

# Kept importable from here: writers start their transactions through these names.
from storage.sql import begin_immediate as begin_immediate
from storage.sql import writing as writing

MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def create_db_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine tuned for the backend: SQLite gets WAL, full sync and a busy timeout."""
    url = _normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # JIT compilation costs more than it saves on the reports' short aggregate queries.
        # A statement waits at most 4 s for a lock and runs at most 60 s, so a held lock
        # turns into an error the caller can answer instead of a request held open; an
        # unreachable server is given up after 10 s.
        kwargs.setdefault(
            "connect_args",
            {
                "options": "-c jit=off -c lock_timeout=4s -c statement_timeout=60s",
                "connect_timeout": 10,
            },
        )
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        return sa.create_engine(url, **kwargs)

    memory = parsed.database in (None, "", ":memory:")
    connect_args = {"check_same_thread": False, "timeout": 30}
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is replaced by explicit BEGIN below, so that a
        # writer can take the lock up front (BEGIN IMMEDIATE) and never fail on upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(conn.info.pop("begin", "BEGIN"))

    return engine


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def pending_migrations(engine: sa.Engine) -> bool:
    """True while the database is behind the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() != head


def ping(engine: sa.Engine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
