"""`/nps digest|kpi|rootcause`, the account webhook, the scheduled digest and the CSV commands,
end to end through the real app and the fake Slack."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.app.cli import main
from bot.config.rules import rules_from_mapping
from bot.delivery.outbox import OutboxWorker
from bot.delivery.slack import UserDirectory, Workspace, make_client
from bot.services.reports import Reports
from storage import cases
from storage.db import create_db_engine
from storage.models import AccountEvent
from storage.slack_users import SlackUserCache
from tests.conftest import (
    TEST_RULES,
    post_slack,
    post_survey,
    services_of,
    sign,
    slash_command,
    survey_body,
)


def respond_text(fake_slack, count: int = 1) -> dict:
    return fake_slack.wait_for_response(count)[-1]


def nps(client, fake_slack, text: str, *, user: str = "U0CXLEAD", channel: str = "C0ALICE"):
    form = slash_command(text, user=user, channel=channel, response_url=fake_slack.response_url())
    answer = post_slack(client, form)
    assert answer.status_code == 200
    assert not answer.content  # acknowledged at once; the report follows


def seed(client):
    post_survey(client, survey_body("r-1", score=2))
    post_survey(
        client,
        survey_body(
            "r-2",
            score=5,
            comment="Support is slow",
            customer={"id": "c-2", "name": "Sam Big"},
            account={"id": "a-2", "name": "Bigger Co", "arr": 900000, "owner": "U0BOB"},
        ),
    )
    post_survey(
        client,
        survey_body(
            "r-3",
            score=10,
            comment="Love it",
            customer={"id": "c-3", "name": "Pat Small"},
            account={"id": "a-3", "name": "Small Co", "arr": 5000, "owner": "U0BOB"},
        ),
    )


def test_digest_is_shown_to_the_caller_highest_arr_first(client, fake_slack):
    seed(client)
    nps(client, fake_slack, "")  # the bare command is the digest
    answer = respond_text(fake_slack)
    assert answer["response_type"] == "ephemeral"
    body = json.dumps(answer["blocks"])
    assert body.index("Bigger Co") < body.index("Acme") < body.index("Small Co")
    assert "New today" in body


def test_an_owner_sees_their_own_cases_unless_all(client, fake_slack):
    seed(client)
    nps(client, fake_slack, "digest", user="U0BOB")
    mine = json.dumps(respond_text(fake_slack)["blocks"])
    assert "Bigger Co" in mine and "Acme" not in mine
    nps(client, fake_slack, "digest all", user="U0BOB")
    everyone = json.dumps(respond_text(fake_slack, 2)["blocks"])
    assert "Acme" in everyone


def test_digest_post_shares_it_in_the_channel(client, fake_slack):
    seed(client)
    nps(client, fake_slack, "digest post", channel="C0STANDUP")
    fake_slack.wait_for("chat.postMessage", count=1)

    def standup() -> list:
        return [
            c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0STANDUP"
        ]

    import time

    deadline = time.monotonic() + 5
    while not standup() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Bigger Co" in json.dumps(standup()[0].args["blocks"])


def test_kpi_for_a_period(client, fake_slack):
    seed(client)
    nps(client, fake_slack, "kpi 30d")
    body = json.dumps(respond_text(fake_slack)["blocks"])
    for words in ("Contact rate", "Resolution rate", "recovery", "ROI", "NPS"):
        assert words.lower() in body.lower()


def test_kpi_quarters_sets_four_quarters_side_by_side(client, fake_slack):
    seed(client)
    nps(client, fake_slack, "kpi quarters")
    answer = respond_text(fake_slack)
    table = next(b for b in answer["blocks"] if b.get("block_id") == "kpi_quarters")
    lines = table["text"]["text"].strip("`").splitlines()
    assert lines[0].startswith("KPI") and lines[0].endswith("Target")
    assert len(lines[0].split()) == 1 + 4 * 2 + 1  # "Qn YYYY" per quarter
    assert [line.split()[0] for line in lines[1:]] == [
        "Contact",
        "Resolution",
        "Score",
        "Churn",
        "Program",
        "NPS",
    ]


def test_bad_arguments_get_the_help(client, fake_slack):
    nps(client, fake_slack, "kpi last-tuesday")
    answer = respond_text(fake_slack)
    assert "/nps kpi" in answer["text"]
    nps(client, fake_slack, "frobnicate")
    assert "There is no `/nps frobnicate`" in respond_text(fake_slack, 2)["text"]


def test_rootcause_rollup(client, fake_slack):
    seed(client)
    engine = services_of(client).engine
    now = datetime.now(UTC)
    cases.log_root_cause(
        engine,
        1,
        actor="U0ALICE",
        cause="Billing errors",
        notes=None,
        action_items=None,
        next_follow_up=None,
        escalation=None,
        now=now,
    )
    month = now.strftime("%Y-%m")
    nps(client, fake_slack, f"rootcause {month}")
    body = json.dumps(respond_text(fake_slack)["blocks"])
    assert "Billing errors" in body
    assert "$120k" in body


def test_rootcause_shows_the_theme_owner_mandate_and_change(make_client, fake_slack):
    theme = {"name": "Billing errors", "owner": "U0FINANCE", "mandate": "Invoices right."}
    client = make_client(TEST_RULES | {"themes": [theme]})
    seed(client)
    now = datetime.now(UTC)
    cases.log_root_cause(
        services_of(client).engine,
        1,
        actor="U0ALICE",
        cause="Billing errors",
        notes=None,
        action_items=None,
        next_follow_up=None,
        escalation=None,
        now=now,
    )
    nps(client, fake_slack, f"rootcause {now.strftime('%Y-%m')}")
    cause = next(b for b in respond_text(fake_slack)["blocks"] if b.get("block_id") == "cause_1")
    lines = cause["text"]["text"].splitlines()
    assert lines[0].startswith("*Billing errors*")
    assert lines[1].startswith("new since ")  # nothing the month before
    assert lines[2] == "Owner: <@U0FINANCE> · Mandate: _Invoices right._"


def account_event(client, body: dict, **kw):
    raw = json.dumps(body).encode()
    return client.post("/webhooks/account", content=raw, headers=sign(raw, **kw))


def test_account_webhook_records_churn_once(client):
    event = {"account_id": "a-1", "event": "churned", "at": "2026-11-20T10:00:00Z", "arr": 1000}
    assert account_event(client, event).status_code == 202
    assert account_event(client, event).status_code == 200
    bad = account_event(client, {**event, "event": "left"})
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["fields"]] == ["event"]
    raw = json.dumps(event).encode()
    refused = client.post(
        "/webhooks/account", content=raw, headers={"content-type": "application/json"}
    )
    assert refused.status_code == 401
    with Session(services_of(client).engine) as session:
        assert len(session.exec(select(AccountEvent)).all()) == 1


def _reports(engine, fake_slack, rules, clock) -> Reports:
    client = make_client("xoxb-test", fake_slack.url)
    return Reports(
        engine,
        rules,
        UserDirectory(client, SlackUserCache(engine)),
        Workspace(client),
        clock=clock,
    )


def test_scheduled_digest_posts_once_a_day_across_replicas(db_url, fake_slack):
    rules = rules_from_mapping({**TEST_RULES, "digest": {"channel": "C0STANDUP", "time": "09:00"}})
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    engines = [create_db_engine(db_url) for _ in range(2)]
    replicas = [_reports(e, fake_slack, rules, lambda: monday) for e in engines]
    early = _reports(engines[0], fake_slack, rules, lambda: monday - timedelta(hours=1))
    assert not early.queue_daily_digest()  # before digest.time
    queued = [r.queue_daily_digest() for r in replicas for _ in range(2)]
    assert queued.count(True) == 1
    client = make_client("xoxb-test", fake_slack.url)
    for engine, reports in zip(engines, replicas, strict=True):
        worker = OutboxWorker(
            engine, client, rules, reports=reports, channel_interval=0, clock=lambda: monday
        )
        worker.drain()
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0STANDUP"]
    assert len(posts) == 1
    assert fake_slack.files, "Monday's digest comes with the weekly chart"
    [chart] = fake_slack.files.values()
    assert chart["content"][:8] == b"\x89PNG\r\n\x1a\n"
    saturday = datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert not _reports(engines[0], fake_slack, rules, lambda: saturday).queue_daily_digest()
    for e in engines:
        e.dispose()


@pytest.fixture
def cli_env(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_import_then_export(cli_env, engine, capsys):
    path = cli_env / "accounts.csv"
    path.write_text(
        "account_id,event,at,arr\n"
        "a-1,churned,2026-11-01T10:00:00Z,120000\n"
        "a-2,renewed,2026-11-02T10:00:00+01:00,\n"
    )
    assert main(["import", "events", str(path)]) == 0
    assert "2 new" in capsys.readouterr().out
    assert main(["import", "events", str(path)]) == 0
    assert "2 already known" in capsys.readouterr().out
    out = cli_env / "cases.csv"
    assert main(["export", str(out)]) == 0
    with out.open() as handle:
        header = next(csv.reader(handle))
    assert "case_id" in header
    assert not {"comment", "email", "phone"} & set(header)


def test_import_refuses_a_file_with_bad_lines(cli_env, engine, capsys):
    path = cli_env / "bad.csv"
    path.write_text("account_id,event,at,arr\na-1,churned,2026-11-01T10:00:00Z,1\na-2,gone,x,\n")
    assert main(["import", "events", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:3:" in err
    assert "nothing imported" in err
    with Session(engine) as session:
        assert session.exec(select(AccountEvent)).all() == []
