"""The webhooks in the OpenAPI document: they are plain Starlette routes FastAPI cannot see."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from bot.services.directory import DirectoryAccountIn, TouchpointFeedIn
from bot.services.payloads import AccountEventIn, SurveyIn

REF = "#/components/schemas/{model}"

SIGNATURE_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }
    for name, description in (
        ("webhook-id", "Standard Webhooks message id"),
        ("webhook-timestamp", "Unix seconds; more than five minutes off is refused"),
        ("webhook-signature", "`v1,<base64 HMAC-SHA256>` with the SURVEY_WEBHOOK_SECRET"),
    )
]

ANSWER_SCHEMAS: dict[str, Any] = {
    "SurveyAnswer": {
        "type": "object",
        "required": ["response_id", "case_id", "segment"],
        "properties": {
            "response_id": {"type": "string"},
            "case_id": {"type": "integer"},
            "segment": {"type": "string", "enum": ["detractor", "passive", "promoter"]},
        },
    },
    "AccountEventAnswer": {
        "type": "object",
        "required": ["account_id", "event", "recorded"],
        "properties": {
            "account_id": {"type": "string"},
            "event": {"type": "string", "enum": ["churned", "renewed"]},
            "recorded": {"type": "boolean", "description": "false when already known"},
        },
    },
    "WebhookError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "never echoes the input"}},
    },
    "InvalidFields": {
        "type": "object",
        "required": ["error", "fields"],
        "properties": {
            "error": {"type": "string"},
            "fields": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
}


def _json(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": REF.format(model=schema)}}}
    return {"description": description, "content": content, **extra}


def _refusals() -> dict[str, Any]:
    return {
        "400": _json("WebhookError", "The body is not a JSON object, or not UTF-8"),
        "401": _json("WebhookError", "Signature missing, wrong or stale"),
        "413": _json("WebhookError", "The body is over 256 KiB"),
        "422": _json("InvalidFields", "Every invalid field named; nothing stored"),
    }


def _operation(model: type[BaseModel], summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["webhooks"],
            "summary": summary,
            "description": model.__doc__ or "",
            "operationId": f"post_{model.__name__}",
            "parameters": SIGNATURE_HEADERS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}
                },
            },
            "responses": responses,
        }
    }


def _records(model: type[BaseModel], summary: str, answer: str) -> dict[str, Any]:
    """A POST of a JSON array of `model` records, signed or with the directory's bearer token."""
    operation = _operation(model, summary, {})["post"]
    operation["operationId"] = f"post_{model.__name__}_array"
    operation["requestBody"]["content"]["application/json"]["schema"] = {
        "type": "array",
        "maxItems": 1000,
        "items": {"$ref": REF.format(model=model.__name__)},
    }
    operation["responses"] = {
        "202": {"description": answer, "content": {"application/json": {}}},
        **_refusals(),
    }
    return {"post": operation}


def _platform() -> dict[str, Any]:
    """`/webhooks/survey/{source}`: a survey platform's own body and signature."""
    operation = {
        "tags": ["webhooks"],
        "summary": "A survey platform's own webhook, for a source of the rules file",
        "description": "Typeform, Delighted, Formbricks, SurveyMonkey or Qualtrics, as each "
        "ships it and signs it; the README lists each platform's body and signature.",
        "operationId": "post_platform_delivery",
        "parameters": [
            {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "requestBody": {"required": True, "content": {"application/json": {}}},
        "responses": {
            "202": _json("SurveyAnswer", "A new response, or a notification queued for read-back"),
            "200": _json("SurveyAnswer", "A repeat, an update of a stored response, or ignored"),
            "404": _json("WebhookError", "No source of that name"),
            **_refusals(),
        },
    }
    return {"post": operation, "head": {"summary": "200: the URL exists", "responses": {}}}


def webhook_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """The webhook paths and the schemas they refer to."""
    schemas: dict[str, Any] = dict(ANSWER_SCHEMAS)
    for model in (SurveyIn, AccountEventIn, DirectoryAccountIn, TouchpointFeedIn):
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    busy = {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
    }
    survey = {
        "202": _json("SurveyAnswer", "A new response, committed before this answer"),
        "200": _json("SurveyAnswer", "A response_id seen before: the same case, nothing new"),
        **_refusals(),
        "503": _json("WebhookError", "Queue full or database down; nothing stored", headers=busy),
    }
    account = {
        "202": _json("AccountEventAnswer", "The event is recorded"),
        "200": _json("AccountEventAnswer", "The event was already known"),
        **_refusals(),
    }
    paths = {
        "/webhooks/survey": _operation(SurveyIn, "A survey response (the intake)", survey),
        "/webhooks/survey/{source}": _platform(),
        "/webhooks/account-events": _operation(
            AccountEventIn, "An account churned or renewed", account
        ),
        "/webhooks/account": _operation(
            AccountEventIn, "The account-events webhook's old path", account
        ),
        "/webhooks/accounts": _records(
            DirectoryAccountIn, "Accounts of the directory", "Loaded, with counts"
        ),
        "/webhooks/touchpoints": _records(
            TouchpointFeedIn, "Touchpoints from a feed", "Recorded, with counts"
        ),
    }
    return paths, schemas


def describe_webhooks(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/docs`) describe the webhooks beside FastAPI's own routes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description="Closes the NPS loop in Slack. Webhooks are signed with "
                "Standard Webhooks (https://www.standardwebhooks.com/).",
                routes=app.routes,
            )
            paths, schemas = webhook_paths()
            document.setdefault("paths", {}).update(paths)
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
