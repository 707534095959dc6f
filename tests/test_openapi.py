"""The OpenAPI document describes the webhooks (bodies, headers, answers) and `/docs` shows it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.conftest import survey_body


@pytest.fixture
def document(client) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def body_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The request body's schema with every reference resolvable by jsonschema."""
    operation = document["paths"][path]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return {**resolve(document, ref), "components": document["components"]}


def test_the_webhooks_are_listed_with_their_answers(document):
    survey = document["paths"]["/webhooks/survey"]["post"]
    account = document["paths"]["/webhooks/account"]["post"]
    assert set(survey["responses"]) == {"202", "200", "400", "401", "413", "422", "503"}
    assert set(account["responses"]) == {"202", "200", "400", "401", "413", "422"}
    assert "Retry-After" in survey["responses"]["503"]["headers"]
    for operation in (survey, account):
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert operation["requestBody"]["required"] is True
    assert {"/healthz", "/metrics", "/slack/events"} <= document["paths"].keys()


def test_every_reference_resolves(document):
    for ref in refs(document):
        assert resolve(document, ref)


def test_the_published_survey_schema_is_what_the_intake_takes(document):
    schema = body_schema(document, "/webhooks/survey")
    jsonschema.validate(survey_body(), schema)  # the README's example body is valid
    for broken in (survey_body(score=11), {k: v for k, v in survey_body().items() if k != "score"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    properties = resolve(document, "#/components/schemas/CustomerIn")["properties"]
    assert {"id", "name", "email", "phone"} <= properties.keys()


def test_the_published_account_event_schema(document):
    schema = body_schema(document, "/webhooks/account")
    good = {"account_id": "a-1", "event": "churned", "at": "2026-11-20T10:00:00Z", "arr": 1}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**good, "event": "paused"}, schema)


def test_docs_are_served(client):
    answer = client.get("/docs")
    assert answer.status_code == 200
    assert "swagger" in answer.text.lower()
    assert "/openapi.json" in answer.text
