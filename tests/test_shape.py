"""The tree stays easy to enter: files and functions stay short, every module sits in a layer."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "blocks", "storage")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Migrations are flat lists of DDL written once and never edited; splitting them helps no one.
EXEMPT = ("storage/migrations/",)


def _sources() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith(EXEMPT):
                found.append(path)
    return found


def test_no_source_file_is_over_the_limit() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): count
        for path in _sources()
        if (count := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert long == {}, f"files over {MAX_FILE_LINES} lines: {long}"


def test_no_function_is_over_the_limit() -> None:
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (length := node.end_lineno - start + 1) > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = length
    assert long == {}, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_every_module_belongs_to_a_layer() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    [layers] = [c["layers"] for c in contracts if c["type"] == "layers"]
    loose = []
    for path in _sources():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        if module in ("bot",):
            continue  # the namespace that holds the bot's own layers
        if not any(module == layer or module.startswith(layer + ".") for layer in layers):
            loose.append(module)
    assert loose == [], f"modules outside every layer of the import contract: {loose}"
