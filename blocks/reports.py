"""The `/nps` reports: the standup digest, the KPIs against their targets, root causes, help."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.card import SEGMENT_ICON
from blocks.text import is_url, link, mention, money, safe, slack_date, truncate
from bot.domain import targets
from bot.domain.vocabulary import CaseStatus

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
EMPTY_DIGEST = "No open cases: every customer has been followed up."
EMPTY_CAUSES = "No root causes were logged in this period."
STATUS_WORDS = {
    CaseStatus.OPEN: "unclaimed",
    CaseStatus.CLAIMED: "claimed",
    CaseStatus.CONTACTED: "contacted",
    CaseStatus.RESOLVED: "resolved",
}
DEADLINE_MET = {CaseStatus.CONTACTED, CaseStatus.RESOLVED}

COMMANDS = (
    (
        "`/nps` or `/nps digest [all] [post]`",
        "the standup view of open cases, largest ARR first; `all` includes every owner's cases, "
        "`post` shares it in the channel.",
    ),
    (
        "`/nps kpi [7d|30d|90d|YYYY-MM|YYYY-Qn]`",
        "the program KPIs against their targets for the last 7, 30 or 90 days, a month or a "
        "quarter.",
    ),
    (
        "`/nps rootcause [YYYY-MM]`",
        "root-cause themes with their cases, average score and ARR at risk, for a month.",
    ),
    ("`/nps help`", "this list."),
)
HELP_LINES = "\n".join(f"• {usage}: {what}" for usage, what in COMMANDS)
HELP_TEXT = f"*`/nps` commands*\n{HELP_LINES}"


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


class DigestRowLike(Protocol):
    """One open case in the standup digest."""

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


def _number(value: float, places: int = 1) -> str:
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _share(value: float) -> str:
    return _number(value * 100) + "%"


def percent(ratio: RatioLike) -> str:
    """The ratio as a percentage: 84%, 33.3%, or n/a when the denominator is 0."""
    value = rate(ratio)
    return "n/a" if value is None else _share(value)


def format_ratio(ratio: RatioLike) -> str:
    """The percentage with its counts: 84% (42/50), or n/a (0/0)."""
    return f"{percent(ratio)} ({_number(ratio.numerator)}/{_number(ratio.denominator)})"


def _marker(value: float | None, target: float) -> str:
    if value is None:
        return NO_DATA
    return ON_TARGET if value >= target else OFF_TARGET


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(block_id=ReportBlock.HEADER, text=truncate(text, HEADER_LIMIT))


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=truncate(text, SECTION_LIMIT))]
    )


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=truncate(text, SECTION_LIMIT))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# The standup digest


def _rough(span: timedelta) -> str:
    """A wait rounded down to whole hours once past one: 5h, 2d 3h, 40m."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h" if hours else f"{minutes}m"


def deadline_text(row: DigestRowLike, now: datetime) -> str | None:
    """Time to the contact deadline or past it; None once the customer was contacted."""
    if row.overdue:
        return f"*{OFF_TARGET} {_rough(now - row.contact_due_at)} overdue*"
    if row.status in DEADLINE_MET:
        return None
    if row.contact_due_at > now:
        return f"due in {_rough(row.contact_due_at - now)}"
    return "due now"


def digest_row_text(row: DigestRowLike, *, now: datetime, link_url: str | None) -> str:
    """One open case on one line: who, where, ARR, score, owner, state, deadline and its card."""
    parts = [
        f"{SEGMENT_ICON.get(row.segment, '')} *{safe(row.customer_name, NAME_LIMIT)}*".strip(),
        safe(row.account_name, NAME_LIMIT),
        f"{money(row.arr)} ARR",
        f"{row.score}/10",
        mention(row.owner_user_id, row.owner_ref),
        STATUS_WORDS.get(row.status, safe(row.status, 30)),
    ]
    deadline = deadline_text(row, now)
    if deadline:
        parts.append(deadline)
    if is_url(link_url):
        parts.append(link(link_url, "open card"))
    return truncate(" · ".join(p for p in parts if p), SECTION_LIMIT)


def _counts_fields(counts: DigestCountsLike) -> list[MarkdownTextObject]:
    overdue = f"*{counts.overdue}* {OFF_TARGET}" if counts.overdue else "0"
    weekly = counts.contact_rate_7d
    fields = [
        f"*New today*\n{counts.new_cases}",
        f"*Contacted today*\n{counts.contacted}",
        f"*Resolved today*\n{counts.resolved}",
        f"*Overdue now*\n{overdue}",
        f"*Contact rate, last 7 days*\n{_marker(rate(weekly), CONTACT_TARGET)} "
        f"{format_ratio(weekly)} · target {_share(CONTACT_TARGET)}",
    ]
    return [MarkdownTextObject(text=truncate(f, FIELD_LIMIT)) for f in fields]


