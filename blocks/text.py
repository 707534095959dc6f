"""Making customer text safe for Slack's mrkdwn and short enough for Block Kit."""

from __future__ import annotations

import re
from datetime import datetime

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` and defuse `@channel`-style broadcasts."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b\\1", text)


def truncate(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote(text: str, limit: int) -> str:
    """Escaped text as a mrkdwn block quote of at most `limit` characters."""
    lines = escape(text).splitlines() or [""]
    return truncate("\n".join("> " + line for line in lines), limit)


def slack_date(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def money(amount: float | None) -> str:
    """ARR as a short figure: 120000 -> $120k."""
    if amount is None:
        return "unknown"
    if amount >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M".replace(".0M", "M")
    if amount >= 1_000:
        return f"${amount / 1_000:.0f}k"
    return f"${amount:.0f}"


def mention(owner_user_id: str | None, owner_ref: str | None) -> str:
    """The owner as a mention when resolved, else as given, else 'unassigned'."""
    if owner_user_id:
        return f"<@{owner_user_id}>"
    return escape(owner_ref) if owner_ref else "unassigned"
