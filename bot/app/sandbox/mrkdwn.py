"""Slack's mrkdwn as safe HTML: mentions, links, dates for the browser, emphasis and quotes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from markupsafe import Markup, escape

EMOJI = {
    "alarm_clock": "⏰",
    "arrows_counterclockwise": "🔄",
    "bell": "🔔",
    "eyes": "👀",
    "hammer_and_wrench": "🛠️",
    "heavy_minus_sign": "\u2796",
    "hourglass": "⌛",
    "incoming_envelope": "📨",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "mag": "🔍",
    "moneybag": "💰",
    "new": "🆕",
    "raising_hand": "🙋",
    "red_circle": "🔴",
    "repeat": "🔁",
    "rotating_light": "🚨",
    "sos": "🆘",
    "speech_balloon": "💬",
    "tada": "🎉",
    "telephone_receiver": "📞",
    "ticket": "🎫",
    "warning": "⚠️",
    "wave": "👋",
    "white_check_mark": "✅",
    "chart_with_upwards_trend": "📈",
    "memo": "📝",
}

_TOKEN = re.compile(r"<([^<>\n]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_SAFE_LINK = re.compile(r"^(https?://|mailto:|tel:|/)", re.IGNORECASE)
_HOLD = "\ue000{}\ue001"
_HELD = re.compile("\ue000(\\d+)\ue001")

Names = Callable[[str], str]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(text: str) -> str:
    """`:shortcode:` as the emoji, for the ones the bot uses."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def _date(body: str, label: str | None) -> Markup:
    """`!date^<epoch>^<format>[^<link>]` as a <time> the page's script formats."""
    parts = body.split("^")
    try:
        at = datetime.fromtimestamp(int(parts[1]), UTC)
    except (IndexError, ValueError, OverflowError, OSError):
        return Markup(escape(_unescape(label or body)))
    fmt = parts[2] if len(parts) > 2 else "{date}"
    fallback = _unescape(label) if label else at.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" data-format="{}">{}</time>').format(
        at.isoformat().replace("+00:00", "Z"), _unescape(fmt), fallback
    )


def _token(inner: str, names: Names, channels: Names) -> Markup:
    """One `<...>` of mrkdwn as HTML."""
    body, _, label = inner.partition("|")
    if body.startswith("@"):
        name = label or names(body[1:])
        return Markup('<span class="mention">@{}</span>').format(_unescape(name))
    if body.startswith("#"):
        name = label or channels(body[1:])
        return Markup('<span class="mention">#{}</span>').format(_unescape(name).lstrip("#"))
    if body.startswith("!date^"):
        return _date(body, label or None)
    if body.startswith("!"):
        word = body[1:].split("^", 1)[0]
        return Markup('<span class="mention">@{}</span>').format(_unescape(label or word))
    url = _unescape(body)
    text = _unescape(label) if label else url
    if not _SAFE_LINK.match(url):
        return Markup(escape(text))
    outside = "" if url.startswith("/") else ' rel="noopener noreferrer" target="_blank"'
    return Markup('<a href="{}"' + outside + ">{}</a>").format(url, emoji(text))


def _inline(line: str, names: Names, channels: Names) -> str:
    """One line of mrkdwn as HTML: tokens held aside while the text is escaped and styled."""
    held: list[Markup] = []

    def hold(match: re.Match[str]) -> str:
        held.append(_token(match.group(1), names, channels))
        return _HOLD.format(len(held) - 1)

    text = str(escape(emoji(_unescape(_TOKEN.sub(hold, line)))))
    text = _CODE.sub(r"<code>\1</code>", text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    text = _STRIKE.sub(r"<s>\1</s>", text)
    return _HELD.sub(lambda m: str(held[int(m.group(1))]), text)


def to_html(text: str | None, names: Names, channels: Names) -> Markup:
    """A mrkdwn text as HTML: lines, block quotes and ``` blocks kept."""
    out: list[str] = []
    quote: list[str] = []
    lines = (text or "").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            end = next((j for j in range(index, len(lines)) if lines[j].endswith("```")), index)
            block = "\n".join(lines[index : end + 1])[3:-3] if end > index else line[3:-3]
            out.append(f"<pre>{escape(_unescape(block))}</pre>")
            index = end + 1
            continue
        if line.startswith(">") or line.startswith("&gt;"):
            stripped = line[1:] if line.startswith(">") else line[4:]
            quote.append(_inline(stripped.removeprefix(" "), names, channels))
        else:
            if quote:
                out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
                quote = []
            out.append(_inline(line, names, channels) + "<br>")
        index += 1
    if quote:
        out.append("<blockquote>" + "<br>".join(quote) + "</blockquote>")
    html = "".join(out)
    return Markup(html.removesuffix("<br>"))


def to_text(text: str | None, names: Names, channels: Names) -> str:
    """A mrkdwn text as words alone, for a label: names for mentions, labels for links."""

    def word(match: re.Match[str]) -> str:
        body, _, label = match.group(1).partition("|")
        if label:
            return label
        if body.startswith("@"):
            return "@" + names(body[1:])
        if body.startswith("#"):
            return "#" + channels(body[1:]).lstrip("#")
        return body.removeprefix("!").split("^", 1)[0]

    words = _unescape(_TOKEN.sub(word, text or ""))
    words = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), ""), words)
    return " ".join(re.sub(r"(?<!\w)[*_~`]+|[*_~`]+(?!\w)", "", words).split())


def plain(text: str | None) -> Markup:
    """A plain_text object's text as HTML: escaped, with emoji."""
    return Markup(escape(emoji(text or "")))
