"""SurveyMonkey: `response_completed` webhooks name a response; `fetch` reads it from API v3.

The webhook is signed with `Sm-Signature`, the base64 HMAC-SHA1 of the raw body keyed with
`client_id&client_secret` (that whole string is the source's secret). Answers carry choice ids,
so `fetch` reads the survey's details too and maps a choice to its score: the number its text
starts with, else its weight. With no `score_field` the score question is the first whose
choices are exactly 0 to 10; with no `comment_field` the comment is the first answered essay
question. `account_field` and `email_field` name a custom variable or a question id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from bot.services.sources._auth import authenticate, header, hmac_base64, lowered, same
from bot.services.sources._fetch import get_json, safe_ids, unusable
from bot.services.sources._normal import Shape, full_name, load_json, properties
from bot.services.sources.base import (
    Answer,
    BadShape,
    Delivery,
    FetchRef,
    FieldMap,
    Ignored,
    Unauthorized,
)

LABEL = "SurveyMonkey"
NPS_SCALE = frozenset(range(11))
LEADING_NUMBER = re.compile(r"^\s*(\d{1,3})(?!\d|[.,]\d)")


class SurveyMonkey:
    """SurveyMonkey's API v3 webhook: ids only, the response fetched back."""

    name = "surveymonkey"
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
        """`Sm-Signature: <base64 HMAC-SHA1 of the body>` keyed `client_id&client_secret`."""
        lower = lowered(headers)

        def signature(key: str) -> None:
            given = header(lower, "Sm-Signature")
            if not same(given, hmac_base64(key, body, "sha1")):
                raise Unauthorized("Sm-Signature does not match")

        authenticate(lower, secret=secret, token=token, check_signature=signature)

    def parse(self, body: bytes, *, headers: Mapping[str, str], fields: FieldMap) -> Delivery:
        """A `response_completed` event as a FetchRef; other events are ignored."""
        data = load_json(body)
        shape = Shape()
        event = data.get("event_type")
        if not isinstance(event, str):
            shape.fail("event_type", "missing" if event is None else "must be a string")
        shape.done()
        if event != "response_completed":
            return Ignored("surveymonkey event type is not response_completed")
        response_id = shape.ident(data.get("object_id"), "object_id", safe=True)
        resources = shape.obj(data.get("resources"), "resources")
        survey_id = shape.ident(resources.get("survey_id"), "resources.survey_id", safe=True)
        event_id = data.get("event_id")
        shape.done()
        event_id = str(event_id) if isinstance(event_id, str | int) else None
        return FetchRef(self.name, response_id, survey_id, event_id)

    def fetch(
        self,
        ref: FetchRef,
        *,
        client: httpx.Client,
        api_url: str,
        api_token: str,
        fields: FieldMap,
    ) -> Answer:
        """Read the response's and the survey's details; FetchFailed on any failure."""
        safe_ids(LABEL, ref)
        base = f"{api_url.rstrip('/')}/surveys/{ref.survey_id}"
        headers = {"Authorization": f"bearer {api_token}", "Accept": "application/json"}
        url = f"{base}/responses/{ref.response_id}/details"
        response = get_json(client, url, headers=headers, platform=LABEL)
        survey = get_json(client, f"{base}/details", headers=headers, platform=LABEL)
        try:
            return _answer(ref, response, survey, fields)
        except BadShape as exc:
            raise unusable(LABEL, exc) from None


def _answer(
    ref: FetchRef, response: dict[str, Any], survey: dict[str, Any], fields: FieldMap
) -> Answer:
    shape = Shape()
    questions = _questions(survey, shape)
    answered = _answered(response, shape)
    custom = shape.obj(response.get("custom_variables"), "custom_variables", required=False)
    score_id = fields.score_field or next(
        (qid for qid, q in questions.items() if set(_choices(q).values()) == NPS_SCALE), None
    )
    score = _score(shape, score_id, questions, answered)
    comment_id = fields.comment_field or next(
        (qid for qid, q in questions.items() if _is_essay(q) and _texts(answered.get(qid))), None
    )
    comment = _texts(answered.get(comment_id)) if comment_id else None
    email = _lookup(shape, fields.email_field, custom, answered)
    email = email or _contact(shape, response, "email", "email_address")
    name = full_name(
        _contact(shape, response, "first_name", "first_name"),
        _contact(shape, response, "last_name", "last_name"),
    )
    modified = response.get("date_modified") or response.get("date_created")
    answer = Answer(
        response_id=ref.response_id,
        score=score,
        comment=shape.comment(comment, f"pages[].questions[id={comment_id}].answers[].text"),
        email=email,
        name=name,
        account_id=_lookup(shape, fields.account_field, custom, answered),
        submitted_at=shape.when(modified, "date_modified"),
        properties=properties(custom),
        complete=True,
    )
    shape.done()
    return answer


