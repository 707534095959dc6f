"""The `/nps kpi` report: the five KPIs against their targets, every part shown, and the
quarterly dashboard that sets four quarters side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slack_sdk.models.blocks import Block, DividerBlock

from blocks.report_parts import (
    CHURN_REDUCTION_TARGET,
    CONTACT_72H_TARGET,
    CONTACT_TARGET,
    FALLBACK_LIMIT,
    NO_DATA,
    OFF_TARGET,
    ON_TARGET,
    RECOVERY_TARGET,
    RESOLUTION_TARGET,
    ROI_TARGET,
    SECTION_LIMIT,
    KpiSummaryLike,
    RatioLike,
    ReportBlock,
    context_block,
    format_ratio,
    header_block,
    percent,
    plain_number,
    plural,
    rate,
    section_block,
    share_text,
    target_marker,
)
from blocks.text import money, safe, slack_date, truncate

SEGMENT_NAMES = {"detractor": "Detractors", "passive": "Passives", "promoter": "Promoters"}


class OutcomeSummaryLike(KpiSummaryLike, Protocol):
    """The KPIs with the parts their outcome figures are built from."""

    @property
    def recovery_outside(self) -> int: ...
    @property
    def recovered_accounts(self) -> int: ...
    @property
    def baseline_churn(self) -> float | None: ...
    @property
    def roi_missing(self) -> str | None: ...
    @property
    def segment_contact(self) -> Sequence[tuple[str, RatioLike]]: ...


def _range(low: float, high: float) -> str:
    return f"{plain_number(low * 100)}-{share_text(high)}"


def _rate_line(name: str, ratio: RatioLike, target: float) -> str:
    marker = target_marker(rate(ratio), target)
    return f"{marker} *{name}:* {format_ratio(ratio)} · target {share_text(target)}"


def _contact_text(summary: OutcomeSummaryLike) -> str:
    lines = [
        _rate_line("Contact rate", summary.contact_rate, CONTACT_TARGET),
        _rate_line("Contacted within 72h", summary.contact_rate_72h, CONTACT_72H_TARGET),
    ]
    segments = [
        f"{SEGMENT_NAMES.get(segment, segment)} {format_ratio(ratio)}"
        for segment, ratio in summary.segment_contact
    ]
    if segments:
        lines.append("Within the deadline: " + " · ".join(segments))
    return "\n".join(lines)


def _resolution_text(summary: OutcomeSummaryLike) -> str:
    line = _rate_line("Resolution rate", summary.resolution_rate, RESOLUTION_TARGET)
    in_time = getattr(summary, "resolved_in_time", None)
    if in_time is None or not in_time.denominator:
        return line
    return f"{line}\nResolved within the deadline: {format_ratio(in_time)}"


def _recovery_text(summary: OutcomeSummaryLike) -> str:
    low, high = RECOVERY_TARGET
    ratio = summary.score_recovery
    text = (
        f"{target_marker(rate(ratio), low)} *Score recovery:* {format_ratio(ratio)} "
        f"· target {_range(low, high)}"
    )
    outside = summary.recovery_outside
    if outside:
        text += (
            f"\n{plural(outside, 're-survey answer')} outside the re-survey window "
            f"(`kpi.recovery_window`): shown, not counted"
        )
    return text


def _change(reduction: float) -> str:
    if reduction < 0:
        return f"{share_text(-reduction)} higher"
    return f"{share_text(reduction)} lower"


def _side(name: str, ratio: RatioLike) -> str:
    return f"{name} (n={int(ratio.denominator)}) {format_ratio(ratio)}"


def _churn_text(summary: OutcomeSummaryLike) -> str:
    low, high = CHURN_REDUCTION_TARGET
    reduction = summary.churn_reduction
    change = "n/a" if reduction is None else _change(reduction)
    return (
        f"{target_marker(reduction, low)} *Churn of Detractor accounts:* {change} when contacted "
        f"· target {_range(low, high)} lower\n"
        f"{_side('Contacted', summary.churn_contacted)} · "
        f"{_side('not contacted', summary.churn_uncontacted)} · within `kpi.churn_window`"
    )


def _roi_text(summary: OutcomeSummaryLike) -> str:
    target = f"target {plain_number(ROI_TARGET)}:1"
    baseline = summary.baseline_churn
    parts = (
        f"Retained ARR {money(summary.retained_arr)} "
        f"({plural(summary.recovered_accounts, 'recovered account')}) times baseline churn "
        f"{'n/a' if baseline is None else share_text(baseline)}, per program cost "
        f"{money(summary.program_cost) if summary.program_cost else 'n/a'}"
    )
    roi, missing = summary.roi, summary.roi_missing
    if missing or roi is None:
        reason = f": {missing}" if missing else ""
        return f"{NO_DATA} *Program ROI:* n/a{reason} · {target}\n{parts}"
    return (
        f"{target_marker(roi, ROI_TARGET)} *Program ROI:* {plain_number(roi)}:1 · {target}\n{parts}"
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


def _nps_text(summary: OutcomeSummaryLike) -> str:
    nps = summary.nps
    figure = "n/a" if nps is None else plain_number(nps)
    return (
        f"*NPS:* {figure} · {trend(nps, summary.nps_previous)}\n"
        f"{plural(summary.responses, 'response')}: {summary.promoters} promoters, "
        f"{summary.passives} passives, {summary.detractors} detractors"
    )


def kpi_blocks(summary: OutcomeSummaryLike, *, label: str) -> list[Block]:
    """The five program KPIs, each against its target with its parts, then NPS and its trend."""
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


# The quarterly dashboard


def _cells(summary: OutcomeSummaryLike) -> list[str]:
    """One quarter's column: the five KPIs and NPS, n/a where nothing was counted."""

    def share(value: float | None) -> str:
        return "n/a" if value is None else share_text(value)

    roi, reduction, nps = summary.roi, summary.churn_reduction, summary.nps
    return [
        share(rate(summary.contact_rate)),
        share(rate(summary.resolution_rate)),
        share(rate(summary.score_recovery)),
        "n/a" if reduction is None else _change(reduction).replace(" lower", "↓"),
        "n/a" if roi is None else f"{plain_number(roi)}:1",
        "n/a" if nps is None else plain_number(nps),
    ]


