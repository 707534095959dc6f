"""What a renderer returns (a call to make, a wait or a skip) and what it renders from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa

from blocks.scripts import Scripts
from bot.config.rules import Rules
from bot.delivery.destinations import Destinations, NoDestination
from bot.delivery.slack import UserDirectory, Workspace
from storage import outbox as store
from storage.case_view import CaseView, case_view


class Method(StrEnum):
    """The calls a delivery ends in."""

    POST = "chat.postMessage"
    UPDATE = "chat.update"
    UPLOAD = "files_upload_v2"
    WEBHOOK = "webhook"


# A message or file that may have reached Slack although the call failed is checked before it
# is sent again; an update or a webhook (deduplicated by its id) is simply sent again.
CHECKED_METHODS = frozenset({Method.POST, Method.UPLOAD})


@dataclass(frozen=True)
class Send:
    """A call to make: `args` for the method, to `channel`."""

    method: Method
    args: dict[str, Any]
    channel: str


@dataclass(frozen=True)
class Wait:
    """Not yet: try again in `seconds`."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class Skip:
    """Nothing to send any more (a newer state will be shown anyway)."""

    reason: str


Plan = Send | Wait | Skip


class ReportLike(Protocol):
    text: str
    blocks: list[Any]


class ReportSource(Protocol):
    """The reports service, as the digest and chart renderers need it."""

    def digest(
        self, *, owners: set[str] | None, scope: str, workspace: Workspace | None = None
    ) -> ReportLike: ...

    def weekly_chart_png(self) -> bytes: ...

    def review(self, month: str) -> ReportLike: ...


@dataclass(frozen=True)
class Tools:
    """What renderers read from: the database, the rules, the directory and the workspace."""

    engine: sa.Engine
    rules: Rules
    destinations: Destinations
    directory: UserDirectory
    workspace: Workspace
    scripts: Scripts
    reports: ReportSource | None = None
    webhook_secret: str | None = None


@dataclass
class Context:
    """One delivery being rendered at `now`."""

    delivery: store.Delivery
    now: datetime
    tools: Tools
    _view: CaseView | None = field(default=None, repr=False)

    @property
    def view(self) -> CaseView:
        """The delivery's case, read once; NoDestination when there is none."""
        if self._view is None:
            case_id = self.delivery.case_id
            view = case_view(self.tools.engine, case_id) if case_id else None
            if view is None:
                raise NoDestination("the delivery's case does not exist")
            self._view = view
        return self._view

    @property
    def payload(self) -> dict[str, Any]:
        return self.delivery.payload
