"""The `/nps` reports: the standup digest, the KPIs against their targets, root causes, help."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    Block,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from blocks.card import SEGMENT_ICON
from blocks.report_parts import (
    CAUSE_LIMIT,
    CAUSE_ROWS,
    CHURN_REDUCTION_TARGET,
    CONTACT_72H_TARGET,
    CONTACT_TARGET,
    DIGEST_ROWS,
    FALLBACK_LIMIT,
    FIELD_LIMIT,
    MESSAGE_BLOCKS,
    NAME_LIMIT,
    NO_DATA,
    OFF_TARGET,
    ON_TARGET,
    RECOVERY_TARGET,
    RESOLUTION_TARGET,
    ROI_TARGET,
    SECTION_LIMIT,
    DigestCountsLike,
    DigestRowLike,
    KpiSummaryLike,
    RatioLike,
    ReportBlock,
    RootCauseRowLike,
    context_block,
    format_ratio,
    header_block,
    percent,
    plain_number,
    playbook_flags,
    plural,
    rate,
    section_block,
    share_text,
    target_marker,
)
from blocks.text import is_url, link, mention, money, safe, slack_date, truncate
from bot.domain.vocabulary import CaseStatus

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
    parts += [deadline_text(row, now), *playbook_flags(row)]
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
        f"*Contact rate, last 7 days*\n{target_marker(rate(weekly), CONTACT_TARGET)} "
        f"{format_ratio(weekly)} · target {share_text(CONTACT_TARGET)}",
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
        header_block(f"NPS standup · {title}"),
        context_block(
            ReportBlock.SCOPE,
            f"{scope} · {plural(len(rows), 'open case')} · as of {slack_date(now)}",
        ),
        DividerBlock(),
    ]
    if not rows:
        blocks.append(section_block(ReportBlock.EMPTY, f":tada: {EMPTY_DIGEST}"))
    shown = rows[:DIGEST_ROWS]
    for row in shown:
        blocks.append(
            section_block(
                f"{ReportBlock.CASE_PREFIX}{row.case_id}",
                digest_row_text(row, now=now, link_url=links.get(row.case_id)),
            )
        )
    more = len(rows) - len(shown)
    if more > 0:
        blocks.append(
            context_block(
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
        head = f"{plural(len(rows), 'open case')}, {counts.overdue} overdue."
    return truncate(
        f"NPS standup · {safe(title, 100)}: {head} "
        f"Contact rate, last 7 days: {format_ratio(counts.contact_rate_7d)}.",
        FALLBACK_LIMIT,
    )


# The KPIs


def _range(low: float, high: float) -> str:
    return f"{plain_number(low * 100)}-{share_text(high)}"


def _rate_line(name: str, ratio: RatioLike, target: float) -> str:
    marker = target_marker(rate(ratio), target)
    return f"{marker} *{name}:* {format_ratio(ratio)} · target {share_text(target)}"


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
        f"{target_marker(rate(ratio), low)} *Score recovery:* {format_ratio(ratio)} "
        f"· target {_range(low, high)}"
    )


def _change(reduction: float) -> str:
    if reduction < 0:
        return f"{share_text(-reduction)} higher"
    return f"{share_text(reduction)} lower"


def _churn_text(summary: KpiSummaryLike) -> str:
    low, high = CHURN_REDUCTION_TARGET
    reduction = summary.churn_reduction
    change = "n/a" if reduction is None else _change(reduction)
    return (
        f"{target_marker(reduction, low)} *Churn of Detractor accounts:* {change} when contacted "
        f"· target {_range(low, high)} lower\n"
        f"Contacted {format_ratio(summary.churn_contacted)} · "
        f"not contacted {format_ratio(summary.churn_uncontacted)}"
    )


def _roi_text(summary: KpiSummaryLike) -> str:
    target = f"target {plain_number(ROI_TARGET)}:1"
    retained = f"Retained ARR {money(summary.retained_arr)}"
    if not summary.program_cost:
        return (
            f"{NO_DATA} *Program ROI:* n/a · {target}\n"
            f"{retained} · no program cost: set `kpi.monthly_cost` in the rules"
        )
    roi = summary.roi
    figure = "n/a" if roi is None else f"{plain_number(roi)}:1"
    return (
        f"{target_marker(roi, ROI_TARGET)} *Program ROI:* {figure} · {target}\n"
        f"{retained} · program cost {money(summary.program_cost)}"
    )


def trend(current: float | None, previous: float | None) -> str:
    """NPS against the previous period: ▲ 4 points, ▼ 2.5 points or no change, and from what."""
    if current is None:
        return "no responses in this period"
    if previous is None:
        return "no previous period to compare with"
    delta = round(current - previous, 1)
    since = f"vs the previous period ({plain_number(previous)})"
    if delta == 0:
        return f"no change {since}"
    points = plain_number(abs(delta))
    unit = "point" if points == "1" else "points"
    return f"{'▲' if delta > 0 else '▼'} {points} {unit} {since}"


def _nps_text(summary: KpiSummaryLike) -> str:
    nps = summary.nps
    figure = "n/a" if nps is None else plain_number(nps)
    return (
        f"*NPS:* {figure} · {trend(nps, summary.nps_previous)}\n"
        f"{plural(summary.responses, 'response')}: {summary.promoters} promoters, "
        f"{summary.passives} passives, {summary.detractors} detractors"
    )


def kpi_blocks(summary: KpiSummaryLike, *, label: str) -> list[Block]:
    """The five program KPIs, each against its target with its counts, then NPS and its trend."""
    period = f"{slack_date(summary.start)} to {slack_date(summary.end)}"
    return [
        header_block(f"NPS follow-up KPIs · {label}"),
        context_block(ReportBlock.SCOPE, period),
        DividerBlock(),
        section_block(ReportBlock.KPI_CONTACT, _contact_text(summary)),
        section_block(ReportBlock.KPI_RESOLUTION, _resolution_text(summary)),
        section_block(ReportBlock.KPI_RECOVERY, _recovery_text(summary)),
        section_block(ReportBlock.KPI_CHURN, _churn_text(summary)),
        section_block(ReportBlock.KPI_ROI, _roi_text(summary)),
        DividerBlock(),
        section_block(ReportBlock.KPI_NPS, _nps_text(summary)),
        context_block(
            ReportBlock.LEGEND,
            f"{ON_TARGET} on target · {OFF_TARGET} below target · {NO_DATA} no data yet · "
            "n/a when nothing was counted",
        ),
    ]


def kpi_text(summary: KpiSummaryLike, label: str) -> str:
    """The KPIs' one-line fallback for notifications."""
    nps = "n/a" if summary.nps is None else plain_number(summary.nps)
    return truncate(
        f"NPS follow-up KPIs · {safe(label, 100)}: contact rate {percent(summary.contact_rate)}, "
        f"resolution rate {percent(summary.resolution_rate)}, NPS {nps}.",
        FALLBACK_LIMIT,
    )


