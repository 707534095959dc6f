"""`nps-bot outbox status` and `nps-bot outbox retry`: counts without personal data, and failed
or waiting deliveries sent again."""

from __future__ import annotations

import pytest

from bot.app.cli import main
from storage import cases
from tests.test_outbox import card_row, make_worker, outbox_rows, queue, response


@pytest.fixture
def cli(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    return db_url


def test_status_of_an_empty_outbox(cli, capsys):
    assert main(["outbox", "status"]) == 0
    assert capsys.readouterr().out.strip() == "the outbox is empty"


def test_status_counts_by_state_and_kind_with_the_oldest_wait(cli, engine, fake_slack, capsys):
    queue(engine, response("r-1", score=2, comment="We will cancel.", arr=900_000))
    fake_slack.missing_channels = {"U0VP"}
    worker, _ = make_worker(engine, fake_slack)
    worker.drain()

    assert main(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    assert ["sent", "card", "1"] in lines
    assert ["sent", "alert", "1"] in lines
    assert ["failed", "alert", "1"] in lines
    assert "nothing is waiting" in out
    for personal in ("Customer r-1", "dana@acme.example", "+45", "cancel"):
        assert personal not in out

    queue(engine, response("r-2", account_id="a-2"))
    assert main(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    assert ["pending", "card", "1"] in [line.split() for line in out.splitlines()]
    assert "oldest pending: queued" in out


def test_retry_makes_waiting_rows_due_and_failed_rows_pending_again(
    cli, engine, fake_slack, capsys
):
    [stored] = queue(engine, response("r-1"))
    fake_slack.error_next("chat.postMessage", "restricted_action_read_only_channel")
    fake_slack.missing_channels = {"C0DEFAULT"}  # so the card cannot fall back either
    worker, clock = make_worker(engine, fake_slack)
    worker.drain()
    card = card_row(engine, stored.case_id)
    assert card.status == "failed"
    cases.claim(engine, stored.case_id, actor="U0ALICE", now=clock.now)
    worker.drain()
    thread = next(r for r in outbox_rows(engine) if r.kind == "thread")
    assert thread.status == "skipped"

    assert main(["outbox", "retry"]) == 0
    assert "sent again" not in capsys.readouterr().out
    assert card_row(engine, stored.case_id).status == "failed"

    assert main(["outbox", "retry", "--failed", "--channel", "C0OTHER"]) == 0
    assert "0 failed" in capsys.readouterr().out
    assert card_row(engine, stored.case_id).status == "failed"

    # The card fell back to the default channel, which failed too: that is where it is bound.
    assert card_row(engine, stored.case_id).channel == "C0DEFAULT"
    assert main(["outbox", "retry", "--failed", "--channel", "C0DEFAULT"]) == 0
    assert "1 failed, 1 thread lines" in capsys.readouterr().out
    again = card_row(engine, stored.case_id)
    assert (again.status, again.attempts) == ("pending", 0)
    fake_slack.missing_channels = set()  # the channel was mended
    worker.drain()
    clock.advance(3)  # the thread line waited for its card
    worker.drain()
    assert card_row(engine, stored.case_id).status == "sent"
    assert next(r for r in outbox_rows(engine) if r.kind == "thread").status == "sent"


def test_retry_brings_a_backed_off_row_forward(cli, engine, fake_slack, capsys):
    [stored] = queue(engine, response("r-1"))
    fake_slack.error_next("chat.postMessage", "message_limit_exceeded")
    worker, clock = make_worker(engine, fake_slack)
    worker.drain()
    waiting = card_row(engine, stored.case_id)
    assert waiting.status == "pending" and waiting.next_attempt_at > clock.now

    assert main(["outbox", "retry"]) == 0
    assert "due now: 1 waiting" in capsys.readouterr().out
    worker.drain()  # no time has passed for the worker: the row is due because it was asked
    assert card_row(engine, stored.case_id).status == "sent"


def test_errors_are_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert main(["outbox", "status"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nps-bot: DATABASE_URL: cannot connect to the database"]

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["outbox", "retry", "--failed"]) == 2
    assert "schema is behind" in capsys.readouterr().err
