#!/usr/bin/env python3
"""Set up and run nps-bot with nothing but Python 3.11+: `python3 tasks.py serve|test|bench`.

Creates `.venv` on first use (and again whenever pyproject.toml changes), installs the project
with its test tools, then runs the command inside it. `python3 tasks.py nps-bot ARGS` runs any
`nps-bot` command; `serve` and `nps-bot` become that process, so stopping this one stops the bot.
Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def _python() -> Path:
    return BIN / ("python.exe" if os.name == "nt" else "python")


def _nps_bot() -> str:
    return str(BIN / ("nps-bot.exe" if os.name == "nt" else "nps-bot"))


def ensure_venv() -> None:
    """Create the virtualenv and install the project when missing or out of date."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == wanted and _python().exists():
        return
    if not _python().exists():
        print("creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("installing nps-bot and its test tools into .venv", flush=True)
    pip = [str(_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--editable", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.run([str(a) for a in args], cwd=ROOT).returncode


def hand_over(argv: list[str]) -> int:
    """Run `argv` in this process's place, so that its signals and exit code are the command's.

    On POSIX the process becomes the command (`os.execv`): the PID a shell, a supervisor or
    `kill` holds is the bot's own. Elsewhere the command runs as a child that is passed every
    stop signal this process gets.
    """
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], argv)
    return forward_signals(argv)


def forward_signals(argv: list[str]) -> int:
    """Run `argv` as a child, pass it SIGINT, SIGTERM and SIGHUP, and return its exit code."""
    child = subprocess.Popen(argv, cwd=ROOT)

    def relay(signum: int, _frame: object) -> None:
        # The child may be gone already, or the platform cannot send this signal.
        with contextlib.suppress(OSError, ValueError):
            child.send_signal(signum)

    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), relay)
    return child.wait()


def test(extra: list[str]) -> int:
    """Lint, then the whole test suite."""
    for step in (
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "lint-imports"],
    ):
        code = run(*step)
        if code:
            return code
    return run(_python(), "-m", "pytest", *extra)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script is what tells older Pythons)
        sys.exit("nps-bot needs Python 3.11 or newer")
    command, extra = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command not in {"serve", "test", "bench", "nps-bot"}:
        print(__doc__.strip())
        return 2
    ensure_venv()
    if command == "test":
        return test(extra)
    if command == "bench":
        return run(_python(), "-m", "bench.intake", *extra)
    if command == "serve":
        return hand_over([_nps_bot(), "serve", *extra])
    return hand_over([_nps_bot(), *extra])


if __name__ == "__main__":
    sys.exit(main())
