"""Alembic environment: runs against the engine the application hands over."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)
from storage.db import create_db_engine

config = context.config
engine = config.attributes.get("engine") or create_db_engine(
    os.environ.get("DATABASE_URL", "sqlite:///nps_bot.db")
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
