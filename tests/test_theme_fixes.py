"""A theme marked fixed: the CX lead's draft, the owners' lists, customers told once, the
export, and migration 0009 up and down."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from blocks.fixes import fix_metadata
from blocks.ids import FixAction, ModalAction, ModalBlock, ModalCallback
from blocks.reports import root_cause_blocks
from blocks.themes import ThemeContext
from bot.app.cli import main
from bot.config.rules import rules_from_mapping
from storage.db import alembic_config, create_db_engine, migrate
from storage.fixes import TOLD_COLUMNS, export_told, mark_told, record_fix, told_counts
from storage.models import FollowUpCase, ThemeTold
from storage.rollup import RootCauseRow
from tests.conftest import TEST_RULES, block_action, post_slack, services_of, view_submission
from tests.test_cli import cli_dir  # noqa: F401  (a fixture)
from tests.test_reports import add
from tests.test_workflow import datepicker, new_case, text, wait_until

THEME = {"name": "Billing errors", "owner": "U0FINANCE", "mandate": "Invoices right."}
RULES = rules_from_mapping({**TEST_RULES, "themes": [THEME]})
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def press(
    client, action: str, value: str, user: str, channel: str = "C0REVIEW", ts: str = "1.0"
) -> None:
    answer = post_slack(client, block_action(action, value, user=user, channel=channel, ts=ts))
    assert answer.status_code == 200


def fix_values(what: str = "invoices are checked before they go out") -> dict:
    return {
        ModalBlock.FIX_WHAT: {ModalAction.FIX_WHAT: text(what)},
        ModalBlock.FIX_SHIPPED: {ModalAction.FIX_SHIPPED: datepicker(date(2026, 11, 2))},
    }


def submit_fix(client, user: str):
    meta = fix_metadata("Billing errors")
    form = view_submission(ModalCallback.MARK_FIXED, fix_values(), private_metadata=meta, user=user)
    return post_slack(client, form)


def dms_to(fake_slack, user: str) -> list[str]:
    """The fix messages sent to `user` (not the case's own alerts)."""
    sent = [
        json.dumps(c.args.get("blocks") or [], ensure_ascii=False)
        for c in fake_slack.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == user
    ]
    return [body for body in sent if "fix_intro" in body]


def told_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ThemeTold)).scalar_one()


def set_cause(engine, case_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(FollowUpCase.__table__)
            .where(FollowUpCase.__table__.c.id == case_id)
            .values(root_cause="Billing errors")
        )


def test_mark_fixed_drafts_the_announcement_and_customers_are_told_once(make_client, fake_slack):
    client = make_client(RULES)
    services = services_of(client)
    services.outbox.channel_interval = 0.0
    engine = services.engine
    case_id, _, _ = new_case(client, fake_slack)
    set_cause(engine, case_id)

    # A stranger is refused: no modal, and a submission of their own changes nothing.
    press(client, FixAction.MARK_FIXED, "Billing errors", "U0STRANGER")
    wait_until(lambda: fake_slack.calls_to("chat.postEphemeral"))
    assert "theme's owner" in fake_slack.calls_to("chat.postEphemeral")[-1].args["text"]
    assert not fake_slack.calls_to("views.open")
    refused = submit_fix(client, "U0STRANGER").json()
    assert refused["response_action"] == "errors"

    press(client, FixAction.MARK_FIXED, "Billing errors", "U0CXLEAD")
    opened = fake_slack.wait_for("views.open")[-1].args
    assert opened["view"]["callback_id"] == ModalCallback.MARK_FIXED
    assert submit_fix(client, "U0CXLEAD").status_code == 200

    wait_until(lambda: dms_to(fake_slack, "U0CXLEAD") and dms_to(fake_slack, "U0ALICE"))
    [draft] = dms_to(fake_slack, "U0CXLEAD")
    assert "Earlier this year, many of you told us that billing errors" in draft
    assert "We heard you. Today invoices are checked before they go out." in draft
    [owner_dm] = dms_to(fake_slack, "U0ALICE")
    assert "Dana Reyes" in owner_dm and "Mark told" in owner_dm and "Mark all told" in owner_dm
    assert "thinking about leaving" not in owner_dm  # the comment stays on the card

    with engine.connect() as conn:
        fix_id = conn.execute(sa.text("SELECT id FROM theme_fix")).scalar_one()
    [dm] = [m for m in fake_slack.messages_in("U0ALICE") if "fix_intro" in json.dumps(m)]
    press(client, FixAction.MARK_TOLD, f"{fix_id}:c-1", "U0STRANGER")
    wait_until(lambda: len(fake_slack.calls_to("chat.postEphemeral")) == 2)
    assert told_rows(engine) == 0
    for _ in range(2):  # a double click counts once
        press(client, FixAction.MARK_TOLD, f"{fix_id}:c-1", "U0ALICE", "DU0ALICE", dm["ts"])
    press(client, FixAction.MARK_ALL_TOLD, str(fix_id), "U0ALICE", "DU0ALICE", dm["ts"])
    fake_slack.wait_for("chat.update", count=3)
    assert told_rows(engine) == 1
    assert told_counts(engine) == {"billing errors": (1, 1)}
    [now_shown] = [m for m in fake_slack.messages_in("U0ALICE") if m["ts"] == dm["ts"]]
    body = json.dumps(now_shown["blocks"], ensure_ascii=False)
    assert "told ✓" in body and "Mark told" not in body