def digest_blocks(
    rows: Sequence[DigestRowLike],
    counts: DigestCountsLike,
    *,
    now: datetime,
    links: Mapping[int, str],
    title: str,
    scope: str,
) -> list[Block]:
    """The standup: open cases as given (largest ARR first), at most 40, then today's counts.

    `title` is plain text for the header; `scope` is mrkdwn written by the caller, not escaped.
    """
    blocks: list[Block] = [
        _header(f"NPS standup · {title}"),
        _context(
            ReportBlock.SCOPE,
            f"{scope} · {_plural(len(rows), 'open case')} · as of {slack_date(now)}",
        ),
        DividerBlock(),
    ]
    if not rows:
        blocks.append(_section(ReportBlock.EMPTY, f":tada: {EMPTY_DIGEST}"))
    shown = rows[:DIGEST_ROWS]
    for row in shown:
        blocks.append(
            _section(
                f"{ReportBlock.CASE_PREFIX}{row.case_id}",
                digest_row_text(row, now=now, link_url=links.get(row.case_id)),
            )
        )
    more = len(rows) - len(shown)
    if more > 0:
        blocks.append(
            _context(
                ReportBlock.MORE,
                f"…and {more} more open {'case' if more == 1 else 'cases'}: "
                "each owner sees theirs in App Home.",
            )
        )
    blocks += [
        DividerBlock(),
        SectionBlock(block_id=ReportBlock.COUNTS, fields=_counts_fields(counts)),
    ]
    return blocks[:MESSAGE_BLOCKS]


def digest_text(rows: Sequence[DigestRowLike], counts: DigestCountsLike, *, title: str) -> str:
    """The digest's one-line fallback for notifications."""
    if not rows:
        head = EMPTY_DIGEST
    else:
        head = f"{_plural(len(rows), 'open case')}, {counts.overdue} overdue."
    return truncate(
        f"NPS standup · {safe(title, 100)}: {head} "
        f"Contact rate, last 7 days: {format_ratio(counts.contact_rate_7d)}.",
        FALLBACK_LIMIT,
    )


# The KPIs


def _range(low: float, high: float) -> str:
    return f"{_number(low * 100)}-{_share(high)}"


def _rate_line(name: str, ratio: RatioLike, target: float) -> str:
    return (
        f"{_marker(rate(ratio), target)} *{name}:* {format_ratio(ratio)} · target {_share(target)}"
    )


def _contact_text(summary: KpiSummaryLike) -> str:
    return "\n".join(
        [
            _rate_line("Contact rate", summary.contact_rate, CONTACT_TARGET),
            _rate_line("Contacted within 72h", summary.contact_rate_72h, CONTACT_72H_TARGET),
        ]
    )


def _resolution_text(summary: KpiSummaryLike) -> str:
    return _rate_line("Resolution rate", summary.resolution_rate, RESOLUTION_TARGET)


def _recovery_text(summary: KpiSummaryLike) -> str:
    low, high = RECOVERY_TARGET
    ratio = summary.score_recovery
    return (
        f"{_marker(rate(ratio), low)} *Score recovery:* {format_ratio(ratio)} "
        f"· target {_range(low, high)}"
    )


def _change(reduction: float) -> str:
    if reduction < 0:
        return f"{_share(-reduction)} higher"
    return f"{_share(reduction)} lower"


def _churn_text(summary: KpiSummaryLike) -> str:
    low, high = CHURN_REDUCTION_TARGET
    reduction = summary.churn_reduction
    change = "n/a" if reduction is None else _change(reduction)
    return (
        f"{_marker(reduction, low)} *Churn of Detractor accounts:* {change} when contacted "
        f"· target {_range(low, high)} lower\n"
        f"Contacted {format_ratio(summary.churn_contacted)} · "
        f"not contacted {format_ratio(summary.churn_uncontacted)}"
    )


def _roi_text(summary: KpiSummaryLike) -> str:
    target = f"target {_number(ROI_TARGET)}:1"
    retained = f"Retained ARR {money(summary.retained_arr)}"
    if not summary.program_cost:
        return (
            f"{NO_DATA} *Program ROI:* n/a · {target}\n"
            f"{retained} · no program cost: set `kpi.monthly_cost` in the rules"
        )
    roi = summary.roi
    figure = "n/a" if roi is None else f"{_number(roi)}:1"
    return (
        f"{_marker(roi, ROI_TARGET)} *Program ROI:* {figure} · {target}\n"
        f"{retained} · program cost {money(summary.program_cost)}"
    )


def trend(current: float | None, previous: float | None) -> str:
    """NPS against the previous period: ▲ 4 points, ▼ 2.5 points or no change, and from what."""
    if current is None:
        return "no responses in this period"
    if previous is None:
        return "no previous period to compare with"
    delta = round(current - previous, 1)
    since = f"vs the previous period ({_number(previous)})"
    if delta == 0:
        return f"no change {since}"
    points = _number(abs(delta))
    unit = "point" if points == "1" else "points"
    return f"{'▲' if delta > 0 else '▼'} {points} {unit} {since}"


