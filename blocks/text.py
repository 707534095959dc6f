"""Making customer text safe for Slack's mrkdwn and short enough for Block Kit."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.domain.patterns import is_user_id

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_URL = re.compile(r"^https?://[^\s<>|]+$")


def escape(text: str) -> str:
    """Escape `&`, `<` and `>` and defuse `@channel`-style broadcasts."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b\\1", text)


def truncate(text: str, limit: int) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - 1])
    return cut.rstrip() + "…"


def safe(text: str | None, limit: int) -> str:
    """Customer text escaped for mrkdwn and cut to `limit` characters (never mid-entity)."""
    return truncate(escape(text or ""), limit)


def quote(text: str, limit: int) -> str:
    """Escaped text as a mrkdwn block quote of at most `limit` characters."""
    lines = escape(text).splitlines() or [""]
    return truncate("\n".join("> " + line for line in lines), limit)


def slack_date(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def day(on: date) -> str:
    """A calendar date as people write it: Tue 14 May 2024."""
    return f"{on:%a} {on.day} {on:%b %Y}"


def duration(span: timedelta) -> str:
    """A wait as people say it: 2 days 3 h, 5 h 20 min, 40 min."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        unit = "day" if days == 1 else "days"
        return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def money(amount: float | None) -> str:
    """ARR as a short figure: 120000 -> $120k."""
    if amount is None:
        return "unknown"
    if amount >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M".replace(".0M", "M")
    if amount >= 1_000:
        return f"${amount / 1_000:.0f}k"
    return f"${amount:.0f}"


def who(ref: str | None) -> str:
    """A person as mrkdwn: a mention for a Slack user id, else the escaped name or email."""
    if ref and is_user_id(ref):
        return f"<@{ref}>"
    return safe(ref, 320) if ref else "someone"


def mention(owner_user_id: str | None, owner_ref: str | None) -> str:
    """The owner as a mention when resolved, else as given, else 'unassigned'."""
    if owner_user_id:
        return f"<@{owner_user_id}>"
    return safe(owner_ref, 320) if owner_ref else "unassigned"


def is_url(url: str | None) -> bool:
    """Whether `url` is an http(s) address that can sit inside a mrkdwn link."""
    return bool(url and len(url) <= 3000 and _URL.match(url))


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to `url` labelled with (already safe) `label`; just the label if unusable."""
    return f"<{url}|{label}>" if is_url(url) else label
