"""Settings from the environment and a `.env` file; errors name the variable, never its value."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///nps_bot.db"
DEFAULT_RULES_FILE = "nps-bot.toml"


class SettingsError(ValueError):
    """A missing or malformed setting; the message names the variable and the reason."""


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the process reads from its environment."""

    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    database_url: str
    survey_webhook_secret: str | None
    rules_path: Path | None
    host: str
    port: int
    log_level: str

    def __repr__(self) -> str:
        return (
            f"Settings(database={self.database_backend}, host={self.host}, port={self.port}, "
            f"socket_mode={self.socket_mode}, rules={self.rules_path})"
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def sandbox(self) -> bool:
        """No Slack tokens at all: `serve` runs the sandbox instead of failing."""
        return not self.slack_bot_token and not self.slack_app_token

    @property
    def database_backend(self) -> str:
        return self.database_url.split(":", 1)[0].split("+", 1)[0]

    def require_serving(self) -> None:
        """Check the settings `serve` cannot run without."""
        if not self.slack_bot_token:
            raise SettingsError("SLACK_BOT_TOKEN: required to talk to Slack")
        if not self.socket_mode and not self.slack_signing_secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET: required to verify requests from Slack over HTTP "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if not self.survey_webhook_secret:
            raise SettingsError("SURVEY_WEBHOOK_SECRET: required to verify survey webhooks")


def _check_prefix(name: str, value: str | None, prefix: str) -> str | None:
    if value is not None and not value.startswith(prefix):
        raise SettingsError(f"{name}: must start with {prefix!r}")
    return value


def _check_webhook_secret(value: str | None) -> str | None:
    if value is None:
        return None
    raw = value.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError):
        decoded = b""
    if not value.startswith("whsec_") or len(decoded) < 16:
        raise SettingsError(
            "SURVEY_WEBHOOK_SECRET: must be a Standard Webhooks secret, 'whsec_' followed by "
            "base64 of at least 16 bytes"
        )
    return value


def _check_port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError("PORT: must be a whole number from 1 to 65535")
    return int(value)


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    if not value.startswith(schemes):
        raise SettingsError(f"{name}: must start with one of {', '.join(schemes)}")
    return value


def _rules_path(value: str | None, cwd: Path) -> Path | None:
    if value:
        path = Path(value)
        if not path.is_file():
            raise SettingsError(f"NPS_BOT_CONFIG: no file at {value}")
        return path
    default = cwd / DEFAULT_RULES_FILE
    return default if default.is_file() else None


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings: the process environment wins over the `.env` file."""
    values: dict[str, str | None] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name)
        return value.strip() if value and value.strip() else None

    slack_api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    log_level = (get("LOG_LEVEL") or "info").lower()
    if log_level not in {"debug", "info", "warning", "error"}:
        raise SettingsError("LOG_LEVEL: must be debug, info, warning or error")
    return Settings(
        slack_bot_token=_check_prefix("SLACK_BOT_TOKEN", get("SLACK_BOT_TOKEN"), "xoxb-"),
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=_check_prefix("SLACK_APP_TOKEN", get("SLACK_APP_TOKEN"), "xapp-"),
        slack_api_url=_check_url("SLACK_API_URL", slack_api_url, ("http://", "https://")),
        database_url=_check_url(
            "DATABASE_URL", database_url, ("sqlite:", "postgresql:", "postgresql+")
        ),
        survey_webhook_secret=_check_webhook_secret(get("SURVEY_WEBHOOK_SECRET")),
        rules_path=_rules_path(get("NPS_BOT_CONFIG"), Path.cwd()),
        host=get("HOST") or "127.0.0.1",
        port=_check_port(get("PORT") or "3000"),
        log_level=log_level,
    )
