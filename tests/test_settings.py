"""Settings from the environment: defaults, one-line errors, secrets never echoed."""

from __future__ import annotations

import pytest

from bot.config.settings import SettingsError, load_settings
from tests.conftest import WEBHOOK_SECRET

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-123-secret-value",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
    "SURVEY_WEBHOOK_SECRET": WEBHOOK_SECRET,
}


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(GOOD, env_file=None)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///nps_bot.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.rules_path is None
    assert not settings.socket_mode
    settings.require_serving()


def test_rules_file_in_the_working_directory_is_picked_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nps-bot.toml").write_text('timezone = "UTC"\n')
    assert load_settings(GOOD, env_file=None).rules_path.name == "nps-bot.toml"


def test_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nHOST=0.0.0.0\n")
    settings = load_settings({**GOOD, "PORT": "5000"}, env_file=env_file)
    assert (settings.host, settings.port) == ("0.0.0.0", 5000)


def test_slack_api_url_gets_a_trailing_slash():
    settings = load_settings({**GOOD, "SLACK_API_URL": "http://127.0.0.1:9/api"}, env_file=None)
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, "SLACK_APP_TOKEN"),
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "ftp://x"}, "SLACK_API_URL"),
        ({"SURVEY_WEBHOOK_SECRET": "plain-secret"}, "SURVEY_WEBHOOK_SECRET"),
        ({"NPS_BOT_CONFIG": "/no/such/file.toml"}, "NPS_BOT_CONFIG"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_malformed_settings_name_the_variable_not_the_value(env, variable):
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, **env}, env_file=None)
    message = str(caught.value)
    assert message.startswith(f"{variable}:")
    assert [name for name, _ in caught.value.problems] == [variable]
    for value in env.values():
        if variable != "NPS_BOT_CONFIG":
            assert value not in message


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        ("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        ("SURVEY_WEBHOOK_SECRET", "SURVEY_WEBHOOK_SECRET"),
    ],
)
def test_serving_requires_the_secrets(missing, variable):
    env = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(SettingsError, match=f"^{variable}:"):
        load_settings(env, env_file=None).require_serving()


def test_every_malformed_setting_is_reported_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {
        **GOOD,
        "LOG_LEVEL": "loud",
        "SLACK_BOT_TOKEN": "xoxp-user-token",
        "PORT": "70000",
        "DATABASE_URL": "mysql://user:hunter2@db/x",
        "SURVEY_WEBHOOK_SECRET": "plain-secret",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env, env_file=None)
    assert [name for name, _ in caught.value.problems] == [
        "SLACK_BOT_TOKEN",
        "DATABASE_URL",
        "SURVEY_WEBHOOK_SECRET",
        "PORT",
        "LOG_LEVEL",
    ]
    lines = str(caught.value).splitlines()
    assert lines == [f"{name}: {reason}" for name, reason in caught.value.problems]
    for value in ("xoxp", "hunter2", "mysql", "plain-secret", "70000", "loud"):
        assert value not in str(caught.value)


def test_serving_names_every_missing_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings({}, env_file=None).require_serving()
    assert [name for name, _ in caught.value.problems] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SURVEY_WEBHOOK_SECRET",
    ]
    assert len(str(caught.value).splitlines()) == 3


def test_socket_mode_needs_no_signing_secret():
    env = {k: v for k, v in GOOD.items() if k != "SLACK_SIGNING_SECRET"}
    settings = load_settings({**env, "SLACK_APP_TOKEN": "xapp-1-abc"}, env_file=None)
    assert settings.socket_mode
    settings.require_serving()


def test_repr_shows_no_secrets():
    text = repr(load_settings(GOOD, env_file=None))
    assert "secret" not in text.lower().replace("socket", "")
    assert "xoxb" not in text