# Root causes


def _cause_text(row: RootCauseRowLike, total: int) -> str:
    average = "n/a" if row.average_score is None else plain_number(row.average_score)
    share = f" ({share_text(row.cases / total)})" if total else ""
    return (
        f"*{safe(row.cause, CAUSE_LIMIT) or '_no cause_'}* · "
        f"{plural(row.cases, 'case')}{share} · average score {average} · "
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
    blocks: list[Block] = [header_block(f"NPS root causes · {label}"), DividerBlock()]
    if not rows:
        blocks.append(section_block(ReportBlock.EMPTY, EMPTY_CAUSES))
        return blocks
    total = sum(r.cases for r in rows)
    shown = rows[:CAUSE_ROWS]
    for number, row in enumerate(shown, start=1):
        blocks.append(section_block(f"{ReportBlock.CAUSE_PREFIX}{number}", _cause_text(row, total)))
    more = len(rows) - len(shown)
    if more > 0:
        blocks.append(
            context_block(
                ReportBlock.MORE, f"…and {more} more {'theme' if more == 1 else 'themes'}."
            )
        )
    average = _average(rows)
    blocks += [
        DividerBlock(),
        section_block(
            ReportBlock.TOTAL,
            f"*Total:* {plural(len(rows), 'theme')} · {plural(total, 'case')} · "
            f"average score {'n/a' if average is None else plain_number(average)} · "
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
        f"NPS root causes · {safe(label, 100)}: {plural(len(rows), 'theme')}, "
        f"{plural(sum(r.cases for r in rows), 'case')}; top: {safe(top.cause, 100)} "
        f"({plural(top.cases, 'case')}).",
        FALLBACK_LIMIT,
    )


# Help


def help_blocks() -> list[Block]:
    """The `/nps` commands, one line each."""
    return [
        header_block("nps-bot commands"),
        section_block(ReportBlock.HELP, HELP_LINES),
    ]
