"""Renderers for the scheduled reports: the daily digest and Monday's weekly chart.

Both are rendered when sent, from the reports service handed to the outbox, so a digest held up
by an outage shows the cases as they are when it finally goes.
"""

from __future__ import annotations

from bot.delivery.destinations import NoDestination
from bot.delivery.plan import Context, Method, Plan, ReportSource, Send, Wait
from bot.domain.vocabulary import OutboxStatus
from storage import outbox as store

DIGEST_SCOPE = "all open cases"
CHART_TITLE = "NPS program: the last 12 weeks"
DIGEST_WAIT = 2.0


def chart_filename(day: str) -> str:
    """The chart's file name for a day; unique, so a check can find it in the channel."""
    return f"nps-weekly-{day}.png"


def _reports(ctx: Context) -> ReportSource:
    if ctx.tools.reports is None:
        raise NoDestination("the outbox has no reports service")
    return ctx.tools.reports


def _channel(ctx: Context) -> str:
    if not ctx.delivery.channel:
        raise NoDestination("digest.channel is not set")
    return ctx.delivery.channel


def render_digest(ctx: Context) -> Plan:
    report = _reports(ctx).digest(owners=None, scope=DIGEST_SCOPE, workspace=ctx.tools.workspace)
    channel = _channel(ctx)
    args = {"channel": channel, "text": report.text, "blocks": report.blocks}
    return Send(Method.POST, args, channel)


def render_monthly_review(ctx: Context) -> Plan:
    """The monthly root-cause review of the month before the payload's day."""
    report = _reports(ctx).review(str(ctx.payload.get("day", ""))[:7])
    channel = _channel(ctx)
    args = {"channel": channel, "text": report.text, "blocks": report.blocks}
    return Send(Method.POST, args, channel)


def render_chart(ctx: Context) -> Plan:
    day = str(ctx.payload.get("day", ""))
    digest = store.status_of(ctx.tools.engine, f"digest:{day}")
    if digest in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return Wait(DIGEST_WAIT, "waiting for the digest")  # the chart goes under it
    channel = _channel(ctx)
    args = {
        "channel": channel,
        "content": _reports(ctx).weekly_chart_png(),
        "filename": chart_filename(day),
        "title": CHART_TITLE,
    }
    return Send(Method.UPLOAD, args, channel)
