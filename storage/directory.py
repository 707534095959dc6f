"""The cache of Slack user ids looked up by email."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.db import session_scope
from storage.models import SlackUser


class DirectoryCache:
    """Email -> Slack user id (or None: not in the workspace), remembered in the database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, email: str, *, now: datetime, ttl: timedelta) -> tuple[str | None] | None:
        """The cached answer, wrapped in a tuple; None when unknown or older than `ttl`."""
        with session_scope(self.engine) as session:
            row = session.get(SlackUser, email)
            if row is None or (row.user_id is None and now - row.looked_up_at > ttl):
                return None
            return (row.user_id,)

    def put(self, email: str, user_id: str | None, *, now: datetime) -> None:
        with session_scope(self.engine) as session:
            session.merge(SlackUser(email=email, user_id=user_id, looked_up_at=now))
