"""When a survey source's read-back queue makes /healthz degraded."""

from __future__ import annotations

from bot.app.health import STUCK_AFTER, _sources_degraded


def source(**fetches: object) -> dict:
    return {"sm": {"platform": "surveymonkey", "deliveries": {}, "fetches": fetches}}


def test_a_failed_read_back_or_one_failing_too_long_degrades():
    assert not _sources_degraded({})
    assert not _sources_degraded(source(pending=3, failing=0, failed=0))
    assert not _sources_degraded(source(pending=1, failing=1, oldest_pending_seconds=60))
    assert _sources_degraded(source(pending=1, failing=1, oldest_pending_seconds=STUCK_AFTER + 1))
    assert _sources_degraded(source(pending=0, failing=0, failed=1))
    assert not _sources_degraded({"typeform": {"platform": "typeform", "deliveries": {}}})
