"""The timer sweep over a large backlog: 100,000 open cases, 1,000 escalation steps due.

`python -m bench.timers [--cases 100000] [--due 1000] [--ticks 20] [--database sqlite|postgres]`
seeds a fresh database straight through multi-row inserts, then runs the real sweep
(`bot.services.timers.Timers.tick`) repeatedly and prints the time of each tick and the memory
in use.
Targets: every tick ≤ 100 ms; memory flat across ticks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.harness import DEFAULT_POSTGRES_URL, reset_postgres
from bot.config.rules import rules_from_mapping
from bot.services.timers import Timers
from storage.db import create_db_engine, migrate
from storage.sql import Bulk, begin_immediate

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHUNK = 500
RULES = {
    "people": {
        "cx_lead": "U0CXLEAD",
        "default_channel": "C0CARDS",
        "owners": [{"user": f"U0OWNER{i}", "manager": f"U0MGR{i % 5}"} for i in range(50)],
    }
}


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class Directory:
    """People are Slack ids in the bench rules: nothing to look up."""

    def resolve(self, ref: str | None, *, now: datetime) -> str | None:
        return ref


def _insert(conn: sa.Connection, table: str, columns: tuple[str, ...], rows: list) -> None:
    for start in range(0, len(rows), CHUNK):
        Bulk(conn).insert(table, columns, rows[start : start + CHUNK])


def seed(engine: sa.Engine, *, cases: int, due: int) -> None:
    """Open cases received over the last day; `due` of their first steps are due now."""
    accounts = max(cases // 10, 1)
    with engine.connect() as conn:
        begin_immediate(conn)
        with conn.begin():
            _insert(
                conn,
                "account",
                ("id", "name", "arr", "owner", "created_at:t", "updated_at:t"),
                [
                    (f"a-{i}", f"Account {i}", 1000.0 * (i % 500), f"U0OWNER{i % 50}", NOW, NOW)
                    for i in range(accounts)
                ],
            )
            _insert(
                conn,
                "customer",
                ("id", "account_id", "name", "created_at:t", "updated_at:t"),
                [(f"c-{i}", f"a-{i % accounts}", f"Customer {i}", NOW, NOW) for i in range(cases)],
            )
            received = [
                NOW - timedelta(hours=24, seconds=1) if i < due else NOW - timedelta(hours=1)
                for i in range(cases)
            ]
            _insert(
                conn,
                "survey_response",
                (
                    "response_id",
                    "customer_id",
                    "account_id",
                    "score",
                    "submitted_at:t",
                    "received_at:t",
                    "touchpoints:j",
                ),
                [
                    (f"r-{i}", f"c-{i}", f"a-{i % accounts}", i % 7, received[i], received[i], [])
                    for i in range(cases)
                ],
            )
            _insert(
                conn,
                "follow_up_case",
                (
                    "id",
                    "response_id",
                    "account_id",
                    "customer_id",
                    "segment",
                    "score",
                    "status",
                    "reasons:j",
                    "suggest_email_first",
                    "owner_ref",
                    "owner_user_id",
                    "received_at:t",
                    "contact_due_at:t",
                    "resolution_due_at:t",
                    "policy:j",
                    "created_at:t",
                    "updated_at:t",
                    "card_channel",
                    "card_ts",
                ),
                [
                    (
                        i + 1,
                        f"r-{i}",
                        f"a-{i % accounts}",
                        f"c-{i}",
                        "detractor",
                        i % 7,
                        "open",
                        [],
                        False,
                        f"U0OWNER{i % 50}",
                        f"U0OWNER{i % 50}",
                        received[i],
                        received[i] + timedelta(hours=48),
                        received[i] + timedelta(days=7),
                        {},
                        NOW,
                        NOW,
                        "C0CARDS",
                        f"1700000000.{i:06d}",
                    )
                    for i in range(cases)
                ],
            )
            steps = []
            for i in range(cases):
                steps.append(
                    (i + 1, "ladder", 1, "manager", False, received[i] + timedelta(hours=24))
                )
                steps.append(
                    (i + 1, "ladder", 2, "cx_lead", True, received[i] + timedelta(hours=36))
                )
            _insert(
                conn,
                "escalation_step",
                ("case_id", "kind", "seq", "notify", "reassign", "due_at:t"),
                steps,
            )
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT setval('follow_up_case_id_seq', (SELECT MAX(id) FROM follow_up_case))"
                )
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'timers.db'}"
        else:
            reset_postgres(args.postgres_url)
            url = args.postgres_url
        engine = create_db_engine(url)
        migrate(engine)
        started = time.perf_counter()
        seed(engine, cases=args.cases, due=args.due)
        print(
            f"seeded {args.cases} open cases ({args.due} steps due) on {args.database} "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        sweep = Timers(engine, rules_from_mapping(RULES), Directory(), clock=lambda: NOW)
        times, fired, memory = [], [], []
        for _ in range(args.ticks):
            t = time.perf_counter()
            report = sweep.tick()
            times.append((time.perf_counter() - t) * 1000)
            fired.append(report.fired)
            memory.append(rss_mb())
        engine.dispose()

    print(f"tick 1: {times[0]:.1f} ms, fired {fired[0]} steps")
    rest = times[1:] or times
    print(
        f"ticks 2..{args.ticks}: median {statistics.median(rest):.1f} ms, "
        f"max {max(rest):.1f} ms, fired {sum(fired[1:])}"
    )
    print(
        f"memory in use after each tick (MB): first {memory[0]:.2f}, last {memory[-1]:.2f}, "
        f"max {max(memory):.2f}"
    )
    worst = max(times)
    grew = memory[-1] - memory[min(1, len(memory) - 1)]
    print(f"{'PASS' if worst <= 100 else 'FAIL'}  every tick <= 100 ms (worst {worst:.1f} ms)")
    print(
        f"{'PASS' if fired[0] == args.due and sum(fired[1:]) == 0 else 'FAIL'}  "
        f"each due step fired exactly once ({sum(fired)} of {args.due})"
    )
    print(f"{'PASS' if grew < 2.0 else 'FAIL'}  memory flat across ticks (+{grew:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
