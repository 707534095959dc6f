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
from blocks.fixes import mark_fixed_button
from blocks.report_parts import (
    CAUSE_LIMIT,
    CAUSE_ROWS,
    CONTACT_TARGET,
    DIGEST_ROWS,
    FALLBACK_LIMIT,
    FIELD_LIMIT,
    MESSAGE_BLOCKS,
    NAME_LIMIT,
    OFF_TARGET,
    SECTION_LIMIT,
    DigestCountsLike,
    OpenCaseLike,
    ReportBlock,
    RootCauseRowLike,
    context_block,
    format_ratio,
    header_block,
    plain_number,
    playbook_flags,
    plural,
    rate,
    section_block,
    share_text,
    target_marker,
)
from blocks.text import is_url, link, mention, money, safe, slack_date, truncate
from blocks.themes import ThemeContext, theme_lines
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
        "`/nps kpi quarters`",
        "the five KPIs for the last four quarters side by side against their targets.",
    ),
    (
        "`/nps kpi quarters`",
        "the five KPIs for the last four quarters side by side against their targets.",
    ),
    (
        "`/nps rootcause [YYYY-MM]`",
        "root-cause themes with their cases, average score, ARR at risk, owner and mandate, "
        "and the change since the month before.",
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


def deadline_text(row: OpenCaseLike, now: datetime) -> str | None:
    """Time to the contact deadline or past it; None once the customer was contacted."""
    if row.overdue:
        return f"*{OFF_TARGET} {_rough(now - row.contact_due_at)} overdue*"
    if row.status in DEADLINE_MET:
        return None
    if row.contact_due_at > now:
        return f"due in {_rough(row.contact_due_at - now)}"
    return "due now"


def digest_row_text(row: OpenCaseLike, *, now: datetime, link_url: str | None) -> str:
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
    rows: Sequence[OpenCaseLike],
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


def digest_text(rows: Sequence[OpenCaseLike], counts: DigestCountsLike, *, title: str) -> str:
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


def root_cause_blocks(
    rows: Sequence[RootCauseRowLike], *, label: str, context: ThemeContext | None = None
) -> list[Block]:
    """Each root-cause theme as given (largest first) with cases, score and ARR, then the total.

    With a context, each theme also shows its change since the previous period and its owner.
    """
    blocks: list[Block] = [header_block(f"NPS root causes · {label}"), DividerBlock()]
    if not rows:
        blocks.append(section_block(ReportBlock.EMPTY, EMPTY_CAUSES))
        return blocks
    total = sum(r.cases for r in rows)
    shown = rows[:CAUSE_ROWS]
    for number, row in enumerate(shown, start=1):
        text = "\n".join([_cause_text(row, total), *theme_lines(row, context)])
        theme = context.theme(row.cause) if context is not None else None
        blocks.append(
            SectionBlock(
                block_id=f"{ReportBlock.CAUSE_PREFIX}{number}",
                text=truncate(text, SECTION_LIMIT),
                accessory=mark_fixed_button(theme.name) if theme is not None else None,
            )
        )
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
