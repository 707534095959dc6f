"""Survey intake benchmark: the real server against a minimal floor, under the same signed load.

Run as `python -m bench.intake`; see bench/README.md for what it measures and the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from bench.floor import TABLE as FLOOR_TABLE
from bench.harness import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    Database,
    Deadline,
    base_env,
    cpu_seconds,
    free_port,
    log_tail,
    reset_postgres,
    server_process,
    wait_healthy,
)
from bench.load import LoadResult, run_load
from bench.platforms import INTAKES, Intake, native_secret
from tests.fake_slack import FakeSlack

REPO = Path(__file__).resolve().parent.parent
APP_TABLE = "survey_response"
WARMUP_REQUESTS = 200
SETTLE_S = 5.0
TARGET_RATIO = 0.8
TARGET_P99_MS = 100.0


@dataclass
class TargetResult:
    """What one target did under load."""

    name: str
    load: LoadResult | None = None
    expected: int = 0
    stored: tuple[int, int] | None = None
    slack_posts: int | None = None
    cpu_ms: float | None = None
    error: str | None = None

    def figures(self) -> dict[str, Any]:
        """The result as plain data for `--json`."""
        out: dict[str, Any] = {"target": self.name, "error": self.error}
        if self.load is not None:
            out |= {
                "requests": self.load.requests,
                "elapsed_s": round(self.load.elapsed_s, 3),
                "throughput_rps": round(self.load.throughput, 1),
                "p50_ms": round(self.load.percentile(50), 2),
                "p90_ms": round(self.load.percentile(90), 2),
                "p99_ms": round(self.load.percentile(99), 2),
                "max_ms": round(max(self.load.latencies_ms, default=math.nan), 2),
                "statuses": dict(self.load.statuses),
                "non_2xx": self.load.non_2xx,
            }
        if self.stored is not None:
            out |= {"stored_rows": self.stored[0], "stored_distinct": self.stored[1]}
        if self.slack_posts is not None:
            out["slack_posts"] = self.slack_posts
        if self.cpu_ms is not None:
            out["server_cpu_ms_per_request"] = round(self.cpu_ms, 3)
        return out


def wait_stored(
    db: Database, table: str, prefix: str, expected: int, deadline: Deadline
) -> tuple[int, int] | None:
    """Count stored rows, waiting up to a few seconds for writes that land after the reply."""
    ends = time.monotonic() + deadline.left(SETTLE_S)
    while True:
        stored = db.count_stored(table, prefix)
        if stored is None or stored[0] >= expected or time.monotonic() >= ends:
            return stored
        time.sleep(0.2)


@dataclass(frozen=True)
class Target:
    """A server to benchmark: how to start it and where it stores responses."""

    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    db: Database
    table: str


def run_target(
    target: Target,
    args: argparse.Namespace,
    secret: str,
    workdir: Path,
    deadline: Deadline,
    slack: Any = None,
) -> TargetResult:
    """Start one server, warm it up, load it, count what it stored, and stop it."""
    name, db, intake = target.name, target.db, INTAKES[args.platform]
    result = TargetResult(name, expected=args.requests)
    if db.backend == "postgres":
        reset_postgres(db.url, any_name=args.reset_any_database)
    run = secrets.token_hex(4)
    warm_bodies = intake.build(f"{run}w", WARMUP_REQUESTS)
    bodies = intake.build(run, args.requests)
    base_url = f"http://127.0.0.1:{target.port}"
    log_path = workdir / f"{name}.log"
    try:
        with server_process(target.command, target.env, target.cwd, log_path) as proc:
            wait_healthy(proc, base_url, log_path, deadline)
            url = base_url + intake.path
            warm = intake.sign(secret, f"{run}w", warm_bodies)
            run_load(url, warm, args.concurrency, deadline.left())
            measured = intake.sign(secret, run, bodies)
            cpu_before = cpu_seconds(proc.pid)
            result.load = run_load(url, measured, args.concurrency, deadline.left())
            cpu_after = cpu_seconds(proc.pid)
            if cpu_before is not None and cpu_after is not None:
                result.cpu_ms = (cpu_after - cpu_before) * 1000 / args.requests
            prefix = intake.stored_prefix(run)
            result.stored = wait_stored(db, target.table, prefix, args.requests, deadline)
            if slack is not None and hasattr(slack, "calls_to"):
                result.slack_posts = len(slack.calls_to("chat.postMessage"))
            if proc.poll() is not None:
                raise BenchError(f"exited during the run:\n{log_tail(log_path)}")
    except BenchError as exc:
        result.error = str(exc)
    return result


def target_line(result: TargetResult) -> str:
    """One line of figures for a target."""
    if result.load is None:
        return f"{result.name:<6} FAILED: {result.error}"
    load = result.load
    non_2xx = ", ".join(f"{k}: {v}" for k, v in load.non_2xx.items()) or "none"
    line = (
        f"{result.name:<6} {load.requests} req  {load.throughput:8.1f} req/s  "
        f"p50 {load.percentile(50):6.1f}  p90 {load.percentile(90):6.1f}  "
        f"p99 {load.percentile(99):6.1f}  max {max(load.latencies_ms):6.1f} ms  "
        f"non-2xx: {non_2xx}"
    )
    if result.cpu_ms is not None:
        line += f"  server CPU {result.cpu_ms:.2f} ms/req"
    if result.error:
        line += f"\n       error: {result.error}"
    return line


def stored_line(result: TargetResult) -> str:
    """How many of the run's responses the target stored, so lost or doubled writes show."""
    if result.stored is None:
        return f"{result.name:<6} stored: n/a"
    rows, distinct = result.stored
    line = f"{result.name:<6} stored: {distinct} distinct response_ids in {rows} rows"
    line += f" (sent {result.expected})"
    if result.slack_posts is not None:
        line += f"; fake Slack got {result.slack_posts} chat.postMessage"
    return line


