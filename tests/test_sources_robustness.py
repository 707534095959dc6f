"""Every adapter meets odd input with its typed errors, never with a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.services.sources import (
    PLATFORMS,
    Answer,
    BadShape,
    FetchFailed,
    FetchRef,
    FieldMap,
    Ignored,
    NotParseable,
    Unauthorized,
)

DATA = Path(__file__).parent / "data/platforms"
ODD: list[Any] = [None, "", "x", 0, -1, 1.5, True, "1999-01-01T00:00:00Z"]
ODD += [[], [None], {}, {"id": []}]
FIELDS = [FieldMap(), FieldMap("a", "b", "c", "d")]


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def variants(node: Any) -> Iterator[Any]:
    """The node with, in turn, each of its parts (itself included) replaced by an odd value."""
    yield from ODD
    if isinstance(node, dict):
        for key, value in node.items():
            for changed in variants(value):
                yield {**node, key: changed}
    elif isinstance(node, list):
        for i, value in enumerate(node):
            for changed in variants(value):
                yield [*node[:i], changed, *node[i + 1 :]]


def delighted_sample() -> dict[str, Any]:
    payload = load("delighted.sample.json")
    payload["event_data"]["person_properties"] = {"Customer ID": "acct-1"}
    return payload


def formbricks_sample() -> dict[str, Any]:
    payload = load("formbricks.sample.json")
    payload["data"]["data"] = {"nps": 3, "why": "slow", "plan": "pro"}
    payload["data"]["contactAttributes"] = {"email": "a@example.com", "firstName": "A"}
    return payload


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("typeform", load("typeform.sample.json")),
        ("delighted", delighted_sample()),
        ("formbricks", formbricks_sample()),
        ("surveymonkey", load("surveymonkey.sample.json")),
    ],
)
def test_parse_meets_every_odd_json_value_with_a_typed_answer(name, sample):
    platform = PLATFORMS[name]
    for payload in variants(sample):
        for fields in FIELDS:
            try:
                got = platform.parse(json.dumps(payload).encode(), headers={}, fields=fields)
            except (BadShape, NotParseable):
                continue
            assert isinstance(got, Answer | FetchRef | Ignored)


def test_qualtrics_parse_meets_every_odd_msg_with_a_typed_answer():
    msg = load("qualtrics.sample.json")
    for event in variants(msg):
        for text in (json.dumps(event), str(event)):
            body = f"Topic=x.surveyengine.completedResponse.SV_1&MSG={text}".encode()
            try:
                got = PLATFORMS["qualtrics"].parse(body, headers={}, fields=FieldMap())
            except (BadShape, NotParseable):
                continue
            assert isinstance(got, FetchRef | Ignored)


def _serving(answers: dict[str, Any]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        for suffix, body in answers.items():
            if request.url.path.endswith(suffix):
                return httpx.Response(200, json=body)
        return httpx.Response(404, json={})

    return httpx.Client(transport=httpx.MockTransport(handle))


def _fetch_all(name: str, ref: FetchRef, cases: Iterator[dict[str, Any]]) -> int:
    answered = 0
    for answers in cases:
        for fields in FIELDS:
            with _serving(answers) as client:
                try:
                    got = PLATFORMS[name].fetch(
                        ref, client=client, api_url="http://api.test", api_token="t", fields=fields
                    )
                except FetchFailed:
                    continue
            assert isinstance(got, Answer) and isinstance(got.score, int)
            answered += 1
    return answered


def test_surveymonkey_fetch_meets_odd_details_with_fetch_failed():
    survey = load("surveymonkey.survey_details.json")
    response = load("surveymonkey.response_details.json")
    ref = FetchRef("surveymonkey", "123456", "123456789")
    cases = [
        {"/responses/123456/details": r, "/123456789/details": survey} for r in variants(response)
    ]
    cases += [
        {"/responses/123456/details": response, "/123456789/details": s} for s in variants(survey)
    ]
    assert _fetch_all("surveymonkey", ref, iter(cases)) > 0


def test_qualtrics_fetch_meets_odd_results_with_fetch_failed():
    envelope = load("qualtrics.response.json")
    ref = FetchRef("qualtrics", "R_1l9mcVuXubb4aGm", "SV_22VlHYNeldrrrkp")
    cases = ({"/responses/R_1l9mcVuXubb4aGm": e} for e in variants(envelope))
    assert _fetch_all("qualtrics", ref, cases) > 0


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_signature_checks_meet_odd_bodies_with_unauthorized(name):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for value in ODD:
        body = json.dumps(value).encode()
        with pytest.raises(Unauthorized):
            PLATFORMS[name].verify(
                body=body, headers={"x": "y"}, secret="whsec_AAAA", token=None, now=now
            )
