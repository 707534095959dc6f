"""Renderers for a fixed theme: the CX lead's draft announcement and each owner's customers."""

from __future__ import annotations

from blocks import fixes as views
from blocks.scripts import FIX_TEMPLATE
from bot.delivery.destinations import NoDestination
from bot.delivery.plan import Context, Method, Plan, Send
from storage import fixes as store


def _target(ctx: Context) -> str:
    ref = str(ctx.payload.get("to") or "")
    target = ctx.tools.directory.resolve(ref, now=ctx.now) if "@" in ref else ref
    if not target:
        raise NoDestination("the person is not in Slack")
    return target


def _fix(ctx: Context) -> store.Fix:
    fix = store.get_fix(ctx.tools.engine, int(ctx.payload.get("fix_id", 0)))
    if fix is None:
        raise NoDestination("the fix does not exist")
    return fix


def render_fix_draft(ctx: Context) -> Plan:
    """The announcement drafted from the template, sent to the CX lead."""
    fix = _fix(ctx)
    target = _target(ctx)
    announcement = ctx.tools.scripts.render(FIX_TEMPLATE, views.announcement_context(fix))
    rows = store.customers_to_tell(ctx.tools.engine, fix)
    text, blocks = views.draft_message(fix, announcement, to_tell=len(rows))
    return Send(Method.POST, {"channel": target, "text": text, "blocks": blocks}, target)


def render_fix_tell(ctx: Context) -> Plan:
    """An account owner's customers who raised the theme, each with a note and a Mark told."""
    fix = _fix(ctx)
    owner = str(ctx.payload.get("to") or "")
    target = _target(ctx)
    rows = [r for r in store.customers_to_tell(ctx.tools.engine, fix) if r.account_owner == owner]
    text, blocks = views.tell_message(fix, rows)
    return Send(Method.POST, {"channel": target, "text": text, "blocks": blocks}, target)
