"""Activity rows: what happened to a case, who did it and when, written in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.domain.vocabulary import Action
from storage.sql import Bulk

ACTIVITY_COLUMNS = ("case_id", "at:t", "actor", "action", "detail:j")

ActivityRow = tuple[int, datetime, str, Action, Any]


def insert_activities(conn: sa.Connection, rows: Sequence[ActivityRow]) -> list[int]:
    """Write (case_id, at, actor, action, detail) rows; their ids, in the rows' order."""
    return Bulk(conn).copy_with_ids("activity", ACTIVITY_COLUMNS, rows)
