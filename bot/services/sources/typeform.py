"""Typeform: `form_response` webhooks with the whole response, signed with `Typeform-Signature`.

Answers are matched to the field map by `field.ref` or `field.id` (the ref may sit only in
`definition.fields`). With no `score_field`, the score is the first answer to a field of type
`nps`, or to an `opinion_scale` the definition shows as 11 steps from 0; a 1-5 opinion scale is
never taken for NPS. `form_response_partial` deliveries are partial (`complete=False`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.sources._auth import authenticate, header, hmac_base64, lowered, same
from bot.services.sources._fetch import PushesAnswers
from bot.services.sources._normal import Shape, load_json, properties
from bot.services.sources.base import Answer, Delivery, FieldMap, Ignored, Unauthorized

EVENTS = {"form_response": True, "form_response_partial": False}


@dataclass(frozen=True)
class _Given:
    """One answer with the keys (id and refs) that name its field."""

    path: str
    kind: str
    keys: frozenset[str]
    answer: Mapping[str, Any]
    definition: Mapping[str, Any]

    @property
    def value_path(self) -> str:
        return f"{self.path}.{self.answer.get('type')}"

    def value(self) -> object:
        """The answer's value, stored under the key its `type` names (`number`, `text`...)."""
        kind = self.answer.get("type")
        return self.answer.get(kind) if isinstance(kind, str) else None

    def is_nps(self) -> bool:
        """True for an NPS field, or an opinion scale of 11 steps from 0."""
        if self.kind == "nps":
            return True
        props = self.definition.get("properties")
        return (
            self.kind == "opinion_scale"
            and isinstance(props, dict)
            and props.get("steps") == 11
            and not props.get("start_at_one", False)
        )


class Typeform(PushesAnswers):
    """Typeform's webhook: the whole response, pushed on submit."""

    name = "typeform"

    def verify(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None,
        token: str | None,
        now: datetime,
    ) -> None:
        """`Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>`, else the token."""
        lower = lowered(headers)

        def signature(key: str) -> None:
            given = header(lower, "Typeform-Signature")
            if not same(given, "sha256=" + hmac_base64(key, body, "sha256")):
                raise Unauthorized("Typeform-Signature does not match")

        authenticate(lower, secret=secret, token=token, check_signature=signature)

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """A `form_response` as an Answer; other event types are ignored."""
        data = load_json(body)
        shape = Shape()
        event = data.get("event_type")
        if not isinstance(event, str):
            shape.fail("event_type", "missing" if event is None else "must be a string")
        form = shape.obj(data.get("form_response"), "form_response")
        shape.done()
        if event not in EVENTS:
            return Ignored("typeform event type is not form_response")
        return _answer(form, fields, complete=EVENTS[event], shape=shape)


def _answer(form: dict[str, Any], fields: FieldMap, *, complete: bool, shape: Shape) -> Answer:
    given = _given(form, shape)
    hidden = shape.obj(form.get("hidden"), "form_response.hidden", required=False)
    response_id = shape.ident(form.get("token"), "form_response.token")
    scored = _pick(given, fields.score_field, "nps")
    score = None
    if scored is not None:
        score = shape.score(scored.value(), scored.value_path, required=True)
    elif complete:
        what = "no answer to the score field" if fields.score_field else "no NPS answer"
        shape.fail("form_response.answers", what)
    commented = _pick(given, fields.comment_field, "long_text")
    comment = shape.comment(commented.value(), commented.value_path) if commented else None
    email = _lookup(shape, given, hidden, fields.email_field)
    if email is None:
        mailed = next((g for g in given if g.answer.get("type") == "email"), None)
        email = shape.text(mailed.value(), mailed.value_path) if mailed else None
    account_id = _lookup(shape, given, hidden, fields.account_field)
    submitted_at = shape.when(form.get("submitted_at"), "form_response.submitted_at")
    shape.done()
    return Answer(
        response_id=response_id,
        score=score,
        comment=comment,
        email=email,
        account_id=account_id,
        submitted_at=submitted_at,
        properties=properties(hidden),
        complete=complete,
    )


def _given(form: dict[str, Any], shape: Shape) -> list[_Given]:
    definition = shape.obj(form.get("definition"), "form_response.definition", required=False)
    specs = definition.get("fields")
    specs = specs if isinstance(specs, list) else []
    known = {f["id"]: f for f in specs if isinstance(f, dict) and isinstance(f.get("id"), str)}
    raw = form.get("answers")
    out: list[_Given] = []
    for i, answer in enumerate([] if raw is None else shape.items(raw, "form_response.answers")):
        path = f"form_response.answers[{i}]"
        if not isinstance(answer, dict):
            shape.fail(path, "must be an object")
            continue
        field = shape.obj(answer.get("field"), f"{path}.field")
        field_id = field.get("id")
        spec = known.get(field_id, {}) if isinstance(field_id, str) else {}
        names = (field_id, field.get("ref"), spec.get("ref"))
        keys = frozenset(k for k in names if isinstance(k, str))
        kind = field.get("type") or spec.get("type")
        out.append(_Given(path, str(kind or ""), keys, answer, spec))
    return out


def _find(given: list[_Given], key: str) -> _Given | None:
    return next((g for g in given if key in g.keys), None)


def _pick(given: list[_Given], key: str | None, kind: str) -> _Given | None:
    """The answer the key names; with no key, the first answer of that kind."""
    if key:
        return _find(given, key)
    if kind == "nps":
        return next((g for g in given if g.is_nps()), None)
    return next((g for g in given if g.kind == kind), None)


def _lookup(
    shape: Shape, given: list[_Given], hidden: dict[str, Any], key: str | None
) -> str | None:
    """A text from the answer the key names, else from the hidden field of that name."""
    if not key:
        return None
    found = _find(given, key)
    if found is not None:
        return shape.text(found.value(), found.value_path)
    return shape.text(hidden.get(key), f"form_response.hidden.{key}")
