"""The Dockerfile and compose.yaml, read as files: the container rules hold wherever no image can
be built (`.ci/container-smoke` builds and runs the image where podman is at hand)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            split.append([])
        if split:
            split[-1].append((word, rest))
    return split


def test_two_stages_on_python_3_11_slim():
    args = dict(
        rest.split("=", 1) for word, rest in instructions() if word == "ARG" and "=" in rest
    )
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    build, run = stages()
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert run[0] == ("FROM", "${PYTHON_IMAGE}")
    assert ("COPY", "--from=build /opt/nps-bot /opt/nps-bot") in run
    assert not any(word == "COPY" and "--from" not in rest for word, rest in run)  # no sources


def test_the_image_runs_the_bot_as_a_user_without_privileges():
    run = stages()[-1]
    users = [rest for word, rest in run if word == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    created = " ".join(rest for word, rest in run if word == "RUN")
    assert f"--uid {user}" in created
    env = " ".join(rest for word, rest in run if word == "ENV")
    assert "HOST=0.0.0.0" in env
    assert "PATH=/opt/nps-bot/bin:$PATH" in env
    assert json.loads(dict(run)["ENTRYPOINT"]) == ["nps-bot"]
    assert json.loads(dict(run)["CMD"]) == ["serve"]


def test_the_healthcheck_asks_healthz():
    run = dict(stages()[-1])
    check = run["HEALTHCHECK"]
    assert "--interval=" in check and "--timeout=" in check
    command = json.loads(check.split(" CMD ", 1)[1])
    assert command[0] == "python3"  # the slim image has no curl
    assert "/healthz" in command[-1]
    assert "EXPOSE" in run and run["EXPOSE"] == "3000"


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves `path` out (last matching pattern wins, `!` re-includes)."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            result = not negate
    return result


def test_the_build_context_has_what_is_copied_and_no_secrets():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for word, rest in instructions():
        if word == "COPY" and "--from" not in rest:
            copied += rest.split()[:-1]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), f"{source} is excluded by .dockerignore"
    for secret in (".env", "nps_bot.db", ".venv", ".git", "tests/conftest.py"):
        assert ignored(secret, patterns), secret


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_postgres_with_a_volume_and_a_healthcheck(compose):
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert db["volumes"][0].split(":")[0] in compose["volumes"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert "POSTGRES_PASSWORD" in db["environment"]


def test_compose_migrates_once_before_serving(compose):
    services = compose["services"]
    migrate, bot = services["migrate"], services["bot"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["command"] == ["serve", "--no-migrate"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["image"] == migrate["image"]
    for service in (migrate, bot):
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "@db:5432/" in service["environment"]["DATABASE_URL"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["environment"]["HOST"] == "0.0.0.0"
    # Published on the loopback only: the TLS proxy of docs/deploy.md is what faces the world.
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])


def test_the_smoke_test_is_wired_into_ci():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/container-smoke" in ci
    assert ci.index("container-smoke") < ci.index("python3 tasks.py test")
