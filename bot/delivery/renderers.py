"""One renderer per delivery kind: the message a row sends, rendered from the database when sent.

Each renderer takes a `Context` and returns a `Send` (the call to make), a `Wait` or a `Skip`;
`RENDERERS` maps every `DeliveryKind` to its renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from blocks import messages, playbook_messages
from blocks.card import card_blocks, card_text
from bot.delivery.destinations import NoDestination
from bot.delivery.fix_renderers import render_fix_draft, render_fix_tell
from bot.delivery.plan import Context, Method, Plan, Send, Skip, Wait
from bot.delivery.report_renderers import render_chart, render_digest, render_monthly_review
from bot.delivery.webhooks import resurvey_body
from bot.domain.vocabulary import DeliveryKind, OutboxStatus
from storage import cases
from storage import outbox as store

Renderer = Callable[[Context], Plan]
CARD_WAIT = 2.0  # seconds between looks while a message waits for its card


def _post(target: str, text: str, blocks: list[Block] | None = None, **args: Any) -> Send:
    body: dict[str, Any] = {"channel": target, "text": text, **args}
    if blocks is not None:
        body["blocks"] = blocks
    return Send(Method.POST, body, target)


def resolve_owner(ctx: Context) -> str | None:
    """The owner's Slack user id, looked up once and stored on the case."""
    case = ctx.view.case
    if case.owner_user_id or not case.owner_ref:
        return case.owner_user_id
    owner = ctx.tools.directory.resolve(case.owner_ref, now=ctx.now)
    if owner:
        store.set_owner_user(ctx.tools.engine, case.id, owner, now=ctx.now)
        case.owner_user_id = owner
    return owner


def _person(ctx: Context, ref: str) -> str:
    target = ctx.tools.directory.resolve(ref, now=ctx.now) if "@" in ref else ref
    if not target:
        raise NoDestination("the person is not in Slack")
    return target


def _permalink(ctx: Context) -> str | None:
    case = ctx.view.case
    if case.card_channel and case.card_ts:
        return ctx.tools.workspace.link(case.card_channel, case.card_ts)
    return None


def _activity(ctx: Context) -> Any:
    activity = cases.activity_for(ctx.tools.engine, ctx.payload.get("activity_id", 0))
    if activity is None:
        raise NoDestination("activity not found")
    return activity


def _owner_target(ctx: Context) -> str:
    owner = ctx.delivery.channel or resolve_owner(ctx)
    if not owner:
        raise NoDestination("the case's owner is not in Slack")
    return owner


# --- the card ---------------------------------------------------------------------------------


def _note(fallback: dict[str, str] | None) -> list[Block]:
    """A context line saying why the card is not in its own channel: channel id and error only."""
    if not fallback:
        return []
    text = f"Posted here because <#{fallback.get('channel')}> refused it: `{fallback.get('error')}`"
    return [ContextBlock(block_id="card_fallback", elements=[MarkdownTextObject(text=text)])]


def _card_message(ctx: Context, fallback: dict[str, str] | None) -> dict[str, Any]:
    view = ctx.view
    owner = resolve_owner(ctx)
    name = ctx.tools.directory.display_name(owner) if owner else None
    script = ctx.tools.scripts.script_for(view, owner_name=name)
    blocks = card_blocks(view, now=ctx.now, script=script) + _note(fallback)
    return {"text": card_text(view), "blocks": blocks}


def render_card(ctx: Context) -> Plan:
    case = ctx.view.case
    owner = resolve_owner(ctx)
    channel = ctx.delivery.channel or ctx.tools.destinations.card_channel(case.owner_ref, owner)
    channel = channel or owner
    if not channel:
        raise NoDestination("owner has no channel and no default_channel is set")
    message = _card_message(ctx, ctx.payload.get("fallback"))
    return Send(Method.POST, {"channel": channel, **message}, channel)


def _fresh_ids(blocks: list[Block], suffix: str) -> list[Block]:
    """The same blocks with new block ids, so Slack keeps no stale state across an update."""
    for block in blocks:
        if block.block_id:
            block.block_id = f"{block.block_id}.{suffix}"
    return blocks


