"""Stuck must not look healthy: `/healthz` is degraded (503) while delivery is paused or mail
piles up, and a repeating failure logs one line per backoff step, never a traceback."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from bot.config.rules import rules_from_mapping
from bot.delivery.health import DeliveryState, outbox_health
from tests.conftest import TEST_RULES, post_survey, survey_body
from tests.test_delivery_faults import bad_templates
from tests.test_outbox import make_worker, queue, response


def wait_until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_health_is_ok_when_nothing_waits_long(engine):
    health = outbox_health(engine, DeliveryState(), now=_now())
    assert not health.degraded
    assert health.as_dict() == {
        "pending": 0,
        "failed": 0,
        "oldest_pending_seconds": None,
        "paused": None,
        "last_error": None,
    }


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_health_is_degraded_while_paused_or_when_the_oldest_waits_too_long(engine):
    [stored] = queue(engine, response("r-1"))
    assert stored.case_id
    now = _now()
    fresh = outbox_health(engine, DeliveryState(last_error="ratelimited"), now=now)
    assert not fresh.degraded
    assert (fresh.pending, fresh.last_error) == (1, "ratelimited")

    paused = outbox_health(engine, DeliveryState(paused="token_revoked"), now=now)
    assert paused.degraded and paused.paused == "token_revoked"

    late = outbox_health(engine, DeliveryState(), now=now + timedelta(minutes=20))
    assert late.degraded
    assert late.oldest_pending_seconds >= 20 * 60
    assert not outbox_health(
        engine, DeliveryState(), now=now + timedelta(minutes=20), max_wait=timedelta(hours=1)
    ).degraded


def test_healthz_answers_503_while_the_token_is_refused(client, fake_slack):
    fake_slack.token_error = "token_revoked"
    assert post_survey(client, survey_body("r-1")).status_code == 202

    def degraded() -> bool:
        return client.get("/healthz").status_code == 503

    wait_until(degraded)
    answer = client.get("/healthz").json()
    assert answer["status"] == "degraded"
    assert answer["outbox"]["paused"] == "token_revoked"
    assert answer["outbox"]["last_error"] == "token_revoked"
    assert answer["outbox"]["pending"] == 3

    fake_slack.token_error = None
    wait_until(lambda: client.get("/healthz").status_code == 200)
    wait_until(lambda: len(fake_slack.calls_to("chat.postMessage")) >= 3)
    assert client.get("/healthz").json()["outbox"]["paused"] is None


def test_a_repeating_failure_logs_one_line_per_backoff_step(engine, fake_slack, tmp_path, caplog):
    rules = rules_from_mapping(bad_templates(tmp_path))
    queue(engine, response("r-1", score=5), rules=rules)
    worker, clock = make_worker(engine, fake_slack, rules=rules)

    with caplog.at_level(logging.DEBUG, logger="bot"):
        caplog.clear()
        for _ in range(20):  # twenty passes, a second apart: backoff spaces the attempts
            worker.drain()
            clock.advance(1)

    retries = [r for r in caplog.records if r.getMessage().startswith("outbox.retry")]
    assert 3 <= len(retries) <= 5  # attempts at 0, 1, 3, 7, 15 s
    assert all("error=UndefinedError" in r.getMessage() for r in retries)
    loud = [r for r in caplog.records if r.levelno >= logging.INFO and r.exc_info]
    assert loud == [], "no traceback above debug"


def test_a_failing_pass_logs_one_line_per_backoff_step(engine, fake_slack, caplog, monkeypatch):
    worker, _ = make_worker(engine, fake_slack)

    def broken() -> bool:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(worker, "run_once", broken)
    with caplog.at_level(logging.INFO, logger="bot.delivery"):
        worker.start()
        time.sleep(2.5)
        worker.stop()
    failed = [r for r in caplog.records if "outbox.pass_failed" in r.getMessage()]
    assert len(failed) == 2  # at once, then after the 2 s backoff
    assert "retry_in=2s" in failed[0].getMessage()
    assert all(r.exc_info is None for r in failed)


def test_the_worker_reports_its_state(engine, fake_slack):
    fake_slack.token_error = "account_inactive"
    queue(engine, response("r-1"))
    worker, _ = make_worker(engine, fake_slack, rules=rules_from_mapping(TEST_RULES))
    worker.drain()
    state = worker.state()
    assert (state.paused, state.last_error) == ("account_inactive", "account_inactive")
    assert state.paused_since is not None
