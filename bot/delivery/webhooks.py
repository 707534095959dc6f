"""The outgoing re-survey request: a Standard Webhooks POST to the survey platform, signed with
the survey secret, with an id that stays the same across retries so the receiver can dedupe."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from storage.case_view import CaseView

TIMEOUT = 10


class WebhookFailed(Exception):
    """The platform did not take the request; `transient` when a later try may succeed."""

    def __init__(self, code: str, *, transient: bool) -> None:
        super().__init__(code)
        self.code = code
        self.transient = transient


def message_id(delivery_id: int) -> str:
    """The request's `webhook-id`: one per outbox row, the same on every retry."""
    return f"msg_nps_{delivery_id}"


def resurvey_body(view: CaseView) -> dict[str, Any]:
    """What the platform needs to survey the customer again."""
    return {
        "type": "resurvey.requested",
        "case_id": view.case.id,
        "resurvey_of": view.case.response_id,
        "survey": view.response.survey,
        "customer": {
            "id": view.customer.id,
            "name": view.customer.name,
            "email": view.customer.email,
            "phone": view.customer.phone,
        },
        "account": {"id": view.account.id, "name": view.account.name},
    }


def post_signed(url: str, body: dict[str, Any], *, secret: str, msg_id: str, now: datetime) -> None:
    """POST `body` signed for `msg_id` at `now`; raises WebhookFailed unless answered 2xx."""
    text = json.dumps(body, separators=(",", ":"))
    request = urllib.request.Request(
        url,
        data=text.encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, text),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        raise WebhookFailed(type(exc).__name__, transient=True) from exc
    if not 200 <= status < 300:
        transient = status in (408, 429) or status >= 500
        raise WebhookFailed(f"http_{status}", transient=transient)
