"""Responses outside `[pilot]`: stored, given no card and no timers, counted here only."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from storage.measures import received
from storage.models import SurveyResponse

RESPONSE = SurveyResponse.__table__


def outside_pilot(engine: sa.Engine, *, start: datetime, end: datetime) -> int:
    """How many responses received in [start, end) fell outside the pilot (test ones aside)."""
    query = (
        sa.select(sa.func.count())
        .select_from(RESPONSE)
        .where(
            RESPONSE.c.outside_pilot.is_(True),
            RESPONSE.c.test.is_(False),
            received(RESPONSE.c.received_at, start, end),
        )
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
