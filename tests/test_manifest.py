"""Validate manifest.yml against Slack's app manifest JSON Schema, offline.

The schema files under tests/data/slack_manifest_schema/ are unchanged copies of Slack's
published schema (github.com/slackapi/manifest-schema). The top-level schema refers to its
two versioned parts by URL; those URLs are served from the local copies through a
``referencing.Registry`` so that validation never touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "manifest.yml"
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack_manifest_schema"
TOP_SCHEMA_PATH = SCHEMA_DIR / "manifest.schema.json"
# The remote file name (last URL segment) -> local copy.
LOCAL_PARTS = {
    "manifest.schema.1.0.0.json": SCHEMA_DIR / "schemas_manifest.schema.1.0.0.json",
    "manifest.schema.2.0.0.json": SCHEMA_DIR / "schemas_manifest.schema.2.0.0.json",
}
VALID_EXAMPLE = SCHEMA_DIR / "tests_manifests_v1_manifest.valid.json"
INVALID_EXAMPLE = SCHEMA_DIR / "tests_manifests_v1_manifest.invalid.json"

EVENTS_PATH = "/slack/events"
REQUIRED_BOT_SCOPES = {"chat:write", "commands", "im:write", "users:read.email"}


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _external_refs(node: Any) -> set[str]:
    """Every ``$ref`` in ``node`` that points outside the document itself."""
    refs: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            refs.add(ref)
        for value in node.values():
            refs |= _external_refs(value)
    elif isinstance(node, list):
        for value in node:
            refs |= _external_refs(value)
    return refs


@pytest.fixture(scope="module")
def top_schema() -> dict[str, Any]:
    return _load_json(TOP_SCHEMA_PATH)


@pytest.fixture(scope="module")
def validator(top_schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    resources = []
    for url in sorted(_external_refs(top_schema)):
        local = LOCAL_PARTS.get(url.rsplit("/", 1)[-1])
        assert local is not None, f"no local copy for referenced schema {url}"
        contents = _load_json(local)
        resources.append((url, Resource.from_contents(contents, default_specification=DRAFT7)))
    registry = Registry().with_resources(resources)
    jsonschema.Draft7Validator.check_schema(top_schema)
    return jsonschema.Draft7Validator(top_schema, registry=registry)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a mapping"
    return data


def _error_report(validator: jsonschema.Draft7Validator, instance: Any) -> list[str]:
    """All validation errors, including the per-branch causes of ``oneOf`` failures."""
    lines: list[str] = []

    def walk(error: jsonschema.ValidationError, depth: int) -> None:
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        lines.append(f"{'  ' * depth}{where}: {error.message}")
        for sub in sorted(error.context or [], key=lambda e: list(e.absolute_path)):
            walk(sub, depth + 1)

    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        walk(error, 0)
    return lines


def test_schema_refs_are_served_locally(top_schema: dict[str, Any]) -> None:
    refs = _external_refs(top_schema)
    assert refs, "expected manifest.schema.json to reference its versioned parts"
    for url in refs:
        assert url.rsplit("/", 1)[-1] in LOCAL_PARTS, url


def test_valid_example_passes(validator: jsonschema.Draft7Validator) -> None:
    errors = _error_report(validator, _load_json(VALID_EXAMPLE))
    assert not errors, "\n".join(errors)


def test_invalid_example_fails(validator: jsonschema.Draft7Validator) -> None:
    errors = _error_report(validator, _load_json(INVALID_EXAMPLE))
    assert errors, "the invalid example manifest unexpectedly validated"
    assert any("bad_param" in line for line in errors), "\n".join(errors)


def test_manifest_validates(
    validator: jsonschema.Draft7Validator, manifest: dict[str, Any]
) -> None:
    errors = _error_report(validator, manifest)
    assert not errors, "manifest.yml does not match Slack's schema:\n" + "\n".join(errors)


def test_manifest_targets_schema_version_2(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"]["major_version"] == 2


def test_slash_command_is_nps(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/nps"]


def _request_urls(manifest: dict[str, Any]) -> list[str]:
    settings = manifest.get("settings", {})
    urls = [c["url"] for c in manifest["features"].get("slash_commands", []) if "url" in c]
    for section in ("event_subscriptions", "interactivity"):
        url = settings.get(section, {}).get("request_url")
        if url is not None:
            urls.append(url)
    return urls


def test_request_urls_point_at_slack_events(manifest: dict[str, Any]) -> None:
    urls = _request_urls(manifest)
    if not manifest.get("settings", {}).get("socket_mode_enabled", False):
        # Over HTTP, Slack needs somewhere to send commands, events and interactions.
        assert len(urls) == 3, urls
    bad = [u for u in urls if not u.endswith(EVENTS_PATH)]
    assert not bad, f"request URLs must end with {EVENTS_PATH}: {bad}"


def test_app_home_opened_is_subscribed(manifest: dict[str, Any]) -> None:
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_interactivity_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_required_bot_scopes(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    missing = REQUIRED_BOT_SCOPES - set(scopes)
    assert not missing, f"missing bot scopes: {sorted(missing)}"
    assert len(scopes) == len(set(scopes)), "duplicate bot scopes"
