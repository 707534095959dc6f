"""Running a server under benchmark: its process, database, health check and the time left."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.floor import psycopg_conninfo

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/nps_bench"
HEALTH_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
SURVEY_PATH = "/webhooks/survey"


class BenchError(RuntimeError):
    """A target could not be benchmarked; the message says why."""


class Deadline:
    """The time left for the whole benchmark."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        """Seconds left, at most `cap`; TimeoutError once none are."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError("the benchmark ran out of time (--timeout)")
        return left if cap is None else min(left, cap)


@dataclass(frozen=True)
class Database:
    """Where a target stores responses: a SQLAlchemy-style URL and its backend."""

    backend: str
    url: str

    def count_stored(self, table: str, prefix: str) -> tuple[int, int] | None:
        """Rows and distinct response_ids starting with `prefix`; None if `table` is missing."""
        query = (
            f"SELECT count(*), count(DISTINCT response_id) FROM {table} "
            "WHERE substr(response_id, 1, {n}) = {p}"
        )
        if self.backend == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            if not Path(path).exists():
                return None
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                row = conn.execute(query.format(n=len(prefix), p="?"), (prefix,)).fetchone()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise
            finally:
                conn.close()
        else:
            with psycopg.connect(psycopg_conninfo(self.url), connect_timeout=5) as conn:
                try:
                    row = conn.execute(query.format(n=len(prefix), p="%s"), (prefix,)).fetchone()
                except psycopg.errors.UndefinedTable:
                    return None
        assert row is not None
        return int(row[0]), int(row[1])


def reset_postgres(url: str, *, any_name: bool = False) -> None:
    """Create the database if missing, then empty its public schema; `bench` names only, or any."""
    parts = urlsplit(psycopg_conninfo(url))
    name = parts.path.lstrip("/")
    if "bench" not in name and not any_name:
        raise BenchError(
            f"refusing to drop the schema of database {name!r}: not a bench database "
            "(--reset-any-database if it is one to wipe)"
        )
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


@contextmanager
def server_process(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in its own process group; on exit SIGTERM it, then SIGKILL after 5 s."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            _signal_group(proc, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_S)
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=STOP_GRACE_S)


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds a process (every thread) has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a server log, indented."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty)"


def wait_healthy(
    proc: subprocess.Popen[bytes], base_url: str, log_path: Path, deadline: Deadline
) -> None:
    """Poll `GET /healthz` until it answers 200; BenchError if the server exits or stalls."""
    ends = time.monotonic() + deadline.left(HEALTH_TIMEOUT_S)
    while time.monotonic() < ends:
        if proc.poll() is not None:
            raise BenchError(f"exited with code {proc.returncode}:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise BenchError(f"/healthz did not answer 200 in time:\n{log_tail(log_path)}")


def base_env(secret: str, database_url: str, port: int) -> dict[str, str]:
    """The server environment; empty values mask any `.env` setting of the same name."""
    env = dict(os.environ)
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "SURVEY_WEBHOOK_SECRET": secret,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_APP_TOKEN": "",
        "NPS_BOT_CONFIG": "",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    return env
