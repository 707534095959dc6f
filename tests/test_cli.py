"""The `nps-bot` command line: help, check-config and clear errors."""

from __future__ import annotations

import pytest

from bot.app.cli import main


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


def test_serve_without_secrets_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SURVEY_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    # With no token at all, serve is the sandbox.
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "nps-bot: SLACK_BOT_TOKEN: required to talk to Slack"
