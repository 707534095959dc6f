"""Root-cause themes with their functional owners: who has the mandate, and the change since the
previous period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from blocks.report_parts import RootCauseRowLike, plural
from blocks.text import money, safe, who

MANDATE_LIMIT = 500


class ThemeLike(Protocol):
    """A theme from the rules: its name, its functional owner and the mandate they hold."""

    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def mandate(self) -> str: ...


@dataclass(frozen=True)
class ThemeContext:
    """What the rollup shows beside each theme: owners, mandates and the previous period."""

    themes: Mapping[str, ThemeLike]
    previous: Mapping[str, RootCauseRowLike]
    previous_label: str | None = None
    # Per theme (casefolded): its latest fix's customers told, and to tell.
    told: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        themes: Sequence[ThemeLike],
        previous: Sequence[RootCauseRowLike],
        previous_label: str | None,
        told: Mapping[str, tuple[int, int]] | None = None,
    ) -> ThemeContext:
        """The context keyed by theme name, ignoring case."""
        return cls(
            {t.name.casefold(): t for t in themes},
            {r.cause.casefold(): r for r in previous},
            previous_label,
            dict(told or {}),
        )

    def theme(self, cause: str) -> ThemeLike | None:
        """The rules' theme for a root cause, if one is set."""
        return self.themes.get(cause.casefold())


def _signed_money(amount: float) -> str:
    return f"+{money(amount)}" if amount >= 0 else f"-{money(-amount)}"


def change_text(row: RootCauseRowLike, before: RootCauseRowLike | None, since: str) -> str:
    """The change in cases and ARR at risk against the previous period."""
    if before is None:
        return f"new since {safe(since, 100)}"
    delta = row.cases - before.cases
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    cases = "no change in cases" if delta == 0 else f"{arrow} {plural(abs(delta), 'case')}"
    arr = row.arr_at_risk - before.arr_at_risk
    return f"{cases}, ARR at risk {_signed_money(arr)} vs {safe(since, 100)}"


def owner_text(theme: ThemeLike | None) -> str | None:
    """The theme's owner and mandate, or None when the rules name no owner for it."""
    if theme is None:
        return None
    mandate = safe(theme.mandate, MANDATE_LIMIT)
    return f"Owner: {who(theme.owner)}" + (f" · Mandate: _{mandate}_" if mandate else "")


def theme_lines(row: RootCauseRowLike, context: ThemeContext | None) -> list[str]:
    """The lines under a theme's figures: its change and its owner with the mandate."""
    if context is None:
        return []
    lines = []
    if context.previous_label:
        lines.append(
            change_text(row, context.previous.get(row.cause.casefold()), context.previous_label)
        )
    owner = owner_text(context.theme(row.cause))
    if owner:
        lines.append(owner)
    told = context.told.get(row.cause.casefold())
    if told is not None:
        lines.append(f"Fixed · told {told[0]} of {plural(told[1], 'customer')}")
    return lines