def _nps_text(summary: KpiSummaryLike) -> str:
    nps = summary.nps
    figure = "n/a" if nps is None else _number(nps)
    return (
        f"*NPS:* {figure} · {trend(nps, summary.nps_previous)}\n"
        f"{_plural(summary.responses, 'response')}: {summary.promoters} promoters, "
        f"{summary.passives} passives, {summary.detractors} detractors"
    )


def kpi_blocks(summary: KpiSummaryLike, *, label: str) -> list[Block]:
    """The five program KPIs, each against its target with its counts, then NPS and its trend."""
    period = f"{slack_date(summary.start)} to {slack_date(summary.end)}"
    return [
        _header(f"NPS follow-up KPIs · {label}"),
        _context(ReportBlock.SCOPE, period),
        DividerBlock(),
        _section(ReportBlock.KPI_CONTACT, _contact_text(summary)),
        _section(ReportBlock.KPI_RESOLUTION, _resolution_text(summary)),
        _section(ReportBlock.KPI_RECOVERY, _recovery_text(summary)),
        _section(ReportBlock.KPI_CHURN, _churn_text(summary)),
        _section(ReportBlock.KPI_ROI, _roi_text(summary)),
        DividerBlock(),
        _section(ReportBlock.KPI_NPS, _nps_text(summary)),
        _context(
            ReportBlock.LEGEND,
            f"{ON_TARGET} on target · {OFF_TARGET} below target · {NO_DATA} no data yet · "
            "n/a when nothing was counted",
        ),
    ]


def kpi_text(summary: KpiSummaryLike, label: str) -> str:
    """The KPIs' one-line fallback for notifications."""
    nps = "n/a" if summary.nps is None else _number(summary.nps)
    return truncate(
        f"NPS follow-up KPIs · {safe(label, 100)}: contact rate {percent(summary.contact_rate)}, "
        f"resolution rate {percent(summary.resolution_rate)}, NPS {nps}.",
        FALLBACK_LIMIT,
    )


# Root causes


def _cause_text(row: RootCauseRowLike, total: int) -> str:
    average = "n/a" if row.average_score is None else _number(row.average_score)
    share = f" ({_share(row.cases / total)})" if total else ""
    return (
        f"*{safe(row.cause, CAUSE_LIMIT) or '_no cause_'}* · "
        f"{_plural(row.cases, 'case')}{share} · average score {average} · "
        f"{money(row.arr_at_risk)} ARR at risk"
    )


def _average(rows: Sequence[RootCauseRowLike]) -> float | None:
    scored = [r for r in rows if r.average_score is not None and r.cases]
    cases = sum(r.cases for r in scored)
    if not cases:
        return None
    return sum((r.average_score or 0) * r.cases for r in scored) / cases


def root_cause_blocks(rows: Sequence[RootCauseRowLike], *, label: str) -> list[Block]:
    """Each root-cause theme as given (largest first) with cases, score and ARR, then the total."""
    blocks: list[Block] = [_header(f"NPS root causes · {label}"), DividerBlock()]
    if not rows:
        blocks.append(_section(ReportBlock.EMPTY, EMPTY_CAUSES))
        return blocks
    total = sum(r.cases for r in rows)
    shown = rows[:CAUSE_ROWS]
    for number, row in enumerate(shown, start=1):
        blocks.append(_section(f"{ReportBlock.CAUSE_PREFIX}{number}", _cause_text(row, total)))
    more = len(rows) - len(shown)
    if more > 0:
        blocks.append(
            _context(ReportBlock.MORE, f"…and {more} more {'theme' if more == 1 else 'themes'}.")
        )
    average = _average(rows)
    blocks += [
        DividerBlock(),
        _section(
            ReportBlock.TOTAL,
            f"*Total:* {_plural(len(rows), 'theme')} · {_plural(total, 'case')} · "
            f"average score {'n/a' if average is None else _number(average)} · "
            f"{money(sum(r.arr_at_risk for r in rows))} ARR at risk",
        ),
    ]
    return blocks[:MESSAGE_BLOCKS]


def root_cause_text(rows: Sequence[RootCauseRowLike], *, label: str) -> str:
    """The root-cause rollup's one-line fallback for notifications."""
    if not rows:
        return truncate(f"NPS root causes · {safe(label, 100)}: {EMPTY_CAUSES}", FALLBACK_LIMIT)
    top = rows[0]
    return truncate(
        f"NPS root causes · {safe(label, 100)}: {_plural(len(rows), 'theme')}, "
        f"{_plural(sum(r.cases for r in rows), 'case')}; top: {safe(top.cause, 100)} "
        f"({_plural(top.cases, 'case')}).",
        FALLBACK_LIMIT,
    )


# Help


def help_blocks() -> list[Block]:
    """The `/nps` commands, one line each."""
    return [
        _header("nps-bot commands"),
        _section(ReportBlock.HELP, HELP_LINES),
    ]
