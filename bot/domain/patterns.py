"""Recognising Slack ids and emails: the one definition of each pattern."""

from __future__ import annotations

import re

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
"""An address with a dotted domain: `a@b` is refused everywhere."""


def is_user_id(ref: str | None) -> bool:
    """Whether `ref` is a Slack user id (U... or W...) rather than an email."""
    return bool(ref and SLACK_USER_ID.match(ref))


def is_channel_id(ref: str | None) -> bool:
    """Whether `ref` is a Slack channel id (C..., G... or D...)."""
    return bool(ref and SLACK_CHANNEL_ID.match(ref))


def is_email(ref: str | None) -> bool:
    """Whether `ref` looks like an email address."""
    return bool(ref and EMAIL.match(ref))


def is_person(ref: str | None) -> bool:
    """Whether `ref` names a person: a Slack user id or an email."""
    return is_user_id(ref) or is_email(ref)
