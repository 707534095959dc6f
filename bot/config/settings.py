"""Settings from the environment and a `.env` file; errors name the variable, never its value."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///nps_bot.db"
DEFAULT_RULES_FILE = "nps-bot.toml"


class SettingsError(ValueError):
    """Missing or malformed settings: one "NAME: reason" line each, never a value."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.problems: list[tuple[str, str]] = [_split(line) for line in lines]


def _split(line: str) -> tuple[str, str]:
    name, _, reason = line.partition(": ")
    return name, reason


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
    log_format: str = "text"
    metrics_token: str | None = None
    directory_token: str | None = None
    # The whole environment as read (`.env` under the process's), for the variables the rules
    # file names: the survey sources' secrets and tokens.
    environment: Mapping[str, str] = field(default_factory=dict, compare=False)

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
        """Check the settings `serve` cannot run without, naming every one that is missing."""
        missing = []
        if not self.slack_bot_token:
            missing.append("SLACK_BOT_TOKEN: required to talk to Slack")
        if not self.socket_mode and not self.slack_signing_secret:
            missing.append(
                "SLACK_SIGNING_SECRET: required to verify requests from Slack over HTTP "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if not self.survey_webhook_secret:
            missing.append("SURVEY_WEBHOOK_SECRET: required to verify survey webhooks")
        if missing:
            raise SettingsError(*missing)


class _Malformed(ValueError):
    """A setting's value is unusable; the message is the reason alone."""


def _prefixed(prefix: str) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is not None and not value.startswith(prefix):
            raise _Malformed(f"must start with {prefix!r}")
        return value

    return check


def _webhook_secret(value: str | None) -> str | None:
    if value is None:
        return None
    raw = value.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError):
        decoded = b""
    if not value.startswith("whsec_") or len(decoded) < 16:
        raise _Malformed(
            "must be a Standard Webhooks secret, 'whsec_' followed by base64 of at least 16 bytes"
        )
    return value


def _port(value: str | None) -> int:
    value = value or "3000"
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise _Malformed("must be a whole number from 1 to 65535")
    return int(value)


def _url(default: str, schemes: tuple[str, ...]) -> Callable[[str | None], str]:
    def check(value: str | None) -> str:
        value = value or default
        if not value.startswith(schemes):
            raise _Malformed(f"must start with one of {', '.join(schemes)}")
        return value

    return check


def _slack_api_url(value: str | None) -> str:
    url = _url(DEFAULT_SLACK_API_URL, ("http://", "https://"))(value)
    return url if url.endswith("/") else f"{url}/"


def _log_level(value: str | None) -> str:
    level = (value or "info").lower()
    if level not in {"debug", "info", "warning", "error"}:
        raise _Malformed("must be debug, info, warning or error")
    return level


def _log_format(value: str | None) -> str:
    form = (value or "text").lower()
    if form not in {"text", "json"}:
        raise _Malformed("must be text or json")
    return form


def _rules_path(value: str | None) -> Path | None:
    if value:
        path = Path(value)
        if not path.is_file():
            raise _Malformed(f"no file at {value}")
        return path
    default = Path.cwd() / DEFAULT_RULES_FILE
    return default if default.is_file() else None


def _read(environ: Mapping[str, str] | None, env_file: str | Path | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ if environ is None else environ)
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings, the process environment winning over the `.env` file; report every problem."""
    values = _read(environ, env_file)
    problems: list[str] = []

    def setting(name: str, check: Callable[[str | None], Any] = lambda value: value) -> Any:
        raw = values.get(name)
        try:
            return check(raw.strip() if raw and raw.strip() else None)
        except _Malformed as exc:
            problems.append(f"{name}: {exc}")
            return None

    settings = Settings(
        slack_bot_token=setting("SLACK_BOT_TOKEN", _prefixed("xoxb-")),
        slack_signing_secret=setting("SLACK_SIGNING_SECRET"),
        slack_app_token=setting("SLACK_APP_TOKEN", _prefixed("xapp-")),
        slack_api_url=setting("SLACK_API_URL", _slack_api_url),
        database_url=setting(
            "DATABASE_URL", _url(DEFAULT_DATABASE_URL, ("sqlite:", "postgresql:", "postgresql+"))
        ),
        survey_webhook_secret=setting("SURVEY_WEBHOOK_SECRET", _webhook_secret),
        rules_path=setting("NPS_BOT_CONFIG", _rules_path),
        host=setting("HOST") or "127.0.0.1",
        port=setting("PORT", _port),
        log_level=setting("LOG_LEVEL", _log_level),
        log_format=setting("LOG_FORMAT", _log_format),
        metrics_token=setting("METRICS_TOKEN"),
        directory_token=setting("DIRECTORY_TOKEN"),
        environment={k: v for k, v in values.items() if v is not None},
    )
    if problems:
        raise SettingsError(*problems)
    return settings
