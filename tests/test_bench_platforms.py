"""The Typeform load of the intake benchmark passes the real adapter, and the floor checks it."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bench.floor import build_app
from bench.intake import app_rules
from bench.platforms import INTAKES, TYPEFORM_SOURCE
from bot.config.rules import rules_from_mapping
from bot.services.platforms import build_sources, response_key
from bot.services.sources import Answer, Unauthorized

TYPEFORM = INTAKES["typeform"]
SECRET = "bench-typeform-secret"
NOW = datetime.now(UTC)


def test_typeform_bodies_verify_and_parse_with_the_adapter_under_the_bench_rules():
    rules = rules_from_mapping(tomllib.loads(app_rules(TYPEFORM)))
    source = build_sources(rules.sources, {TYPEFORM.secret_env: SECRET})[TYPEFORM_SOURCE]
    requests = TYPEFORM.sign(SECRET, "r1", TYPEFORM.build("r1", 40))
    for n, request in enumerate(requests):
        source.platform.verify(
            body=request.body, headers=request.headers, secret=source.secret, token=None, now=NOW
        )
        answer = source.platform.parse(request.body, headers=request.headers, fields=source.fields)
        assert isinstance(answer, Answer)
        assert response_key(source.name, answer.response_id) == f"{TYPEFORM.stored_prefix('r1')}{n}"
        assert answer.score == n % 11
        assert answer.account_id == f"a-{n % 500}"
        assert answer.email == f"c{n % 3000}@example.com"
        assert answer.complete
    assert sum(1 for r in requests if b'"long_text"' in r.body) > 0
    forged = TYPEFORM.sign("another-secret", "r1", TYPEFORM.build("r1", 1))[0]
    with pytest.raises(Unauthorized):
        source.platform.verify(
            body=forged.body, headers=forged.headers, secret=source.secret, token=None, now=NOW
        )


def test_the_typeform_floor_stores_signed_bodies_and_refuses_forged_ones(tmp_path: Path):
    app = build_app(f"sqlite:///{tmp_path / 'floor.db'}", SECRET, "typeform")
    signed = TYPEFORM.sign(SECRET, "r2", TYPEFORM.build("r2", 1))[0]
    forged = TYPEFORM.sign("another-secret", "r2", TYPEFORM.build("r2", 1))[0]
    with TestClient(app) as client:
        ok = client.post(TYPEFORM.path, content=signed.body, headers=signed.headers)
        refused = client.post(TYPEFORM.path, content=forged.body, headers=forged.headers)
    assert ok.status_code == 202
    assert ok.json()["response_id"] == f"{TYPEFORM.stored_prefix('r2')}0"
    assert refused.status_code == 401
