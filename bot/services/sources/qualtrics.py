"""Qualtrics event subscriptions: a form-urlencoded notice naming a completed response.

With a shared key the form holds `Topic`, `MSG` (the event as JSON text) and `HMAC`, the hex
HMAC-SHA512 of `MSG` under the key; `Topic` is not covered by it, so the ids are read from `MSG`
only. Without a key the event's fields are flat form fields. `fetch` reads
`/API/v3/surveys/{SurveyID}/responses/{ResponseID}`; in `result.values` the score is `QIDn`
(with no `score_field`, the first `QIDn` that has a `QIDn_NPS_GROUP`), the comment `QIDm_TEXT`
(with no `comment_field`, the first non-blank `*_TEXT`), the email `recipientEmail`, and embedded
data sits in flat keys, which become `properties`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from bot.services.sources._auth import authenticate, hmac_hex, lowered, same
from bot.services.sources._fetch import get_json, safe_ids, unusable
from bot.services.sources._normal import Shape, full_name, properties
from bot.services.sources.base import (
    Answer,
    BadShape,
    Delivery,
    FetchRef,
    FieldMap,
    Ignored,
    NotParseable,
    Unauthorized,
)

LABEL = "Qualtrics"
COMPLETED = re.compile(r"(^|\.)surveyengine\.completedResponse\.")
QUESTION = re.compile(r"^QID\d")
# Keys of `result.values` that are the platform's own, not embedded data.
SYSTEM = frozenset(
    {
        "startDate",
        "endDate",
        "status",
        "ipAddress",
        "progress",
        "duration",
        "finished",
        "recordedDate",
        "_recordId",
        "locationLatitude",
        "locationLongitude",
        "distributionChannel",
        "userLanguage",
        "recipientEmail",
        "recipientFirstName",
        "recipientLastName",
    }
)


class Qualtrics:
    """A Qualtrics event subscription: ids only, the response fetched back."""

    name = "qualtrics"
    id_only = True

    def verify(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None,
        token: str | None,
        now: datetime,
    ) -> None:
        """The `HMAC` form field (hex HMAC-SHA512 of `MSG`) under the shared key, else the token."""

        def signature(key: str) -> None:
            try:
                form = _form(body)
            except NotParseable:
                raise Unauthorized("body is not a form with MSG and HMAC fields") from None
            msg, mac = _signed_field(form, "MSG"), _signed_field(form, "HMAC")
            if not same(mac.strip().lower(), hmac_hex(key, msg.encode(), "sha512")):
                raise Unauthorized("HMAC form field does not match")

        authenticate(lowered(headers), secret=secret, token=token, check_signature=signature)

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """A completed-response event as a FetchRef; other topics are ignored."""
        form = _form(body)
        shape = Shape()
        topic = _field(shape, form, "Topic")
        event, prefix = _event(shape, form)
        shape.done()
        if not COMPLETED.search(topic):
            return Ignored("qualtrics topic is not a completed response")
        survey_id = shape.ident(event.get("SurveyID"), f"{prefix}SurveyID", safe=True)
        response_id = shape.ident(event.get("ResponseID"), f"{prefix}ResponseID", safe=True)
        shape.done()
        return FetchRef(self.name, response_id, survey_id)

    def fetch(
        self,
        ref: FetchRef,
        *,
        client: httpx.Client,
        api_url: str,
        api_token: str,
        fields: FieldMap,
    ) -> Answer:
        """Read the response from the Responses API; FetchFailed on any failure."""
        safe_ids(LABEL, ref)
        url = f"{api_url.rstrip('/')}/API/v3/surveys/{ref.survey_id}/responses/{ref.response_id}"
        headers = {"X-API-TOKEN": api_token, "Accept": "application/json"}
        data = get_json(client, url, headers=headers, platform=LABEL)
        try:
            return _answer(ref, data, fields)
        except BadShape as exc:
            raise unusable(LABEL, exc) from None


def _form(body: bytes) -> dict[str, list[str]]:
    """The body as form fields; NotParseable when it is not form-urlencoded."""
    try:
        form = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=100
        )
    except ValueError:  # also UnicodeDecodeError
        raise NotParseable("body is not form-urlencoded") from None
    if not form:
        raise NotParseable("body is empty")
    return form


def _signed_field(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name, [])
    if not values or not values[0]:
        raise Unauthorized(f"missing {name} form field")
    if len(values) > 1:
        raise Unauthorized(f"more than one {name} form field")
    return values[0]


def _field(shape: Shape, form: dict[str, list[str]], name: str) -> str:
    values = form.get(name, [])
    if not values or not values[0].strip():
        shape.fail(name, "missing")
        return ""
    if len(values) > 1:
        shape.fail(name, "given more than once")
        return ""
    return values[0]


def _event(shape: Shape, form: dict[str, list[str]]) -> tuple[dict[str, Any], str]:
    """The event's fields (from `MSG`, else the flat form) and the path prefix naming them."""
    if "MSG" not in form:
        return {k: v[0] for k, v in form.items() if len(v) == 1}, ""
    text = _field(shape, form, "MSG")
    try:
        event = json.loads(text) if text else {}
    except (ValueError, RecursionError):
        event = None
    if not isinstance(event, dict):
        shape.fail("MSG", "must be a JSON object")
        event = {}
    return event, "MSG."


def _answer(ref: FetchRef, data: dict[str, Any], fields: FieldMap) -> Answer:
    shape = Shape()
    result = shape.obj(data.get("result"), "result")
    values = shape.obj(result.get("values"), "result.values") if not shape.errors else {}
    score_key = fields.score_field or next((k for k in values if f"{k}_NPS_GROUP" in values), None)
    if score_key is None:
        shape.fail("result.values", "no NPS question (QIDn_NPS_GROUP): set score_field")
    comment_key = fields.comment_field or next(
        (k for k, v in values.items() if k.endswith("_TEXT") and isinstance(v, str) and v.strip()),
        None,
    )
    email = _text(shape, values, fields.email_field) or _text(shape, values, "recipientEmail")
    stamp = values.get("recordedDate") or values.get("endDate")
    answer = Answer(
        response_id=ref.response_id,
        score=_score(shape, values, score_key),
        comment=shape.comment(values.get(comment_key or ""), f"result.values.{comment_key}"),
        email=email,
        name=full_name(
            _text(shape, values, "recipientFirstName"), _text(shape, values, "recipientLastName")
        ),
        account_id=_text(shape, values, fields.account_field),
        submitted_at=shape.when(stamp, "result.values.recordedDate"),
        properties=properties(
            {k: v for k, v in values.items() if k not in SYSTEM and not QUESTION.match(k)}
        ),
        complete=True,
    )
    shape.done()
    return answer


def _score(shape: Shape, values: dict[str, Any], key: str | None) -> int | None:
    """The score in `key`, required once a score question is known."""
    return shape.score(values.get(key), f"result.values.{key}", required=True) if key else None


def _text(shape: Shape, values: dict[str, Any], key: str | None) -> str | None:
    return shape.text(values.get(key), f"result.values.{key}") if key else None