def render_update(ctx: Context) -> Plan:
    case = ctx.view.case
    if not case.card_ts:
        status = store.card_status(ctx.tools.engine, case.id)
        if status == OutboxStatus.SENDING:
            return Wait(CARD_WAIT, "waiting for the card")
        # A card still to be posted is rendered from the case as it is by then.
        return Skip("the card is not in Slack yet" if status == OutboxStatus.PENDING else "no card")
    message = _card_message(ctx, store.card_note(ctx.tools.engine, case.id))
    message["blocks"] = _fresh_ids(message["blocks"], f"u{ctx.delivery.id}")
    args = {"channel": case.card_channel, "ts": case.card_ts, **message}
    return Send(Method.UPDATE, args, case.card_channel or "")


def _card_state(ctx: Context) -> Plan | None:
    """None when the card is in Slack; otherwise whether to wait for it or give up."""
    if ctx.view.case.card_ts:
        return None
    status = store.card_status(ctx.tools.engine, ctx.view.case.id)
    if status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return Wait(CARD_WAIT, "waiting for the card")
    return Skip("the card was never posted")


def render_thread(ctx: Context) -> Plan:
    state = _card_state(ctx)
    if state is not None:
        return state
    activity = cases.activity_for(ctx.tools.engine, ctx.payload.get("activity_id", 0))
    if activity is None:
        return Skip("activity not found")
    case = ctx.view.case
    text = messages.thread_line(activity.action, activity.actor, activity.detail)
    return _post(case.card_channel or "", text, thread_ts=case.card_ts)


# --- messages about a case --------------------------------------------------------------------


def render_alert(ctx: Context) -> Plan:
    case = ctx.view.case
    target = ctx.delivery.channel or _person(
        ctx,
        ctx.tools.destinations.alert_target(
            ctx.payload.get("notify", ""), case.owner_ref, case.owner_user_id
        ),
    )
    text, blocks = messages.alert_message(
        ctx.view, reason=ctx.payload.get("reason"), permalink=_permalink(ctx)
    )
    return _post(target, text, blocks)