def _questions(survey: dict[str, Any], shape: Shape) -> dict[str, dict[str, Any]]:
    """The survey's questions by id, in survey order."""
    out: dict[str, dict[str, Any]] = {}
    for i, page in enumerate(shape.items(survey.get("pages"), "survey.pages")):
        questions = page.get("questions") if isinstance(page, dict) else None
        if not isinstance(questions, list):
            shape.fail(f"survey.pages[{i}].questions", "must be an array")
            continue
        for question in questions:
            if isinstance(question, dict) and isinstance(question.get("id"), str | int):
                out[str(question["id"])] = question
    return out


def _answered(response: dict[str, Any], shape: Shape) -> dict[str, list[dict[str, Any]]]:
    """The response's answers by question id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in shape.items(response.get("pages"), "pages"):
        questions = page.get("questions") if isinstance(page, dict) else None
        for question in questions if isinstance(questions, list) else []:
            if not isinstance(question, dict) or not isinstance(question.get("answers"), list):
                continue
            answers = [a for a in question["answers"] if isinstance(a, dict)]
            out[str(question.get("id"))] = answers
    return out


def _whole(value: object) -> int | None:
    """A whole number, or the number a label starts with ("0 - Not at all likely")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    match = LEADING_NUMBER.match(value) if isinstance(value, str) else None
    return int(match[1]) if match else None


def _choices(question: dict[str, Any]) -> dict[str, int]:
    """The question's choice ids mapped to a number: the text's, else the weight."""
    answers = question.get("answers")
    choices = answers.get("choices") if isinstance(answers, dict) else None
    out: dict[str, int] = {}
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict) or choice.get("id") is None:
            continue
        value = _whole(choice.get("text"))
        value = _whole(choice.get("weight")) if value is None else value
        if value is not None:
            out[str(choice["id"])] = value
    return out


def _score(
    shape: Shape,
    question_id: str | None,
    questions: dict[str, dict[str, Any]],
    answered: dict[str, list[dict[str, Any]]],
) -> int | None:
    if question_id is None:
        shape.fail("survey.pages", "no question with choices 0 to 10: set score_field")
        return None
    path = f"pages[].questions[id={question_id}].answers"
    given = answered.get(question_id)
    if not given:
        shape.fail(path, "no answer to the score question")
        return None
    if given[0].get("choice_id") is None:
        return shape.score(given[0].get("text"), f"{path}[0].text", required=True)
    value = _choices(questions.get(question_id, {})).get(str(given[0]["choice_id"]))
    if value is None:
        shape.fail(f"{path}[0].choice_id", "not a choice with a score in the survey's details")
        return None
    return shape.score(value, f"{path}[0].choice_id")


def _is_essay(question: dict[str, Any]) -> bool:
    return question.get("family") == "open_ended" and question.get("subtype") == "essay"


def _texts(answers: list[dict[str, Any]] | None) -> str | None:
    """The answers' texts, one per line."""
    texts = [a["text"] for a in answers or [] if isinstance(a.get("text"), str)]
    return "\n".join(texts) if texts else None


def _contact(shape: Shape, response: dict[str, Any], key: str, flat: str) -> str | None:
    """A contact's detail from `metadata.contact.<key>.value`, else the top-level `flat` key."""
    metadata = response.get("metadata")
    contact = metadata.get("contact") if isinstance(metadata, dict) else None
    item = contact.get(key) if isinstance(contact, dict) else None
    value = item.get("value") if isinstance(item, dict) else None
    if value is not None:
        return shape.text(value, f"metadata.contact.{key}.value")
    return shape.text(response.get(flat), flat)


def _lookup(
    shape: Shape,
    key: str | None,
    custom: dict[str, Any],
    answered: dict[str, list[dict[str, Any]]],
) -> str | None:
    """A custom variable's value, else the text answer to the question with that id."""
    if not key:
        return None
    if custom.get(key) is not None:
        return shape.text(custom.get(key), f"custom_variables.{key}")
    return shape.text(_texts(answered.get(key)), f"pages[].questions[id={key}].answers[].text")
