"""Test survey responses, sent to the app's own webhook with a Standard Webhooks signature."""

from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from bot.app.sandbox.checks import JSON

# The intake's field names, and the test form's field each one is shown next to.
FORM_FIELD = {
    "score": "score",
    "comment": "comment",
    "customer": "customer",
    "account": "account",
    "arr": "arr",
    "owner": "owner",
}


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


@dataclass(frozen=True)
class Answer:
    """What the webhook answered: its status and JSON body ({} when it sent none)."""

    status: int
    body: JSON

    def field_errors(self) -> dict[str, str]:
        """The test form's fields with the intake's reasons, from a 422."""
        found: dict[str, str] = {}
        for problem in self.body.get("fields") or []:
            path = str(problem.get("field", "")).split(".")
            name = "arr" if path[-1] == "arr" else "owner" if path[-1] == "owner" else path[0]
            form_field = FORM_FIELD.get(name)
            if form_field and form_field not in found:
                found[form_field] = str(problem.get("message", "invalid"))
        return found


def _number(raw: Any) -> Any:
    """A number typed in the form as a number; anything else as typed, for the intake to judge."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def response_body(form: JSON, *, now: datetime) -> JSON:
    """A survey response from the test form's fields: score, comment, customer, account, ARR."""
    customer = str(form.get("customer") or "").strip()
    account = str(form.get("account") or "").strip()
    body: JSON = {
        "response_id": f"sandbox-{secrets.token_hex(4)}",
        "score": _number(form.get("score")),
        "comment": str(form.get("comment") or "") or None,
        "submitted_at": now.isoformat().replace("+00:00", "Z"),
        "survey": "Sandbox",
        "customer": {"id": f"c-{_slug(customer)}", "name": customer},
        "account": {"id": f"a-{_slug(account)}", "name": account, "arr": _number(form.get("arr"))},
    }
    if form.get("owner"):
        body["account"]["owner"] = str(form["owner"])
    return body


def send(url: str, secret: str, body: JSON, *, timeout: float = 10.0) -> Answer:
    """POST a response to the survey webhook, signed as the survey platform signs."""
    text = json.dumps(body)
    msg_id = f"msg_{secrets.token_hex(8)}"
    at = datetime.now().astimezone()
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, text),
    }
    request = urllib.request.Request(url, data=text.encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Answer(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, _json(exc.read()))
    except (urllib.error.URLError, TimeoutError, OSError):
        return Answer(0, {})


def _json(raw: bytes) -> JSON:
    try:
        decoded = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}