def test_the_review_shows_mark_fixed_and_the_told_count():
    row = RootCauseRow("Billing errors", 3, 4.0, 1000.0)
    other = RootCauseRow("Pricing", 1, 5.0, 10.0)
    context = ThemeContext.of(RULES.themes, [], None, {"billing errors": (2, 5)})
    blocks = [b.to_dict() for b in root_cause_blocks([row, other], label="x", context=context)]
    buttons = [b["accessory"] for b in blocks if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (FixAction.MARK_FIXED, "Billing errors")
    ]
    assert "told 2 of 5 customers" in json.dumps(blocks)


def test_export_told_lists_customers_without_comments(cli_dir, capsys):  # noqa: F811
    assert main(["migrate"]) == 0
    engine = create_db_engine(f"sqlite:///{cli_dir / 'nps.db'}")
    case_id = add(engine, "r-1", score=2, received=datetime(2026, 11, 3, tzinfo=UTC))
    set_cause(engine, case_id)
    fix_id = record_fix(
        engine,
        theme="Billing errors",
        what_changed="invoices are checked",
        shipped_on=date(2026, 11, 20),
        actor="U0CXLEAD",
        cx_lead="U0CXLEAD",
        now=NOW,
    )
    assert export_told(engine, "billing errors")[0]["told"] == "no"
    assert mark_told(engine, fix_id, ["c-r-1"], actor="U0ALICE", now=NOW) == 1
    assert mark_told(engine, fix_id, ["c-r-1"], actor="U0ALICE", now=NOW) == 0
    engine.dispose()
    capsys.readouterr()
    assert main(["export", "told", "--theme", "Billing errors"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == TOLD_COLUMNS
    assert rows == [
        {
            "customer_id": "c-r-1",
            "name": "Person r-1",
            "email": "r-1@customer.example",
            "account": "Account A",
            "told": "yes",
        }
    ]
    assert "Slow exports" not in out


def test_migration_0009_up_and_down(fresh_engine):
    migrate(fresh_engine)
    command.downgrade(alembic_config(fresh_engine), "0008")
    assert not {"theme_fix", "theme_told"} & set(sa.inspect(fresh_engine).get_table_names())
    migrate(fresh_engine)
    assert {"theme_fix", "theme_told"} <= set(sa.inspect(fresh_engine).get_table_names())
    with fresh_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_check_config_renders_the_announcement_and_its_override(tmp_path):
    from bot.app.template_check import template_problems

    assert template_problems(None) == []
    (tmp_path / "theme_fix_announcement.j2").write_text("We heard you: {{ what_changed }}.\n")
    assert template_problems(str(tmp_path)) == []
    (tmp_path / "theme_fix_announcement.j2").write_text("{{ customer_name }}\n")
    [problem] = template_problems(str(tmp_path))
    assert "theme_fix_announcement.j2" in problem and "customer_name" in problem
