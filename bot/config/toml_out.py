"""Writing a plain nested mapping as a readable TOML document."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(text: str | None) -> str:
    """A basic TOML string; None is the empty string, which the rules read as "not set"."""
    escaped = "".join(
        _ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
        for ch in text or ""
    )
    return f'"{escaped}"'


def toml_number(value: float) -> str:
    """A TOML number, whole numbers without a decimal point."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def toml_value(value: Any) -> str:
    """One inline TOML value: a string, number, boolean, None (as "") or a list of those."""
    if value is None or isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return toml_number(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} as a TOML value")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else toml_string(name)


def _is_table_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, Mapping) for item in value)
    )


def _blocks(table: Mapping[str, Any], path: str, header: str) -> list[list[str]]:
    """The blocks of one table: its own keys under header, then its tables and table arrays."""
    children = {k: v for k, v in table.items() if isinstance(v, Mapping) or _is_table_list(v)}
    own = [f"{_key(k)} = {toml_value(v)}" for k, v in table.items() if k not in children]
    blocks = []
    if own or header.startswith("[[") or (header and not children):
        blocks.append(([header] if header else []) + own)
    for name, value in children.items():
        sub = f"{path}.{_key(name)}" if path else _key(name)
        if isinstance(value, Mapping):
            blocks += _blocks(value, sub, f"[{sub}]")
        else:
            for item in value:
                blocks += _blocks(item, sub, f"[[{sub}]]")
    return blocks


def to_toml(document: Mapping[str, Any]) -> str:
    """A TOML document of plain values, one blank line between tables, keys in their order."""
    blocks: Sequence[list[str]] = _blocks(document, "", "")
    return "\n\n".join("\n".join(lines) for lines in blocks) + "\n"
