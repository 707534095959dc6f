"""The parts every /nps report shares: limits, targets, block ids, row shapes and number formats."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from slack_sdk.models.blocks import (
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.text import safe, truncate
from bot.domain import targets

MESSAGE_BLOCKS = 50


SECTION_LIMIT = 3000


FIELD_LIMIT = 2000


HEADER_LIMIT = 150


FALLBACK_LIMIT = 300


NAME_LIMIT = 80


CAUSE_LIMIT = 150


DIGEST_ROWS = 40


CAUSE_ROWS = 40


CONTACT_TARGET = targets.CONTACT


CONTACT_72H_TARGET = targets.CONTACT_72H


RESOLUTION_TARGET = targets.RESOLUTION


RECOVERY_TARGET = targets.RECOVERY


CHURN_REDUCTION_TARGET = targets.CHURN_REDUCTION


ROI_TARGET = targets.ROI


ON_TARGET = ":white_check_mark:"


OFF_TARGET = ":warning:"


NO_DATA = ":heavy_minus_sign:"


class ReportBlock(StrEnum):
    """Blocks of the `/nps` reports; digest rows are `digest_case_<id>`, themes `cause_<n>`."""

    HEADER = "report_header"
    SCOPE = "report_scope"
    EMPTY = "report_empty"
    MORE = "report_more"
    COUNTS = "report_counts"
    TOTAL = "report_total"
    LEGEND = "report_legend"
    HELP = "report_help"
    KPI_CONTACT = "kpi_contact"
    KPI_RESOLUTION = "kpi_resolution"
    KPI_RECOVERY = "kpi_recovery"
    KPI_CHURN = "kpi_churn"
    KPI_ROI = "kpi_roi"
    KPI_NPS = "kpi_nps"
    KPI_QUARTERS = "kpi_quarters"
    CASE_PREFIX = "digest_case_"
    CAUSE_PREFIX = "cause_"


class RatioLike(Protocol):
    """A count out of a count, such as Detractors contacted out of Detractors."""

    @property
    def numerator(self) -> float: ...
    @property
    def denominator(self) -> float: ...


class KpiSummaryLike(Protocol):
    """The program's numbers for one period."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def contact_rate(self) -> RatioLike: ...
    @property
    def contact_rate_72h(self) -> RatioLike: ...
    @property
    def resolution_rate(self) -> RatioLike: ...
    @property
    def score_recovery(self) -> RatioLike: ...
    @property
    def churn_contacted(self) -> RatioLike: ...
    @property
    def churn_uncontacted(self) -> RatioLike: ...
    @property
    def churn_reduction(self) -> float | None: ...
    @property
    def retained_arr(self) -> float: ...
    @property
    def program_cost(self) -> float: ...
    @property
    def roi(self) -> float | None: ...
    @property
    def nps(self) -> float | None: ...
    @property
    def nps_previous(self) -> float | None: ...
    @property
    def responses(self) -> int: ...
    @property
    def promoters(self) -> int: ...
    @property
    def passives(self) -> int: ...
    @property
    def detractors(self) -> int: ...


class OpenCaseLike(Protocol):
    """One open case as a list shows it: App Home and the standup digest."""

    @property
    def case_id(self) -> int: ...
    @property
    def customer_name(self) -> str: ...
    @property
    def account_name(self) -> str: ...
    @property
    def arr(self) -> float | None: ...
    @property
    def score(self) -> int: ...
    @property
    def segment(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def owner_user_id(self) -> str | None: ...
    @property
    def owner_ref(self) -> str | None: ...
    @property
    def contact_due_at(self) -> datetime: ...
    @property
    def overdue(self) -> bool: ...


class DigestCountsLike(Protocol):
    """Today's movement and the 7-day contact rate."""

    @property
    def new_cases(self) -> int: ...
    @property
    def contacted(self) -> int: ...
    @property
    def resolved(self) -> int: ...
    @property
    def overdue(self) -> int: ...
    @property
    def contact_rate_7d(self) -> RatioLike: ...


class RootCauseRowLike(Protocol):
    """One root-cause theme and what it puts at risk."""

    @property
    def cause(self) -> str: ...
    @property
    def cases(self) -> int: ...
    @property
    def average_score(self) -> float | None: ...
    @property
    def arr_at_risk(self) -> float: ...


def rate(ratio: RatioLike) -> float | None:
    """The ratio as a fraction, or None when nothing was counted."""
    if not ratio.denominator:
        return None
    return ratio.numerator / ratio.denominator


def plain_number(value: float, places: int = 1) -> str:
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def share_text(value: float) -> str:
    return plain_number(value * 100) + "%"


def percent(ratio: RatioLike) -> str:
    """The ratio as a percentage: 84%, 33.3%, or n/a when the denominator is 0."""
    value = rate(ratio)
    return "n/a" if value is None else share_text(value)


def format_ratio(ratio: RatioLike) -> str:
    """The percentage with its counts: 84% (42/50), or n/a (0/0)."""
    return f"{percent(ratio)} ({plain_number(ratio.numerator)}/{plain_number(ratio.denominator)})"


def target_marker(value: float | None, target: float) -> str:
    if value is None:
        return NO_DATA
    return ON_TARGET if value >= target else OFF_TARGET


def header_block(text: str) -> HeaderBlock:
    return HeaderBlock(block_id=ReportBlock.HEADER, text=truncate(text, HEADER_LIMIT))


def context_block(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=truncate(text, SECTION_LIMIT))]
    )


def section_block(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=truncate(text, SECTION_LIMIT))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def playbook_flags(row: object) -> list[str]:
    """A list row's tier and a passed resolution deadline, when it has them."""
    flags = []
    tier = getattr(row, "tier", None)
    if tier:
        flags.append(f":rotating_light: {safe(str(tier), 100)}")
    if getattr(row, "resolution_overdue", False):
        flags.append(f"*{OFF_TARGET} resolution overdue*")
    return flags
