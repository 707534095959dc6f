"""The ways a survey response reaches the server under load: nps-bot's own webhook or a platform's.

Each intake says where requests go, how bodies are built and signed, what the app's rules file
needs for it, and the prefix under which the run's responses are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.load import COMMENTS, SignedRequest, build_bodies, sign_all

NATIVE_SECRET_ENV = "SURVEY_WEBHOOK_SECRET"
TYPEFORM_SOURCE = "typeform"
TYPEFORM_PATH = f"/webhooks/survey/{TYPEFORM_SOURCE}"
TYPEFORM_SECRET_ENV = "TYPEFORM_SECRET"
TYPEFORM_FORM_ID = "bEnChNpS"
# The form's questions as Typeform defines them: an 11-step opinion scale from 0 (the score),
# a long-text comment and an email question.
SCORE_QUESTION = {"id": "nPs0ScOrE1", "ref": "nps", "type": "opinion_scale"}
COMMENT_QUESTION = {"id": "wHy0CoMmNt", "ref": "why", "type": "long_text"}
EMAIL_QUESTION = {"id": "eMa1lAdDrS", "ref": "email", "type": "email"}
TYPEFORM_DEFINITION = {
    "id": TYPEFORM_FORM_ID,
    "title": "How are we doing?",
    "fields": [
        SCORE_QUESTION
        | {
            "title": "How likely are you to recommend us to a friend or colleague?",
            "properties": {"steps": 11, "start_at_one": False},
        },
        COMMENT_QUESTION | {"title": "What is the main reason for your score?"},
        EMAIL_QUESTION | {"title": "Your work email, so we can follow up"},
    ],
}
TYPEFORM_RULES = f"""
[[sources]]
name = "{TYPEFORM_SOURCE}"
platform = "typeform"
secret_env = "{TYPEFORM_SECRET_ENV}"
score_field = "{SCORE_QUESTION["ref"]}"
comment_field = "{COMMENT_QUESTION["ref"]}"
account_field = "user_id"
"""


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def typeform_body(run: str, n: int, now: datetime) -> str:
    """The `form_response` webhook body of the `n`th response of `run`, as Typeform sends it."""
    submitted = now - timedelta(minutes=n % 720)
    answers: list[dict[str, Any]] = [
        {"type": "number", "number": n % 11, "field": SCORE_QUESTION},
        {"type": "email", "email": f"c{n % 3000}@example.com", "field": EMAIL_QUESTION},
    ]
    comment = COMMENTS[n * 7 % len(COMMENTS)]
    if comment:  # Typeform leaves out the questions a respondent skipped
        answers.insert(1, {"type": "text", "text": comment, "field": COMMENT_QUESTION})
    payload = {
        "event_id": f"01BENCH{run.upper()}{n:08d}",
        "event_type": "form_response",
        "form_response": {
            "form_id": TYPEFORM_FORM_ID,
            "token": f"bench-{run}-{n}",
            "landed_at": _iso(submitted - timedelta(seconds=40 + n % 300)),
            "submitted_at": _iso(submitted),
            "hidden": {"user_id": f"a-{n % 500}"},
            "calculated": {"score": 0},
            "definition": TYPEFORM_DEFINITION,
            "answers": answers,
        },
    }
    return json.dumps(payload, ensure_ascii=False)


def typeform_bodies(run: str, count: int) -> list[str]:
    """`count` distinct Typeform bodies for `run`; accounts and respondents repeat across them."""
    now = datetime.now(UTC)
    return [typeform_body(run, n, now) for n in range(count)]


def typeform_signature(secret: str, body: bytes) -> str:
    """The `Typeform-Signature` value: `sha256=` and the base64 HMAC-SHA256 of the body."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def sign_typeform(secret: str, _run: str, bodies: list[str]) -> list[SignedRequest]:
    """Every body with its `Typeform-Signature` header."""
    signed = []
    for body in bodies:
        raw = body.encode()
        headers = {
            "content-type": "application/json",
            "typeform-signature": typeform_signature(secret, raw),
        }
        signed.append(SignedRequest(raw, headers))
    return signed


def native_secret() -> str:
    """A fresh Standard Webhooks secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def typeform_secret() -> str:
    """A fresh Typeform signing secret."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Intake:
    """One way into the server: its path, bodies, signing, rules and stored response ids."""

    name: str
    path: str
    secret_env: str
    new_secret: Callable[[], str]
    build: Callable[[str, int], list[str]]
    sign: Callable[[str, str, list[str]], list[SignedRequest]]
    rules: str = ""
    stored_as: str = "bench-{run}-"

    def stored_prefix(self, run: str) -> str:
        """The prefix every stored response_id of `run` starts with."""
        return self.stored_as.format(run=run)


INTAKES = {
    "native": Intake(
        "native", "/webhooks/survey", NATIVE_SECRET_ENV, native_secret, build_bodies, sign_all
    ),
    "typeform": Intake(
        "typeform",
        TYPEFORM_PATH,
        TYPEFORM_SECRET_ENV,
        typeform_secret,
        typeform_bodies,
        sign_typeform,
        rules=TYPEFORM_RULES,
        stored_as=TYPEFORM_SOURCE + ":bench-{run}-",
    ),
}
