"""The email -> Slack user id cache behind `users.lookupByEmail`: one lookup a person a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.models import SlackUser
from storage.sql import Bulk, writing

SLACK_USER = SlackUser.__table__


class SlackUserCache:
    """Email -> Slack user id (or None: not in the workspace), remembered in the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, email: str, *, now: datetime, ttl: timedelta) -> tuple[str | None] | None:
        """The cached answer, wrapped in a tuple; None when unknown or a miss older than `ttl`."""
        query = sa.select(SLACK_USER.c.user_id, SLACK_USER.c.looked_up_at).where(
            SLACK_USER.c.email == email
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or (row.user_id is None and now - row.looked_up_at > ttl):
            return None
        return (row.user_id,)

    def put(self, email: str, user_id: str | None, *, now: datetime) -> None:
        """Remember an answer; takes the write lock up front so a busy writer is waited for."""
        upsert = (
            " ON CONFLICT (email) DO UPDATE SET user_id = excluded.user_id,"
            " looked_up_at = excluded.looked_up_at"
        )
        with writing(self.engine) as conn:
            columns = ("email", "user_id", "looked_up_at:t")
            Bulk(conn).insert("slack_user", columns, [(email, user_id, now)], upsert)