QUARTER_ROWS = (
    ("Contact rate", f"{share_text(CONTACT_TARGET)}"),
    ("Resolution rate", f"{share_text(RESOLUTION_TARGET)}"),
    ("Score recovery", _range(*RECOVERY_TARGET)),
    ("Churn reduction", f"{_range(*CHURN_REDUCTION_TARGET)}↓"),
    ("Program ROI", f"{plain_number(ROI_TARGET)}:1"),
    ("NPS", "-"),
)


def quarter_table(columns: Sequence[tuple[str, OutcomeSummaryLike]]) -> str:
    """The KPIs of each quarter side by side with their targets, as fixed-width text."""
    heads = ["KPI", *(label for label, _ in columns), "Target"]
    cells = [_cells(summary) for _, summary in columns]
    rows = [
        [name, *(column[i] for column in cells), target]
        for i, (name, target) in enumerate(QUARTER_ROWS)
    ]
    widths = [max(len(row[i]) for row in (heads, *rows)) for i in range(len(heads))]

    def line(row: list[str]) -> str:
        first, *rest = row
        cells = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
        return "  ".join([first.ljust(widths[0]), *cells])

    return "\n".join(line(row) for row in (heads, *rows))


def quarter_blocks(columns: Sequence[tuple[str, OutcomeSummaryLike]]) -> list[Block]:
    """The quarterly dashboard: a table of the five KPIs and NPS over four quarters."""
    table = truncate(quarter_table(columns), SECTION_LIMIT - 8)
    return [
        header_block("NPS program · the last four quarters"),
        section_block(ReportBlock.KPI_QUARTERS, f"```{table}```"),
        context_block(
            ReportBlock.LEGEND,
            "Each quarter as of now: churn and re-surveys within their windows after each "
            "response. `/nps kpi YYYY-Qn` shows a quarter's parts.",
        ),
    ]


def quarter_text(columns: Sequence[tuple[str, OutcomeSummaryLike]]) -> str:
    """The dashboard's one-line fallback for notifications."""
    labels = ", ".join(label for label, _ in columns)
    return truncate(f"NPS program KPIs by quarter: {safe(labels, 200)}.", FALLBACK_LIMIT)
