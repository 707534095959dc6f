"""Survey platforms' own webhooks: verify, parse, and fetch back what a notification only names.

`PLATFORMS` maps each platform's key in the rules file to its adapter. A route calls
`verify`, then `parse`; an `Answer` is stored, an `Ignored` answered 200, and a `FetchRef` queued
for `fetch` (only platforms with `id_only` return one).
"""

from bot.services.sources.base import (
    Answer,
    BadShape,
    Delivery,
    FetchFailed,
    FetchRef,
    FieldError,
    FieldMap,
    Ignored,
    NotParseable,
    Platform,
    SourceError,
    Unauthorized,
)
from bot.services.sources.delighted import Delighted
from bot.services.sources.formbricks import Formbricks
from bot.services.sources.qualtrics import Qualtrics
from bot.services.sources.surveymonkey import SurveyMonkey
from bot.services.sources.typeform import Typeform

PLATFORMS: dict[str, Platform] = {
    p.name: p for p in (Typeform(), Delighted(), Formbricks(), SurveyMonkey(), Qualtrics())
}

__all__ = [
    "PLATFORMS",
    "Answer",
    "BadShape",
    "Delivery",
    "FetchFailed",
    "FetchRef",
    "FieldError",
    "FieldMap",
    "Ignored",
    "NotParseable",
    "Platform",
    "SourceError",
    "Unauthorized",
]
