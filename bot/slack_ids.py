"""Recognising Slack ids."""

from __future__ import annotations

import re

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def is_user_id(ref: str | None) -> bool:
    """Whether `ref` is a Slack user id (U... or W...) rather than an email."""
    return bool(ref and SLACK_USER_ID.match(ref))
