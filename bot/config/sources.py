"""The `[[sources]]` of the rules file: each survey source served at /webhooks/survey/<name>."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, StrictBool
from pydantic.dataclasses import dataclass

from bot.config.fields import (
    BLANK_IS_MISSING,
    OptionalHttpUrl,
    OptionalText,
    Text,
    listed,
    problem,
    raise_problems,
)

TABLE = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

PlatformName = Literal["typeform", "delighted", "formbricks", "surveymonkey", "qualtrics", "native"]
SIGNED_ONLY = frozenset({"typeform", "delighted", "surveymonkey", "qualtrics"})
"""Platforms that sign and cannot send a bearer token: the source needs `secret_env`."""
ID_ONLY = frozenset({"surveymonkey", "qualtrics"})
"""Platforms that send ids only: the source needs `api_token_env` to read the answer back."""

_NAME = re.compile(r"^[a-z0-9-]{1,50}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise problem(f"{text[:60]!r} is not a source name (a-z, 0-9 and -, at most 50)")
    return text


def _env(text: str | None) -> str | None:
    if text is not None and not _ENV.match(text):
        raise problem(f"{text[:60]!r} is not an environment variable name")
    return text


SourceName = Annotated[Text, BLANK_IS_MISSING, AfterValidator(_name)]
EnvName = Annotated[OptionalText, AfterValidator(_env)]


@dataclass(frozen=True, config=TABLE)
class SourceRule:
    """One survey source: its platform, where its secrets are, and which fields mean what."""

    name: SourceName
    platform: PlatformName
    secret_env: EnvName = None
    token_env: EnvName = None
    score_field: OptionalText = None
    comment_field: OptionalText = None
    account_field: OptionalText = None
    email_field: OptionalText = None
    api_token_env: EnvName = None
    api_url: OptionalHttpUrl = None
    test: StrictBool = False


def _checked(sources: tuple[SourceRule, ...]) -> tuple[SourceRule, ...]:
    found = []
    first: dict[str, int] = {}
    for i, source in enumerate(sources):
        previous = first.setdefault(source.name, i)
        if previous != i:
            found.append(((i, "name"), f"duplicate of sources[{previous}]"))
        if source.platform in SIGNED_ONLY and not source.secret_env:
            found.append(((i, "secret_env"), f"required: {source.platform} signs its webhooks"))
        elif not source.secret_env and not source.token_env:
            found.append(((i, "secret_env"), "set secret_env or token_env"))
        if source.platform in ID_ONLY and not source.api_token_env:
            reason = f"required: {source.platform} sends ids only, nps-bot reads the answer back"
            found.append(((i, "api_token_env"), reason))
    raise_problems(found)
    return sources


Sources = Annotated[tuple[SourceRule, ...], listed("source tables"), AfterValidator(_checked)]


def environment_problems(
    sources: tuple[SourceRule, ...], environ: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Each source setting whose environment variable is unset or empty, as (key, reason)."""
    found = []
    for i, source in enumerate(sources):
        for key in ("secret_env", "token_env", "api_token_env"):
            name = getattr(source, key)
            if name and not environ.get(name, "").strip():
                found.append((f"sources[{i}].{key}", f"the environment variable {name} is not set"))
    return found
