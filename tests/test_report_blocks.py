"""The `/nps` reports: shapes, Slack's limits, escaping, targets, n/a cases and the help."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from blocks.kpi_report import kpi_blocks, kpi_text, quarter_blocks, quarter_table, trend
from blocks.report_parts import (
    NO_DATA,
    OFF_TARGET,
    ON_TARGET,
    ReportBlock,
    format_ratio,
    percent,
)
from blocks.reports import (
    EMPTY_CAUSES,
    EMPTY_DIGEST,
    HELP_TEXT,
    digest_blocks,
    digest_text,
    help_blocks,
    root_cause_blocks,
    root_cause_text,
)
from blocks.themes import ThemeContext

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> & <@U123> @here " + "N" * 500
LINK = "https://acme.slack.com/archives/C1/p1714999999000100"


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Summary:
    start: datetime = NOW - timedelta(days=30)
    end: datetime = NOW
    contact_rate: Ratio = Ratio(45, 50)
    contact_rate_72h: Ratio = Ratio(48, 50)
    resolution_rate: Ratio = Ratio(31, 50)
    score_recovery: Ratio = Ratio(6, 20)
    churn_contacted: Ratio = Ratio(2, 20)
    churn_uncontacted: Ratio = Ratio(5, 20)
    churn_reduction: float | None = 0.6
    retained_arr: float = 300_000
    program_cost: float = 50_000
    roi: float | None = 6.0
    roi_missing: str | None = None
    baseline_churn: float | None = 0.25
    recovered_accounts: int = 4
    recovery_outside: int = 0
    segment_contact: tuple = ()
    nps: float | None = 32.0
    nps_previous: float | None = 28.0
    responses: int = 120
    promoters: int = 60
    passives: int = 30
    detractors: int = 30


@dataclass(frozen=True)
class Row:
    case_id: int
    customer_name: str = "Dana Scully"
    account_name: str = "Acme Corp"
    arr: float | None = 120_000
    score: int = 3
    segment: str = "detractor"
    status: str = "open"
    owner_user_id: str | None = "U0OWNER"
    owner_ref: str | None = "am@example.com"
    contact_due_at: datetime = NOW + timedelta(hours=5, minutes=20)
    overdue: bool = False
    card_channel: str | None = "C1"
    card_ts: str | None = "1714999999.000100"


@dataclass(frozen=True)
class Counts:
    new_cases: int = 3
    contacted: int = 5
    resolved: int = 2
    overdue: int = 1
    contact_rate_7d: Ratio = Ratio(42, 50)


@dataclass(frozen=True)
class Cause:
    cause: str
    cases: int
    average_score: float | None
    arr_at_risk: float


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """The blocks as Slack receives them, checked to survive a re-parse and to fit the limits."""
    data = [b.to_dict() for b in blocks]
    again = [Block.parse(d) for d in data]
    assert [b.to_dict() for b in again if b is not None] == data
    assert 0 < len(data) <= 50
    for block in data:
        kind = block["type"]
        if kind == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
        elif kind == "header":
            assert len(block["text"]["text"]) <= 150
        elif kind == "context":
            assert len(block["elements"]) <= 10
            for element in block["elements"]:
                assert len(element["text"]) <= 3000
    for node in walk(data):
        if "block_id" in node:
            assert len(node["block_id"]) <= 255
    ids = [b["block_id"] for b in data if "block_id" in b]
    assert len(ids) == len(set(ids))
    return data


def texts(data: list[dict[str, Any]]) -> list[str]:
    return [n["text"] for n in walk(data) if isinstance(n.get("text"), str)]


def by_id(data: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    return next(b for b in data if b.get("block_id") == block_id)


def text_of(data: list[dict[str, Any]], block_id: str) -> str:
    return by_id(data, block_id)["text"]["text"]


def assert_defused(data: list[dict[str, Any]]) -> None:
    joined = "\n".join(texts(data))
    assert "<!channel>" not in joined and "<@U123>" not in joined
    assert "@here" not in joined.replace("@\u200bhere", "")
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in joined


# Helpers


@pytest.mark.parametrize(
    ("ratio", "short", "full"),
    [
        (Ratio(42, 50), "84%", "84% (42/50)"),
        (Ratio(0, 0), "n/a", "n/a (0/0)"),
        (Ratio(1, 3), "33.3%", "33.3% (1/3)"),
        (Ratio(0, 7), "0%", "0% (0/7)"),
        (Ratio(5, 5), "100%", "100% (5/5)"),
    ],
)
def test_percent_and_format_ratio(ratio: Ratio, short: str, full: str) -> None:
    assert percent(ratio) == short
    assert format_ratio(ratio) == full


# The standup digest


def digest(rows: Sequence[Row], counts: Counts | None = None, **links: str) -> list[dict]:
    return as_dicts(
        digest_blocks(
            rows,
            counts or Counts(),
            now=NOW,
            links={int(k[1:]): v for k, v in links.items()},
            title="Mon 6 May 2024",
            scope="Your team's cases",
        )
    )


def test_digest_rows_in_the_given_order_with_everything_a_standup_needs() -> None:
    rows = [
        Row(1),
        Row(2, arr=2_500_000, overdue=True, contact_due_at=NOW - timedelta(hours=3, minutes=10)),
        Row(3, segment="passive", score=7, status="contacted", arr=None, owner_user_id=None),
        Row(4, status="claimed", owner_user_id=None, owner_ref=None, contact_due_at=NOW),
        Row(5, contact_due_at=NOW + timedelta(days=2, hours=3)),
    ]
    data = digest(rows, c1=LINK, c3="not a link")
    header = by_id(data, ReportBlock.HEADER)["text"]["text"]
    assert header == "NPS standup · Mon 6 May 2024"
    scope = by_id(data, ReportBlock.SCOPE)["elements"][0]["text"]
    assert "Your team's cases" in scope and "5 open cases" in scope and "<!date^" in scope
    shown = [b["block_id"] for b in data if b.get("block_id", "").startswith("digest_case_")]
    assert shown == [f"digest_case_{i}" for i in range(1, 6)]

    first = text_of(data, "digest_case_1")
    assert first == (
        ":red_circle: *Dana Scully* · Acme Corp · $120k ARR · 3/10 · <@U0OWNER> · unclaimed · "
        f"due in 5h · <{LINK}|open card>"
    )
    second = text_of(data, "digest_case_2")
    assert "$2.5M ARR" in second and "*:warning: 3h overdue*" in second
    assert "open card" not in second
    third = text_of(data, "digest_case_3")
    assert third.startswith(":large_yellow_circle: ") and "7/10" in third
    assert "am@example.com" in third and "unknown ARR" in third and "contacted" in third
    assert "due" not in third and "overdue" not in third  # reached: the deadline is met
    assert "open card" not in third and "not a link" not in third
    fourth = text_of(data, "digest_case_4")
    assert "unassigned" in fourth and "claimed" in fourth and "due now" in fourth
    assert "due in 2d 3h" in text_of(data, "digest_case_5")


def test_digest_counts_today_and_the_seven_day_contact_rate() -> None:
    data = digest([Row(1)], Counts(new_cases=3, contacted=5, resolved=2, overdue=1))
    fields = [f["text"] for f in by_id(data, ReportBlock.COUNTS)["fields"]]
    assert fields[:3] == ["*New today*\n3", "*Contacted today*\n5", "*Resolved today*\n2"]
    assert fields[3] == f"*Overdue now*\n*1* {OFF_TARGET}"
    assert "84% (42/50)" in fields[4] and "target 85%" in fields[4] and OFF_TARGET in fields[4]

    data = digest([Row(1)], Counts(overdue=0, contact_rate_7d=Ratio(9, 10)))
    fields = [f["text"] for f in by_id(data, ReportBlock.COUNTS)["fields"]]
    assert fields[3] == "*Overdue now*\n0"
    assert ON_TARGET in fields[4] and "90% (9/10)" in fields[4]

    data = digest([Row(1)], Counts(contact_rate_7d=Ratio(0, 0)))
    rate = by_id(data, ReportBlock.COUNTS)["fields"][4]["text"]
    assert "n/a (0/0)" in rate and NO_DATA in rate


def test_digest_empty_state_still_shows_the_counts() -> None:
    data = digest([], Counts(new_cases=0, contacted=0, resolved=4, overdue=0))
    assert EMPTY_DIGEST in text_of(data, ReportBlock.EMPTY)
    assert EMPTY_DIGEST == "No open cases: every customer has been followed up."
    assert "0 open cases" in by_id(data, ReportBlock.SCOPE)["elements"][0]["text"]
    assert "*Resolved today*\n4" in [f["text"] for f in by_id(data, ReportBlock.COUNTS)["fields"]]
    assert not any(b.get("block_id", "").startswith("digest_case_") for b in data)


def test_500_hostile_rows_fit_in_50_blocks_with_the_rest_counted() -> None:
    rows = [
        Row(i, customer_name=HOSTILE, account_name=HOSTILE, owner_user_id=None, owner_ref=HOSTILE)
        for i in range(1, 501)
    ]
    data = digest(rows, **{f"c{i}": f"{LINK}{i}" for i in range(1, 501)})
    cases = [b for b in data if b.get("block_id", "").startswith("digest_case_")]
    assert len(cases) == 40
    assert "and 460 more open cases" in by_id(data, ReportBlock.MORE)["elements"][0]["text"]
    assert by_id(data, ReportBlock.COUNTS)
    assert_defused(data)
    for block in cases:
        assert len(block["text"]["text"]) < 1000  # names are cut, so the line stays compact
        assert block["text"]["text"].endswith("|open card>")


def test_one_more_row_than_fits_says_so_in_the_singular() -> None:
    data = digest([Row(i) for i in range(41)])
    assert "and 1 more open case:" in by_id(data, ReportBlock.MORE)["elements"][0]["text"]


def test_digest_text_is_short_and_escaped() -> None:
    rows = [Row(1, customer_name=HOSTILE), Row(2, overdue=True)]
    text = digest_text(rows, Counts(overdue=1), title="<!channel> standup")
    assert text.startswith("NPS standup · &lt;!channel&gt; standup: 2 open cases, 1 overdue.")
    assert "84% (42/50)" in text and len(text) <= 300 and "NNN" not in text
    assert EMPTY_DIGEST in digest_text([], Counts(), title="Mon")


# KPIs


def kpis(summary: Summary, label: str = "Last 30 days") -> list[dict[str, Any]]:
    return as_dicts(kpi_blocks(summary, label=label))


def test_kpis_on_target_show_counts_targets_and_a_tick() -> None:
    data = kpis(Summary())
    assert by_id(data, ReportBlock.HEADER)["text"]["text"] == "NPS follow-up KPIs · Last 30 days"
    assert by_id(data, ReportBlock.SCOPE)["elements"][0]["text"].count("<!date^") == 2
    contact = text_of(data, ReportBlock.KPI_CONTACT)
    assert f"{ON_TARGET} *Contact rate:* 90% (45/50) · target 85%" in contact
    assert f"{ON_TARGET} *Contacted within 72h:* 96% (48/50) · target 95%" in contact
    assert text_of(data, ReportBlock.KPI_RESOLUTION) == (
        f"{ON_TARGET} *Resolution rate:* 62% (31/50) · target 60%"
    )
    assert text_of(data, ReportBlock.KPI_RECOVERY) == (
        f"{ON_TARGET} *Score recovery:* 30% (6/20) · target 25-40%"
    )
    churn = text_of(data, ReportBlock.KPI_CHURN)
    assert churn.startswith(f"{ON_TARGET} *Churn of Detractor accounts:* 60% lower")
    assert "target 20-50% lower" in churn
    assert "Contacted (n=20) 10% (2/20)" in churn and "not contacted (n=20) 25% (5/20)" in churn
    roi = text_of(data, ReportBlock.KPI_ROI)
    assert roi.startswith(f"{ON_TARGET} *Program ROI:* 6:1 · target 5:1")
    assert "Retained ARR $300k (4 recovered accounts)" in roi
    assert "baseline churn 25%" in roi and "program cost $50k" in roi
    nps = text_of(data, ReportBlock.KPI_NPS)
    assert nps.startswith("*NPS:* 32 · ▲ 4 points vs the previous period (28)")
    assert "120 responses: 60 promoters, 30 passives, 30 detractors" in nps
    assert OFF_TARGET not in "\n".join(texts(data[:-1]))


def test_kpis_below_target_are_flagged() -> None:
    summary = Summary(
        contact_rate=Ratio(42, 50),
        contact_rate_72h=Ratio(47, 50),
        resolution_rate=Ratio(29, 50),
        score_recovery=Ratio(4, 20),
        churn_reduction=0.1,
        roi=4.5,
        nps=20.5,
        nps_previous=23.0,
    )
    data = kpis(summary)
    contact = text_of(data, ReportBlock.KPI_CONTACT)
    assert f"{OFF_TARGET} *Contact rate:* 84% (42/50)" in contact
    assert f"{OFF_TARGET} *Contacted within 72h:* 94% (47/50)" in contact
    for block_id in (
        ReportBlock.KPI_RESOLUTION,
        ReportBlock.KPI_RECOVERY,
        ReportBlock.KPI_CHURN,
        ReportBlock.KPI_ROI,
    ):
        assert text_of(data, block_id).startswith(OFF_TARGET)
    assert "10% lower" in text_of(data, ReportBlock.KPI_CHURN)
    assert "4.5:1" in text_of(data, ReportBlock.KPI_ROI)
    assert "*NPS:* 20.5 · ▼ 2.5 points vs the previous period (23)" in text_of(
        data, ReportBlock.KPI_NPS
    )


def test_every_kpi_without_data_is_n_a_never_a_division_error() -> None:
    empty = Ratio(0, 0)
    summary = Summary(
        contact_rate=empty,
        contact_rate_72h=empty,
        resolution_rate=empty,
        score_recovery=empty,
        churn_contacted=empty,
        churn_uncontacted=empty,
        churn_reduction=None,
        retained_arr=0,
        program_cost=0,
        roi=None,
        roi_missing="no program cost: set `kpi.monthly_cost` in the rules",
        baseline_churn=None,
        recovered_accounts=0,
        nps=None,
        nps_previous=None,
        responses=0,
        promoters=0,
        passives=0,
        detractors=0,
    )
    data = kpis(summary)
    contact = text_of(data, ReportBlock.KPI_CONTACT)
    assert f"{NO_DATA} *Contact rate:* n/a (0/0)" in contact
    assert f"{NO_DATA} *Contacted within 72h:* n/a (0/0)" in contact
    assert text_of(data, ReportBlock.KPI_RESOLUTION).startswith(
        f"{NO_DATA} *Resolution rate:* n/a (0/0)"
    )
    assert text_of(data, ReportBlock.KPI_RECOVERY).startswith(
        f"{NO_DATA} *Score recovery:* n/a (0/0)"
    )
    churn = text_of(data, ReportBlock.KPI_CHURN)
    assert churn.startswith(f"{NO_DATA} *Churn of Detractor accounts:* n/a")
    assert "Contacted (n=0) n/a (0/0) · not contacted (n=0) n/a (0/0)" in churn
    roi = text_of(data, ReportBlock.KPI_ROI)
    assert roi.startswith(f"{NO_DATA} *Program ROI:* n/a")
    assert "set `kpi.monthly_cost` in the rules" in roi and "Retained ARR $0" in roi
    nps = text_of(data, ReportBlock.KPI_NPS)
    assert nps.startswith("*NPS:* n/a · no responses in this period")
    assert "0 responses" in nps
    for block_id in (
        ReportBlock.KPI_CONTACT,
        ReportBlock.KPI_RESOLUTION,
        ReportBlock.KPI_RECOVERY,
        ReportBlock.KPI_CHURN,
        ReportBlock.KPI_ROI,
    ):
        text = text_of(data, block_id)
        assert ON_TARGET not in text and OFF_TARGET not in text
    assert "NPS n/a" in kpi_text(summary, "Last 30 days")


def test_a_missing_roi_says_why_and_still_shows_every_part() -> None:
    reason = "no program cost: set `kpi.monthly_cost` in the rules"
    roi = text_of(kpis(Summary(program_cost=0, roi=None, roi_missing=reason)), ReportBlock.KPI_ROI)
    assert roi.startswith(f"{NO_DATA} *Program ROI:* n/a: {reason}")
    assert "Retained ARR $300k" in roi and "program cost n/a" in roi
    missing = "no not-contacted Detractor accounts to compare with"
    summary = Summary(roi=None, roi_missing=missing, baseline_churn=None)
    roi = text_of(kpis(summary), ReportBlock.KPI_ROI)
    assert roi.startswith(f"{NO_DATA} *Program ROI:* n/a: no not-contacted")
    assert "baseline churn n/a" in roi and "program cost $50k" in roi


def test_recovery_outside_the_window_is_shown_apart_and_segments_have_their_rates() -> None:
    summary = Summary(
        recovery_outside=3,
        segment_contact=(("detractor", Ratio(45, 50)), ("passive", Ratio(8, 10))),
    )
    data = kpis(summary)
    recovery = text_of(data, ReportBlock.KPI_RECOVERY)
    assert "30% (6/20)" in recovery and "3 re-survey answers outside" in recovery
    contact = text_of(data, ReportBlock.KPI_CONTACT)
    assert "Within the deadline: Detractors 90% (45/50) · Passives 80% (8/10)" in contact
    assert "outside" not in text_of(kpis(Summary()), ReportBlock.KPI_RECOVERY)


def test_the_quarterly_dashboard_sets_quarters_side_by_side_with_targets() -> None:
    columns = [
        ("Q1 2026", Summary(roi=None)),
        ("Q2 2026", Summary(resolution_rate=Ratio(0, 0))),
        ("Q3 2026", Summary()),
        ("Q4 2026", Summary(contact_rate=Ratio(1, 2), nps=-12.5)),
    ]
    table = quarter_table(columns)
    lines = table.splitlines()
    assert lines[0].split() == [
        "KPI",
        "Q1",
        "2026",
        "Q2",
        "2026",
        "Q3",
        "2026",
        "Q4",
        "2026",
        "Target",
    ]
    assert lines[1].split()[-5:] == ["90%", "90%", "90%", "50%", "85%"]
    assert lines[2].split()[-5:] == ["62%", "n/a", "62%", "62%", "60%"]
    assert lines[5].split()[-5:] == ["n/a", "6:1", "6:1", "6:1", "5:1"]
    assert lines[6].split()[-5:] == ["32", "32", "32", "-12.5", "-"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
    data = as_dicts(quarter_blocks(columns))
    assert by_id(data, ReportBlock.KPI_QUARTERS)["text"]["text"] == f"```{table}```"


def test_churn_higher_when_contacted_is_flagged_as_higher() -> None:
    churn = text_of(kpis(Summary(churn_reduction=-0.25)), ReportBlock.KPI_CHURN)
    assert churn.startswith(f"{OFF_TARGET} *Churn of Detractor accounts:* 25% higher")


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (32.0, 28.0, "▲ 4 points vs the previous period (28)"),
        (27.0, 28.0, "▼ 1 point vs the previous period (28)"),
        (-12.5, 0.0, "▼ 12.5 points vs the previous period (0)"),
        (10.0, -5.0, "▲ 15 points vs the previous period (-5)"),
        (28.02, 28.0, "no change vs the previous period (28)"),
        (28.0, None, "no previous period to compare with"),
        (None, 28.0, "no responses in this period"),
    ],
)
def test_nps_trend(current: float | None, previous: float | None, expected: str) -> None:
    assert trend(current, previous) == expected


def test_kpi_label_is_cut_for_the_header_and_escaped_in_the_fallback() -> None:
    data = kpis(Summary(), label="<!channel> " + "x" * 300)
    assert len(by_id(data, ReportBlock.HEADER)["text"]["text"]) <= 150
    text = kpi_text(Summary(), "<!channel> & co")
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    assert "contact rate 90%" in text and "resolution rate 62%" in text and "NPS 32" in text


# Root causes


CAUSES = [
    Cause("Onboarding", 12, 3.5, 450_000),
    Cause("Billing & pricing", 6, 2.0, 90_000),
    Cause("Support", 2, None, 0),
]


def test_root_causes_in_the_given_order_with_a_total() -> None:
    data = as_dicts(root_cause_blocks(CAUSES, label="May 2024"))
    assert by_id(data, ReportBlock.HEADER)["text"]["text"] == "NPS root causes · May 2024"
    assert text_of(data, "cause_1") == (
        "*Onboarding* · 12 cases (60%) · average score 3.5 · $450k ARR at risk"
    )
    assert text_of(data, "cause_2") == (
        "*Billing &amp; pricing* · 6 cases (30%) · average score 2 · $90k ARR at risk"
    )
    assert "average score n/a" in text_of(data, "cause_3")
    assert text_of(data, ReportBlock.TOTAL) == (
        "*Total:* 3 themes · 20 cases · average score 3 · $540k ARR at risk"
    )
    text = root_cause_text(CAUSES, label="May 2024")
    assert text == "NPS root causes · May 2024: 3 themes, 20 cases; top: Onboarding (12 cases)."


def test_root_causes_empty_state() -> None:
    data = as_dicts(root_cause_blocks([], label="May 2024"))
    assert text_of(data, ReportBlock.EMPTY) == EMPTY_CAUSES
    assert EMPTY_CAUSES in root_cause_text([], label="May 2024")


def test_500_hostile_root_causes_fit_in_50_blocks() -> None:
    rows = [Cause(HOSTILE, 1, 4.0, 1_000) for _ in range(500)]
    data = as_dicts(root_cause_blocks(rows, label="May 2024"))
    assert len([b for b in data if b.get("block_id", "").startswith("cause_")]) == 40
    assert "and 460 more themes" in by_id(data, ReportBlock.MORE)["elements"][0]["text"]
    assert "500 cases" in text_of(data, ReportBlock.TOTAL)
    assert "$500k ARR at risk" in text_of(data, ReportBlock.TOTAL)
    assert_defused(data)
    assert "<!channel>" not in root_cause_text(rows, label="May 2024")


# Help


def test_help_lists_every_command_with_a_line_each() -> None:
    commands = [
        "`/nps`",
        "`/nps digest [all] [post]`",
        "`/nps kpi [7d|30d|90d|YYYY-MM|YYYY-Qn]`",
        "`/nps kpi quarters`",
        "`/nps rootcause [YYYY-MM]`",
        "`/nps help`",
    ]
    data = as_dicts(help_blocks())
    assert by_id(data, ReportBlock.HEADER)["text"]["text"] == "nps-bot commands"
    assert text_of(data, ReportBlock.HELP) in HELP_TEXT
    lines = [line for line in HELP_TEXT.splitlines() if line.startswith("• ")]
    assert len(lines) == 6
    for command in commands:
        assert command in HELP_TEXT
    for word in ("all", "post", "7d", "30d", "90d", "YYYY-MM", "YYYY-Qn"):
        assert word in HELP_TEXT


def test_every_report_serialises_to_plain_json() -> None:
    reports = [
        digest_blocks([Row(1)], Counts(), now=NOW, links={}, title="t", scope="s"),
        kpi_blocks(replace(Summary(), nps_previous=None), label="Q2 2024"),
        root_cause_blocks(CAUSES, label="May"),
        help_blocks(),
    ]
    for blocks in reports:
        json.dumps(as_dicts(blocks))


@dataclass(frozen=True)
class ThemeRule:
    name: str
    owner: str
    mandate: str = ""


def test_root_causes_show_owner_mandate_and_the_change_since_last_month() -> None:
    themes = [
        ThemeRule("onboarding", "U0PRODUCT", "Time to value under a week <@U1>"),
        ThemeRule("Support", "ops@example.com"),
    ]
    before = [Cause("Onboarding", 9, 4.0, 500_000), Cause("Support", 2, 5.0, 10_000)]
    context = ThemeContext.of(themes, before, "April 2024")
    data = as_dicts(root_cause_blocks(CAUSES, label="May 2024", context=context))
    onboarding = text_of(data, "cause_1").splitlines()
    assert onboarding[0].startswith("*Onboarding* · 12 cases")
    assert onboarding[1] == "▲ 3 cases, ARR at risk -$50k vs April 2024"
    assert (
        onboarding[2] == "Owner: <@U0PRODUCT> · Mandate: _Time to value under a week &lt;@U1&gt;_"
    )
    billing = text_of(data, "cause_2").splitlines()
    assert billing[1:] == ["new since April 2024"]  # no owner set for it
    support = text_of(data, "cause_3").splitlines()
    assert support[1] == "no change in cases, ARR at risk -$10k vs April 2024"
    assert support[2] == "Owner: ops@example.com"
