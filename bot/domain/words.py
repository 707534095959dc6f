"""Whole-word matching of words and phrases in customer comments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _phrase_pattern(phrase: str) -> str:
    return r"\s+".join(re.escape(part) for part in phrase.split())


@dataclass(frozen=True)
class WordMatcher:
    """Finds any of a set of words or phrases in text, as whole words and ignoring case."""

    words: tuple[str, ...]
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        phrases = sorted(
            {p for w in self.words if (p := _phrase_pattern(w))}, key=len, reverse=True
        )
        alternatives = "|".join(phrases)
        pattern = (
            re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if phrases else None
        )
        object.__setattr__(self, "_pattern", pattern)

    def matches(self, text: str) -> bool:
        """Whether text contains one of the words or phrases."""
        return self._pattern is not None and self._pattern.search(text) is not None