def verdicts(results: dict[str, TargetResult]) -> list[tuple[str, bool | None, str]]:
    """Each target check as (label, passed or None when not applicable, detail)."""
    checks: list[tuple[str, bool | None, str]] = []
    floor, app = results.get("floor"), results.get("app")
    if app is not None:
        if app.load is None or floor is None or floor.load is None:
            checks.append((f"app throughput >= {TARGET_RATIO} x floor", None, "n/a"))
        else:
            ratio = app.load.throughput / floor.load.throughput
            checks.append(
                (f"app throughput >= {TARGET_RATIO} x floor", ratio >= TARGET_RATIO, f"{ratio:.2f}")
            )
    for result in results.values():
        name, load = result.name, result.load
        if load is None:
            reason = (result.error or "failed").splitlines()[0].rstrip(":")
            checks.append((f"{name} ran", False, reason))
            continue
        p99 = load.percentile(99)
        checks.append((f"{name} p99 <= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS, f"{p99:.1f}"))
        bad = sum(load.non_2xx.values())
        checks.append((f"{name} zero non-2xx", bad == 0, str(bad)))
        if result.stored is None:
            checks.append((f"{name} stored each response once", None, "n/a"))
        else:
            rows, distinct = result.stored
            once = rows == distinct == result.expected
            checks.append((f"{name} stored each response once", once, f"{distinct}/{rows}"))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000, help="measured requests")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent workers")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--platform", choices=sorted(INTAKES), default="native", help="the webhook to load"
    )
    parser.add_argument("--only", choices=("floor", "app"), help="run one target only")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="bench database")
    parser.add_argument(
        "--reset-any-database",
        action="store_true",
        help="let the benchmark wipe a --postgres-url database whose name lacks 'bench'",
    )
    parser.add_argument(
        "--app-command",
        default=f"{Path(sys.executable).with_name('nps-bot')} serve",
        help="command that serves the app (shell-style quoting)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on total seconds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 1_000_000 or not 1 <= args.concurrency <= 1024:
        parser.error("--requests must be 1..1000000 and --concurrency 1..1024")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("the benchmark ran out of time (--timeout)")
    raise SystemExit(128 + signum)


# Cards go to one default channel and alerts to three people, as in a small team's set-up.
BENCH_RULES = """
[people]
default_channel = "C0BENCH"
cx_lead = "U0CXLEAD"
vp_customer_success = "U0VP"
support_lead = "U0SUPPORT"
[routing]
product_channel = "C0PRODUCT"
"""


def app_rules(intake: Intake) -> str:
    """The app's rules file when loaded through `intake`."""
    return BENCH_RULES + intake.rules


def benchmark(args: argparse.Namespace, deadline: Deadline, workdir: Path) -> dict[str, Any]:
    """Run the selected targets in order, floor first, and return their results."""
    intake = INTAKES[args.platform]
    # The app always has a native webhook secret; the loaded intake's own secret signs the load
    # (for the native intake it is that same variable).
    native, secret = native_secret(), intake.new_secret()
    results: dict[str, TargetResult] = {}
    for name in ("floor", "app"):
        if args.only not in (None, name):
            continue
        port = free_port()
        if args.database == "sqlite":
            filename = "floor.db" if name == "floor" else "bench.db"
            db = Database("sqlite", f"sqlite:///{workdir / filename}")
        else:
            db = Database("postgres", args.postgres_url)
        env = base_env(native, db.url, port) | {intake.secret_env: secret}
        if name == "floor":
            command = [sys.executable, "-m", "bench.floor", "--port", str(port), "--db", db.url]
            command += ["--platform", intake.name]
            target = Target(name, command, env, REPO, port, db, FLOOR_TABLE)
            results[name] = run_target(target, args, secret, workdir, deadline)
        else:
            with FakeSlack(token="xoxb-bench") as slack:
                env["SLACK_API_URL"] = slack.url
                app_dir = workdir / "app"
                app_dir.mkdir()
                rules = app_dir / "nps-bot.toml"
                rules.write_text(app_rules(intake))
                env["NPS_BOT_CONFIG"] = str(rules)
                command = shlex.split(args.app_command)
                target = Target(name, command, env, app_dir, port, db, APP_TABLE)
                results[name] = run_target(target, args, secret, workdir, deadline, slack)
        print(target_line(results[name]), flush=True)
    return results


def report(args: argparse.Namespace, results: dict[str, TargetResult]) -> bool:
    """Print the ratio and verdicts, write `--json` if asked; True when a check failed."""
    floor, app = results.get("floor"), results.get("app")
    ratio = None
    if floor and app and floor.load and app.load and floor.load.throughput > 0:
        ratio = app.load.throughput / floor.load.throughput
        print(f"app/floor throughput: {ratio:.2f}")
    checks = verdicts(results)
    print("verdict:")
    for label, passed, detail in checks:
        mark = "n/a " if passed is None else "PASS" if passed else "FAIL"
        print(f"  {mark}  {label} ({detail})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "database": args.database,
            "platform": args.platform,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "warmup": WARMUP_REQUESTS,
            "targets": [result.figures() for result in results.values()],
            "app_floor_ratio": None if ratio is None else round(ratio, 3),
            "checks": [{"check": c, "passed": p, "detail": d} for c, p, d in checks],
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return any(passed is False for _, passed, _ in checks)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print figures and verdicts; exit 1 on a failed check with --strict."""
    args = parse_args(argv)
    deadline = Deadline(args.timeout)
    for signum in (signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, _on_signal)
    signal.alarm(math.ceil(args.timeout) + 10)
    print(
        f"intake benchmark: {args.platform} webhook, {args.database}, {args.requests} requests, "
        f"concurrency {args.concurrency}, warm-up {WARMUP_REQUESTS}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="nps-bench-") as tmp:
            results = benchmark(args, deadline, Path(tmp))
            print()
            for result in results.values():
                print(stored_line(result))
    except (TimeoutError, BenchError, psycopg.OperationalError) as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    failed = report(args, results)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
