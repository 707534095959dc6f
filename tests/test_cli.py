"""The `nps-bot` command line: help, check-config and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from blocks.scripts import TEMPLATES
from bot.app.cli import main
from bot.config.settings import SettingsError

TEMPLATE_FILES = set(TEMPLATES.values())


def test_help(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "check-config", "migrate"):
        assert command in out


def test_check_config_prints_the_effective_rules(tmp_path, capsys):
    path = tmp_path / "rules.toml"
    path.write_text('[sla]\npassive = "3bd"\n[people]\ndefault_channel = "C0CARDS"\n')
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert 'passive = "3bd"' in out
    assert 'detractor = "48h"' in out  # defaults fill in the rest
    assert 'default_channel = "C0CARDS"' in out


def test_check_config_errors_name_the_key(tmp_path, capsys):
    path = tmp_path / "rules.toml"
    path.write_text('[sla]\npassive = "5x"\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nps-bot: sla.passive:")
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_serve_without_secrets_is_one_line_each(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SURVEY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    # With no token at all, serve is the sandbox; an app token alone is Socket Mode.
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "nps-bot: SLACK_BOT_TOKEN: required to talk to Slack",
        "nps-bot: SURVEY_WEBHOOK_SECRET: required to verify survey webhooks",
    ]


# --- ordinary mistakes are one line, never a traceback ---------------------------------------

UNREACHABLE = "postgresql://nps:hunter2-secret@127.0.0.1:1/nps"


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single error line the last command printed."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("nps-bot: ")
    return err


@pytest.fixture
def cli_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working folder with no .env and no rules file, on a fresh SQLite database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'nps.db'}")
    monkeypatch.delenv("NPS_BOT_CONFIG", raising=False)
    return tmp_path


def test_import_of_a_cp1252_csv_names_the_file_and_line(cli_dir, capsys):
    path = cli_dir / "accounts.csv"
    path.write_bytes(
        "account_id,event,at,arr\na-1,churned,2026-11-01T10:00:00Z,1\n"
        "Société Générale,churned,2026-11-02T10:00:00Z,2\n".encode("cp1252")
    )
    assert main(["import", "events", str(path)]) == 2
    err = one_line(capsys)
    assert "accounts.csv:3:" in err
    assert "UTF-8" in err


def test_export_to_a_missing_folder_is_one_line(cli_dir, capsys):
    assert main(["migrate"]) == 0
    capsys.readouterr()
    target = cli_dir / "no-such-folder" / "cases.csv"
    assert main(["export", str(target)]) == 2
    err = one_line(capsys)
    assert "no-such-folder" in err
    assert not target.parent.exists()


def test_export_on_an_unmigrated_database_says_to_migrate(
    cli_dir, fresh_engine, monkeypatch, capsys
):
    url = fresh_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    out = cli_dir / "cases.csv"
    assert main(["export", str(out)]) == 2
    err = one_line(capsys)
    assert "nps-bot migrate" in err
    assert not out.exists()  # no empty file left behind


@pytest.mark.parametrize(
    "argv",
    [["migrate"], ["import", "events", "accounts.csv"], ["export", "cases.csv"], ["export", "-"]],
)
def test_unreachable_postgres_is_one_line_without_the_url(cli_dir, monkeypatch, capsys, argv):
    (cli_dir / "accounts.csv").write_text(
        "account_id,event,at,arr\na-1,churned,2026-11-01T10:00:00Z,\n"
    )
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith("nps-bot: ")
    assert "postgresql" in err
    assert "cannot connect" in err
    everything = captured.out + captured.err
    assert "Traceback" not in everything
    assert "hunter2" not in everything and "127.0.0.1:1" not in everything
    assert not (cli_dir / "cases.csv").exists()


def test_migrate_where_the_database_cannot_be_created_is_one_line(cli_dir, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////proc/nps-bot/nps.db")
    assert main(["migrate"]) == 2
    err = one_line(capsys)
    assert "/proc/nps-bot" in err


def test_an_env_file_that_is_not_utf8_is_one_line(cli_dir, capsys):
    (cli_dir / ".env").write_bytes("LOG_LEVEL=info\n# café\n".encode("cp1252"))
    assert main(["migrate"]) == 2
    assert "UTF-8" in one_line(capsys)


def test_several_problems_are_one_prefixed_line_each(cli_dir, monkeypatch, capsys):
    from bot.app import cli

    def broken(*_args: object, **_kw: object) -> None:
        raise SettingsError("DATABASE_URL: must start with sqlite:\nPORT: must be a number")

    monkeypatch.setattr(cli, "load_settings", broken)
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "nps-bot: DATABASE_URL: must start with sqlite:",
        "nps-bot: PORT: must be a number",
    ]


# --- check-config renders every template -----------------------------------------------------


def rules_with_templates(folder: Path | str) -> Path:
    path = Path.cwd() / "rules.toml"
    path.write_text(
        f'templates_dir = "{folder}"\n[people]\ncx_lead = "U0CX"\ndefault_channel = "C0CARDS"\n'
    )
    return path


def test_check_config_renders_every_template(cli_dir, capsys):
    folder = cli_dir / "templates"
    folder.mkdir()
    (folder / "detractor_call.j2").write_text("Hi {{ first_name }}, {{ nickname }}.\n")
    (folder / "passive_email.j2").write_text("Hi {{ first_name }\n")
    (folder / "promoter_thanks.j2").write_text("Thanks {{ first_name }} from {{ owner_name }}.\n")
    (folder / "detractor_email.j2").write_text("Renewal {{ renewal_date.strftime('%Y') }}\n")
    assert main(["check-config", str(rules_with_templates(folder))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("nps-bot: ")]
    assert len(lines) == 3, err
    by_file = {name: line for line in lines for name in TEMPLATE_FILES if name in line}
    assert "'nickname' is undefined" in by_file["detractor_call.j2"]
    assert "line 1" in by_file["passive_email.j2"]
    assert (
        "renewal_date" in by_file["detractor_email.j2"]
        or "strftime" in by_file["detractor_email.j2"]
    )
    assert "promoter_thanks.j2" not in by_file


def test_check_config_accepts_good_templates(cli_dir, capsys):
    folder = cli_dir / "templates"
    folder.mkdir()
    (folder / "promoter_thanks.j2").write_text(
        "Thanks {{ first_name }}{% if renewal_date %} ({{ renewal_date }}){% endif %}.\n"
    )
    assert main(["check-config", str(rules_with_templates(folder))]) == 0
    assert "nps-bot:" not in capsys.readouterr().err


def test_check_config_samples_carry_the_playbook_context(cli_dir, capsys):
    folder = cli_dir / "templates"
    folder.mkdir()
    (folder / "passive_call.j2").write_text(
        "{% if last_touchpoint %}{{ last_touchpoint.kind }} on {{ last_touchpoint.day }}{% endif %}"
        " {{ tier or '' }} {{ arr or '' }} {{ routed_by.kind if routed_by else '' }}"
        " {{ touchpoints | length }}\n"
    )
    (folder / "promoter_thanks.j2").write_text("{{ last_touchpoint.day.upper() }}\n")
    assert main(["check-config", str(rules_with_templates(folder))]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "nps-bot: " in line]
    assert len(lines) == 1 and "promoter_thanks.j2" in lines[0], lines


def test_check_config_refuses_a_missing_templates_dir(cli_dir, capsys):
    assert main(["check-config", str(rules_with_templates(cli_dir / "nowhere"))]) == 2
    err = one_line(capsys)
    assert err.startswith("nps-bot: templates_dir:")
    assert "nowhere" in err


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.OperationalError("SELECT 1", {"comment": "Dana is leaving"}, Exception("boom")),
        PermissionError(13, "Permission denied", "/srv/nps/out.csv"),
        UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"),
    ],
)
def test_any_database_file_or_decoding_error_is_one_line(cli_dir, monkeypatch, capsys, error):
    from bot.app import cli

    def failing(_args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "migrate_cmd", failing)
    assert main(["migrate"]) == 2
    err = one_line(capsys)
    assert "Dana" not in err and "SELECT" not in err
    if isinstance(error, sa.exc.SQLAlchemyError):
        assert "sqlite" in err


def test_import_accounts_checks_every_line_then_loads_the_directory(cli_dir, capsys):
    path = cli_dir / "crm.csv"
    path.write_text(
        "account_id,name,arr,plan,renewal_date,owner,domains\n"
        "a-1,Acme,120000,Pro,2027-03-01,alice@example.com,acme.com acme.dk\n"
        "a-2,,,,,,\n"
        "a-3,Initech,lots,,,,\n"
    )
    assert main(["import", "accounts", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: name" in err and f"{path}:4: arr" in err
    assert "2 bad line(s); nothing imported" in err
    path.write_text(
        "account_id,name,arr,plan,renewal_date,owner,domains\n"
        "a-1,Acme,120000,Pro,2027-03-01,alice@example.com,acme.com acme.dk\n"
    )
    assert main(["import", "accounts", str(path)]) == 0
    assert "1 accounts read: 1 new, 0 updated" in capsys.readouterr().out
    assert main(["import", "accounts", str(path)]) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    assert main(["import", "people", str(path)]) == 2
    assert "`accounts` or `events`" in capsys.readouterr().err


def test_check_config_names_each_unset_source_variable(cli_dir, monkeypatch, capsys):
    rules = cli_dir / "rules.toml"
    rules.write_text(
        '[[sources]]\nname = "sm"\nplatform = "surveymonkey"\nsecret_env = "SM_KEYS"\n'
        'api_token_env = "SM_TOKEN"\n'
    )
    monkeypatch.setenv("SM_KEYS", "id&secret-value")
    monkeypatch.delenv("SM_TOKEN", raising=False)
    assert main(["check-config", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "nps-bot: sources[0].api_token_env: the environment variable SM_TOKEN is not set" in err
    assert "secret-value" not in err
    monkeypatch.setenv("SM_TOKEN", "t")
    assert main(["check-config", str(rules)]) == 0
