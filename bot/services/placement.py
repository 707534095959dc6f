"""Placing a platform's answer in the account directory, and amending a response delivered again
with a change; both run inside the intake writer's transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from bot.domain.vocabulary import UNMATCHED_ACCOUNT, UNMATCHED_ACCOUNT_NAME, StepKind
from storage import intake as store
from storage.accounts import Match, match_emails
from storage.amend import Replan, amend


def _placed(response: store.ResponseData, match: Match | None) -> store.ResponseData:
    """The response with its account and customer: named, matched by email, or unmatched."""
    email = response.customer.email
    account_id = response.account.id
    if account_id:
        account = dataclasses.replace(response.account, name=response.account.name or account_id)
    elif match is not None:
        account = store.AccountData(match.account_id, match.account_id)
    else:
        account = store.AccountData(UNMATCHED_ACCOUNT, UNMATCHED_ACCOUNT_NAME)
    known = match.customer_id if match is not None else None
    customer_id = known or (f"email:{email}" if email else response.response_id)
    customer = dataclasses.replace(response.customer, id=customer_id, account_id=account.id)
    return dataclasses.replace(response, account=account, customer=customer)


def place(conn: sa.Connection, responses: list[store.ResponseData]) -> list[store.ResponseData]:
    """Each unplaced response matched to its account: by the account id it names, else its
    respondent's email (a known customer, then the email's domain), else the unmatched account."""
    unplaced = [r for r in responses if not r.placed]
    if not unplaced:
        return responses
    matches = match_emails(conn, [r.customer.email for r in unplaced if r.customer.email])
    return [
        r if r.placed else _placed(r, matches.get((r.customer.email or "").lower()))
        for r in responses
    ]


def _replan(response: store.ResponseData, draft: store.CaseDraft) -> Replan:
    ladder = [
        (s.seq, s.notify, s.due_at, s.reassign) for s in draft.steps if s.kind == StepKind.LADDER
    ]
    alerts = [
        (s.notify, s.reason or "", s.channel) for s in draft.steps if s.kind == StepKind.ALERT
    ]
    return Replan(
        response_id=response.response_id,
        score=response.score,
        comment=response.comment,
        segment=draft.segment,
        priority=draft.priority,
        reasons=draft.reasons,
        suggest_email_first=draft.suggest_email_first,
        contact_due_at=draft.contact_due_at,
        resolution_due_at=draft.resolution_due_at,
        policy=draft.policy,
        ladder=ladder,
        alerts=alerts,
        tier=draft.tier,
    )


def amend_repeats(
    conn: sa.Connection,
    items: Sequence[tuple[store.ResponseData, store.CaseDraft]],
    stored: dict[str, store.Stored],
    *,
    now: datetime,
) -> dict[str, store.Stored]:
    """Responses delivered again that may carry a change: updated, their cards re-rendered."""
    plans = {}
    for response, draft in items:
        found = stored.get(response.response_id)
        if response.amend and found is not None and not found.created:
            plans[response.response_id] = (_replan(response, draft), draft)
    if not plans:
        return {}
    changed = amend(conn, [plan for plan, _ in plans.values()], now=now)
    return {
        rid: dataclasses.replace(stored[rid], channels=(plans[rid][1].card_channel,))
        for rid in changed
    }