def render_dm(ctx: Context) -> Plan:
    activity = _activity(ctx)
    target = ctx.delivery.channel or activity.detail.get("to") or ""
    if not target:
        raise NoDestination("nobody to message")
    text, blocks = messages.reassigned_dm(ctx.view, by=activity.actor, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_ticket(ctx: Context) -> Plan:
    activity = _activity(ctx)
    channel = ctx.tools.destinations.alert_target("product_channel", None)
    detail = activity.detail
    text, blocks = messages.ticket_message(
        ctx.view,
        cause=detail.get("cause", ""),
        notes=detail.get("notes"),
        action_items=detail.get("action_items"),
        by=activity.actor,
        permalink=_permalink(ctx),
    )
    return _post(channel, text, blocks)


def render_review(ctx: Context) -> Plan:
    activity = _activity(ctx)
    target = _person(ctx, ctx.tools.destinations.alert_target("support_lead", None))
    detail = activity.detail
    text, blocks = messages.support_review_message(
        ctx.view,
        cause=detail.get("cause", ""),
        notes=detail.get("notes"),
        by=activity.actor,
        permalink=_permalink(ctx),
    )
    return _post(target, text, blocks)


def render_escalation(ctx: Context) -> Plan:
    activity = _activity(ctx)
    detail = activity.detail
    target = ctx.delivery.channel or detail.get("to")
    if not target:  # not resolved when the step fired (Slack unreachable then): try now
        case = ctx.view.case
        notify = str(detail.get("notify", ""))
        ref = ctx.tools.destinations.alert_target(notify, case.owner_ref, case.owner_user_id)
        target = _person(ctx, ref)
    late = detail.get("late_seconds") or 0
    text, blocks = messages.escalation_dm(
        ctx.view,
        permalink=_permalink(ctx),
        waited=activity.at - ctx.view.case.received_at,
        to_role=str(detail.get("notify", "")).replace("_", " "),
        reassigned=bool(detail.get("reassigned")),
        late_by=timedelta(seconds=late) if late else None,
    )
    return _post(target, text, blocks)


def render_nudge(ctx: Context) -> Plan:
    target = _owner_target(ctx)
    activity = _activity(ctx)
    text, blocks = messages.nudge_dm(ctx.view, by=activity.actor, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_reminder(ctx: Context) -> Plan:
    target = _owner_target(ctx)
    on = date.fromisoformat(ctx.payload["on"])
    text, blocks = messages.reminder_dm(ctx.view, on=on, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_resurvey(ctx: Context) -> Plan:
    target = _owner_target(ctx)
    text, blocks = messages.resurvey_dm(ctx.view, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_routed(ctx: Context) -> Plan:
    state = _card_state(ctx)
    if state is not None:
        return state
    target = ctx.delivery.channel or _person(ctx, str(ctx.payload.get("to") or ""))
    text, blocks = playbook_messages.routed_dm(ctx.view, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_resolution_reminder(ctx: Context) -> Plan:
    target = _owner_target(ctx)
    text, blocks = playbook_messages.resolution_reminder_dm(ctx.view, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_resolution_overdue(ctx: Context) -> Plan:
    case = ctx.view.case
    target = ctx.delivery.channel or _person(
        ctx, ctx.tools.destinations.alert_target("manager", case.owner_ref, case.owner_user_id)
    )
    text, blocks = playbook_messages.resolution_overdue_dm(ctx.view, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_recovery(ctx: Context) -> Plan:
    case = ctx.view.case
    notify = str(ctx.payload.get("notify") or "owner")
    if notify == "owner":
        target = _owner_target(ctx)
    else:
        ref = ctx.tools.destinations.alert_target(notify, case.owner_ref, case.owner_user_id)
        target = ctx.delivery.channel or _person(ctx, ref)
    text, blocks = playbook_messages.recovery_dm(ctx.view, permalink=_permalink(ctx))
    return _post(target, text, blocks)


def render_resurvey_webhook(ctx: Context) -> Plan:
    url = ctx.tools.rules.resurvey.webhook_url
    if not url or not ctx.tools.webhook_secret:
        raise NoDestination("resurvey.webhook_url or SURVEY_WEBHOOK_SECRET is not set")
    body = resurvey_body(ctx.view)
    return Send(Method.WEBHOOK, {"url": url, "body": body}, store.WEBHOOK_CHANNEL)


RENDERERS: dict[DeliveryKind, Renderer] = {
    DeliveryKind.CARD: render_card,
    DeliveryKind.CARD_UPDATE: render_update,
    DeliveryKind.THREAD: render_thread,
    DeliveryKind.ALERT: render_alert,
    DeliveryKind.DM: render_dm,
    DeliveryKind.TICKET: render_ticket,
    DeliveryKind.SUPPORT_REVIEW: render_review,
    DeliveryKind.ESCALATION: render_escalation,
    DeliveryKind.NUDGE: render_nudge,
    DeliveryKind.REMINDER: render_reminder,
    DeliveryKind.RESURVEY: render_resurvey,
    DeliveryKind.RESURVEY_WEBHOOK: render_resurvey_webhook,
    DeliveryKind.ROUTED: render_routed,
    DeliveryKind.RESOLUTION_REMINDER: render_resolution_reminder,
    DeliveryKind.RESOLUTION_OVERDUE: render_resolution_overdue,
    DeliveryKind.RECOVERY: render_recovery,
    DeliveryKind.DIGEST: render_digest,
    DeliveryKind.WEEKLY_CHART: render_chart,
    DeliveryKind.MONTHLY_REVIEW: render_monthly_review,
    DeliveryKind.FIX_DRAFT: render_fix_draft,
    DeliveryKind.FIX_TELL: render_fix_tell,
}


def render(ctx: Context) -> Plan:
    """The plan for one delivery, by its kind's renderer."""
    try:
        renderer = RENDERERS[DeliveryKind(ctx.delivery.kind)]
    except (KeyError, ValueError):
        raise NoDestination(f"unknown delivery kind {ctx.delivery.kind}") from None
    return renderer(ctx)
