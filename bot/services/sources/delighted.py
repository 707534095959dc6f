"""Delighted: `survey_response.created` then `.updated` webhooks, signed with the API key.

The score arrives first (`created`, usually without a comment: `complete=False`) and the comment
in `updated` (`complete=True`); both carry the same `event_data.id`. The survey's own question
is the score, so `score_field` and `comment_field` do not apply; `account_field` and
`email_field` name `person_properties` keys. Surveys other than NPS are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.services.sources._auth import authenticate, header, hmac_hex, lowered, same
from bot.services.sources._fetch import PushesAnswers
from bot.services.sources._normal import Shape, load_json, properties
from bot.services.sources.base import Answer, Delivery, FieldMap, Ignored, Unauthorized

EVENTS = {"survey_response.created": False, "survey_response.updated": True}


class Delighted(PushesAnswers):
    """Delighted's webhook: the response, pushed as it is created and as it changes."""

    name = "delighted"

    def verify(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None,
        token: str | None,
        now: datetime,
    ) -> None:
        """`X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256>` under the API key."""
        lower = lowered(headers)

        def signature(key: str) -> None:
            given = header(lower, "X-Delighted-Webhook-Signature").lower()
            if not same(given, "sha256=" + hmac_hex(key, body, "sha256")):
                raise Unauthorized("X-Delighted-Webhook-Signature does not match")

        authenticate(lower, secret=secret, token=token, check_signature=signature)

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """A survey response event as an Answer; other events and non-NPS surveys are ignored."""
        data = load_json(body)
        shape = Shape()
        event = data.get("event_type")
        if not isinstance(event, str):
            shape.fail("event_type", "missing" if event is None else "must be a string")
        shape.done()
        if event not in EVENTS:
            return Ignored("delighted event type is not a survey response")
        response = shape.obj(data.get("event_data"), "event_data")
        survey_type = response.get("survey_type")
        if response and not isinstance(survey_type, str):
            shape.fail("event_data.survey_type", "missing" if survey_type is None else "invalid")
        shape.done()
        if survey_type != "nps":
            return Ignored("delighted survey is not NPS")
        return _answer(response, fields, complete=EVENTS[event], shape=shape)


def _answer(response: dict[str, Any], fields: FieldMap, *, complete: bool, shape: Shape) -> Answer:
    person = shape.obj(response.get("person"), "event_data.person", required=False)
    custom = shape.obj(
        response.get("person_properties"), "event_data.person_properties", required=False
    )
    response_id = shape.ident(response.get("id"), "event_data.id")
    score = shape.score(response.get("score"), "event_data.score", required=True)
    email = None
    if fields.email_field:
        path = f"event_data.person_properties.{fields.email_field}"
        email = shape.text(custom.get(fields.email_field), path)
    if email is None:
        email = shape.text(person.get("email"), "event_data.person.email")
    account_id = None
    if fields.account_field:
        path = f"event_data.person_properties.{fields.account_field}"
        account_id = shape.text(custom.get(fields.account_field), path)
    answer = Answer(
        response_id=response_id,
        score=score,
        comment=shape.comment(response.get("comment"), "event_data.comment"),
        email=email,
        name=shape.text(person.get("name"), "event_data.person.name"),
        account_id=account_id,
        submitted_at=shape.when(response.get("created_at"), "event_data.created_at"),
        properties=properties(custom),
        complete=complete,
    )
    shape.done()
    return answer
