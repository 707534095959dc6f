"""Formbricks: `responseCreated`, `responseUpdated` and `responseFinished` for one response.

Current versions sign with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature`, a `whsec_` secret); older ones do not sign, so such sources use a token.
Answers and hidden fields sit side by side in `data.data`, keyed by question or field id, and
the payload does not say which is which. So with no `score_field` the score is the one numeric
answer (several make the delivery a BadShape rather than a guess), and with no `comment_field`
there is no comment. `properties` holds the other scalar entries of `data.data`, then
`data.contactAttributes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from bot.services.sources._auth import authenticate, header, lowered, same
from bot.services.sources._fetch import PushesAnswers
from bot.services.sources._normal import Shape, full_name, load_json, properties
from bot.services.sources.base import Answer, Delivery, FieldMap, Ignored, Unauthorized

EVENTS = {"responseCreated": False, "responseUpdated": False, "responseFinished": True}
TOLERANCE = timedelta(minutes=5)


class Formbricks(PushesAnswers):
    """Formbricks' webhook: the response, pushed as it starts, changes and finishes."""

    name = "formbricks"

    def verify(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None,
        token: str | None,
        now: datetime,
    ) -> None:
        """A Standard Webhooks signature within 5 minutes of `now`, else the bearer token."""
        lower = lowered(headers)
        authenticate(
            lower,
            secret=secret,
            token=token,
            check_signature=lambda key: _check_standard(lower, body, key, now),
        )

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """A response event as an Answer (finished: complete); other events are ignored."""
        data = load_json(body)
        shape = Shape()
        event = data.get("event")
        if not isinstance(event, str):
            shape.fail("event", "missing" if event is None else "must be a string")
        shape.done()
        if event not in EVENTS:
            return Ignored("formbricks event is not a response event")
        response = shape.obj(data.get("data"), "data")
        shape.done()
        return _answer(response, fields, complete=EVENTS[event], shape=shape)


def _check_standard(headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> None:
    """Standard Webhooks: HMAC-SHA256 of `id.timestamp.body`, `v1,<base64>`, any one of several."""
    msg_id = header(headers, "webhook-id")
    stamp = header(headers, "webhook-timestamp")
    signatures = header(headers, "webhook-signature").split()
    if not stamp.isdigit():
        raise Unauthorized("webhook-timestamp header is not Unix seconds")
    try:
        sent = datetime.fromtimestamp(int(stamp), UTC)
    except (OverflowError, OSError, ValueError):
        raise Unauthorized("webhook-timestamp header is not Unix seconds") from None
    if abs(now - sent) > TOLERANCE:
        raise Unauthorized("webhook-timestamp header is more than 5 minutes off")
    try:
        expected = Webhook(secret).sign(msg_id, sent, body)
    except (ValueError, RuntimeError, EmptyWebhookSecretError):  # not base64, or empty
        raise Unauthorized("the source's signing secret is not a whsec_ secret") from None
    if not any(same(given, expected) for given in signatures):
        raise Unauthorized("webhook-signature does not match")


def _answer(response: dict[str, Any], fields: FieldMap, *, complete: bool, shape: Shape) -> Answer:
    response_id = shape.ident(response.get("id"), "data.id")
    answers = shape.obj(response.get("data"), "data.data")
    contact = shape.obj(response.get("contactAttributes"), "data.contactAttributes", required=False)
    score_key, ambiguous = _score_key(answers, fields, shape)
    value = answers.get(score_key) if score_key else None
    score = shape.score(value, f"data.data.{score_key}")
    if value is None and complete and not ambiguous:
        shape.fail(f"data.data.{score_key}" if score_key else "data.data", "no score answer")
    key = fields.comment_field
    comment = shape.comment(answers.get(key), f"data.data.{key}") if key else None
    used = {k for k in (score_key, fields.comment_field) if k}
    answer = Answer(
        response_id=response_id,
        score=score,
        comment=comment,
        email=_text(shape, answers, contact, fields.email_field or "email"),
        name=_name(shape, contact),
        account_id=_text(shape, answers, contact, fields.account_field),
        submitted_at=_submitted(shape, response),
        properties=properties({k: v for k, v in answers.items() if k not in used}, contact),
        complete=complete,
    )
    shape.done()
    return answer


def _score_key(answers: dict[str, Any], fields: FieldMap, shape: Shape) -> tuple[str | None, bool]:
    """The mapped score key, else the only whole-number answer's; and whether several could be."""
    if fields.score_field:
        return fields.score_field, False
    keys = [
        k
        for k, v in answers.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
    ]
    if len(keys) > 1:
        shape.fail("data.data", "several numeric answers: set score_field to the NPS question id")
        return None, True
    return (keys[0] if keys else None), False


def _text(
    shape: Shape, answers: dict[str, Any], contact: dict[str, Any], key: str | None
) -> str | None:
    """A hidden field's value, else the contact attribute of that name."""
    if not key:
        return None
    if answers.get(key) is not None:
        return shape.text(answers.get(key), f"data.data.{key}")
    return shape.text(contact.get(key), f"data.contactAttributes.{key}")


def _name(shape: Shape, contact: dict[str, Any]) -> str | None:
    first = shape.text(contact.get("firstName"), "data.contactAttributes.firstName")
    last = shape.text(contact.get("lastName"), "data.contactAttributes.lastName")
    return full_name(first, last) or shape.text(contact.get("name"), "data.contactAttributes.name")


def _submitted(shape: Shape, response: dict[str, Any]) -> datetime | None:
    """When the response last changed (finished, for a finished one)."""
    if response.get("updatedAt") is not None:
        return shape.when(response.get("updatedAt"), "data.updatedAt")
    return shape.when(response.get("createdAt"), "data.createdAt")
