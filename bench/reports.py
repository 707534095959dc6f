"""Report queries over a year of data: 1,000,000 responses, 100,000 cases, 10,000 accounts.

`python -m bench.reports [--responses 1000000] [--cases 100000] [--database sqlite|postgres]`
seeds a fresh database straight through COPY (PostgreSQL) or multi-row inserts (SQLite), then
times the digest, the KPI summary (30 days and a quarter) and the root-cause rollup, each five
times, in a separate process so its peak RSS is the reports' own. It measures again after
creating the indexes on existing tables that the reports would want; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot.domain.periods import last_month, parse_period
from bot.domain.policy import segment_for
from storage.db import create_db_engine, migrate
from storage.digest import digest_counts, digest_rows
from storage.export import export_cases
from storage.kpi import kpi_summary, weekly_series
from storage.rollup import root_cause_rollup
from storage.sql import UTCDateTime

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning
TZ = ZoneInfo("Europe/Copenhagen")
YEAR = timedelta(days=365)
SEED = 20261123
OWNERS = 60
RUNS = 5
TARGET_MS = 300.0
TARGET_RSS_MB = 200.0
SQLITE_ROWS_PER_INSERT = 500
ROOT_CAUSES = (  # most common first
    "Support response time",
    "Bugs",
    "Missing feature",
    "Price",
    "Billing error",
    "Onboarding",
    "Performance",
    "Integrations",
    "Account management",
    "Usability",
    "Outage",
    "Documentation",
)
SCORE_WEIGHTS = (2, 1.5, 2, 2.5, 3, 4, 6, 10, 14, 22, 33)  # 21% detractors, 55% promoters
CASE_SHARES = {"detractor": 0.63, "passive": 0.19, "promoter": 0.18}
PLANS = ("Starter", "Team", "Business", "Enterprise")
COMMENTS = (
    "Support took three days to answer a simple question about SSO.",
    "",
    "Great support team, they sorted out our SAML setup in minutes.",
    "Thinking about whether to cancel at renewal; the price went up again.",
    "It does the job.",
    "",
    "Search is slow on large workspaces; please fix before we renew.",
)

# Further indexes to try (`--indexes compare`), created only in the bench database: name,
# table, columns, and the index each makes redundant. The schema's own report indexes
# (cases and responses by received time) come with the migrations.
CANDIDATE_INDEXES: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "ix_case_first_contact": ("follow_up_case", ("first_contact_at",), None),
    "ix_case_resolved": ("follow_up_case", ("resolved_at",), None),
}
RECOMMENDED = ("ix_case_first_contact", "ix_case_resolved")


# --- writing -------------------------------------------------------------------------------


class Loader:
    """Bulk rows into a table: COPY on PostgreSQL, multi-row INSERTs on SQLite."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def load(self, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
        """Write `rows` in one transaction; return how many."""
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            count = (
                self._copy(driver, table, columns, rows)
                if self.postgres
                else self._insert(driver, table, columns, rows)
            )
            raw.commit()
            return count
        finally:
            raw.close()

    @staticmethod
    def _copy(conn: Any, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        count = 0
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    @staticmethod
    def _insert(conn: Any, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        def value(v: Any) -> Any:
            if isinstance(v, datetime):
                return UTCDateTime.to_sqlite(v)
            if isinstance(v, date):
                return v.isoformat()
            return v

        group = "(" + ", ".join("?" * len(columns)) + ")"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        full = head + ", ".join([group] * SQLITE_ROWS_PER_INSERT)
        count = 0
        batch: list[Any] = []
        conn.execute("BEGIN IMMEDIATE")
        for row in rows:
            batch.extend(value(v) for v in row)
            count += 1
            if count % SQLITE_ROWS_PER_INSERT == 0:
                conn.execute(full, batch)
                batch = []
        if batch:
            conn.execute(head + ", ".join([group] * (len(batch) // len(columns))), batch)
        return count


# --- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind to seed."""

    responses: int
    cases: int
    accounts: int
    customers: int


@dataclass(frozen=True)
class CaseSeed:
    """A response that became a case, with what the case needs from it."""

    index: int
    customer: int
    account: int
    score: int
    received: datetime


def account_rows(plan: Plan, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(plan.accounts):
        arr = None if rng.random() < 0.03 else round(math.exp(rng.gauss(10.4, 1.1)), -2)
        renewal = (NOW + timedelta(days=rng.randrange(1, 365))).date()
        yield (
            f"acct-{i:05d}",
            f"Account {i} ApS",
            arr,
            f"owner{i % OWNERS}@example.com",
            PLANS[min(int(rng.random() * 4), 3)],
            renewal,
            NOW - YEAR,
            NOW,
        )


def customer_rows(plan: Plan, account_of: list[int]) -> Iterator[tuple[Any, ...]]:
    for i in range(plan.customers):
        yield (
            f"cust-{i:06d}",
            f"acct-{account_of[i]:05d}",
            f"Customer {i}",
            f"customer{i}@example.com",
            f"+45 {20000000 + i}",
            NOW - YEAR,
            NOW,
        )


def received_at(plan: Plan, i: int, rng: random.Random) -> datetime:
    """Spread over the year before NOW, in order: one stratum of the year per response."""
    return NOW - YEAR + YEAR * ((i + rng.random()) / plan.responses)


def response_rows(
    plan: Plan,
    scores: bytearray,
    is_case: bytearray,
    account_of: list[int],
    rng: random.Random,
    cases: list[CaseSeed],
) -> Iterator[tuple[Any, ...]]:
    """The responses, collecting those that become cases into `cases` on the way."""
    for i in range(plan.responses):
        customer = rng.randrange(plan.customers)
        account = account_of[customer]
        received = received_at(plan, i, rng)
        score = scores[i]
        if is_case[i]:
            cases.append(CaseSeed(i, customer, account, score, received))
        comment = COMMENTS[i % len(COMMENTS)] or None
        yield (
            f"resp-{i:07d}",
            f"msg-{i:07d}",
            f"cust-{customer:06d}",
            f"acct-{account:05d}",
            score,
            comment,
            "Relationship NPS",
            received - timedelta(minutes=3),
            received,
            "[]",
            None,
        )


def _hours(rng: random.Random) -> float:
    """How long a first contact takes: most within a day, a tail of late ones."""
    roll = rng.random()
    if roll < 0.7:
        return rng.uniform(0.5, 20)
    if roll < 0.9:
        return rng.uniform(20, 72)
    return rng.uniform(72, 240)


def case_rows(seeds: list[CaseSeed], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """One case per seed with a life that fits its age: contacts, resolutions, root causes."""
    causes = rng.choices(ROOT_CAUSES, weights=[1 / (k + 1) for k in range(12)], k=len(seeds))
    for n, s in enumerate(seeds):
        segment = segment_for(s.score).value
        r = s.received
        due = r + timedelta(hours={"detractor": 24, "passive": 48, "promoter": 120}[segment])
        contact = resolved = claimed = overdue = None
        satisfied = cause = recovery = recovered = None
        wants_contact = 0.9 if segment == "detractor" else 0.2
        if rng.random() < wants_contact:
            moment = r + timedelta(hours=_hours(rng))
            if moment <= NOW:
                contact = claimed = moment
        if contact is None and rng.random() < 0.2:
            claimed = min(r + timedelta(hours=2), NOW)
        if due < NOW and (contact is None or contact > due):
            overdue = due + timedelta(minutes=1)
        if segment == "detractor":
            if contact is not None:
                moment = contact + timedelta(days=rng.uniform(1, 20))
                if moment <= NOW and rng.random() < 0.9:
                    resolved = moment
                    roll = rng.random()
                    satisfied = True if roll < 0.65 else False if roll < 0.9 else None
                if resolved or rng.random() < 0.3:
                    cause = causes[n]
            elif NOW - r > timedelta(days=30) and rng.random() < 0.5:
                resolved, cause = r + timedelta(days=30), "No response"
            if resolved and rng.random() < 0.35:
                recovered = resolved + timedelta(days=rng.uniform(20, 60))
                if recovered <= NOW:
                    recovery = min(10, max(0, int(rng.gauss(6.5, 2.2))))
                else:
                    recovered = None
        else:
            moment = r + timedelta(days=rng.uniform(0.5, 5))
            if moment <= NOW and rng.random() < 0.85:
                resolved = moment
        status = (
            "resolved" if resolved else "contacted" if contact else "claimed" if claimed else "open"
        )
        owner = rng.randrange(OWNERS)
        owner_user = None if owner % 10 == 0 else f"U0OWN{owner:03d}"
        yield (
            n + 1,
            f"resp-{s.index:07d}",
            f"acct-{s.account:05d}",
            f"cust-{s.customer:06d}",
            segment,
            s.score,
            status,
            '["churn_intent"]' if s.score <= 2 else "[]",
            False,
            owner_user or f"owner{owner}@example.com",
            owner_user,
            r,
            due,
            due + timedelta(days=5),
            "{}",
            owner_user if claimed else None,
            claimed,
            contact,
            resolved,
            f"C0OWN{owner:03d}",
            f"{int(r.timestamp())}.{n % 1_000_000:06d}",
            r,
            resolved or contact or r,
            cause,
            satisfied,
            1 if contact else 0,
            contact,
            overdue,
            recovery,
            recovered,
        )


CASE_COLUMNS = (
    "id",
    "response_id",
    "account_id",
    "customer_id",
    "segment",
    "score",
    "status",
    "reasons",
    "suggest_email_first",
    "owner_ref",
    "owner_user_id",
    "received_at",
    "contact_due_at",
    "resolution_due_at",
    "policy",
    "claimed_by",
    "claimed_at",
    "first_contact_at",
    "resolved_at",
    "card_channel",
    "card_ts",
    "created_at",
    "updated_at",
    "root_cause",
    "customer_satisfied",
    "contact_count",
    "last_contact_at",
    "overdue_at",
    "recovery_score",
    "recovered_at",
)


def event_rows(plan: Plan, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Renewals for about half the accounts, churn for about one in twelve."""
    for i in range(plan.accounts):
        if rng.random() < 0.55:
            at = NOW - YEAR + YEAR * rng.random()
            arr = round(math.exp(rng.gauss(10.4, 1.1)), -2) if rng.random() < 0.7 else None
            yield (f"acct-{i:05d}", "renewed", at, arr, "import", NOW)
        if rng.random() < 0.08:
            at = NOW - YEAR + YEAR * rng.random()
            yield (f"acct-{i:05d}", "churned", at, None, "webhook", NOW)


def choose_cases(plan: Plan, scores: bytearray, rng: random.Random) -> bytearray:
    """Which responses became cases: mostly Detractors, in the shares of CASE_SHARES."""
    by_segment: dict[str, list[int]] = {"detractor": [], "passive": [], "promoter": []}
    for i, score in enumerate(scores):
        by_segment[segment_for(score).value].append(i)
    is_case = bytearray(plan.responses)
    for segment, share in CASE_SHARES.items():
        pool = by_segment[segment]
        for i in rng.sample(pool, min(len(pool), round(plan.cases * share))):
            is_case[i] = 1
    return is_case


def seed(engine: sa.Engine, plan: Plan) -> dict[str, int]:
    """Fill a migrated, empty database; return the row counts."""
    rng = random.Random(SEED)
    loader = Loader(engine)
    account_of = [rng.randrange(plan.accounts) for _ in range(plan.customers)]
    scores = bytearray(rng.choices(range(11), weights=SCORE_WEIGHTS, k=plan.responses))
    is_case = choose_cases(plan, scores, rng)
    counts = {
        "account": loader.load(
            "account",
            (
                "id",
                "name",
                "arr",
                "owner",
                "plan",
                "renewal_date",
                "created_at",
                "updated_at",
            ),
            account_rows(plan, rng),
        ),
        "customer": loader.load(
            "customer",
            ("id", "account_id", "name", "email", "phone", "created_at", "updated_at"),
            customer_rows(plan, account_of),
        ),
    }
    seeds: list[CaseSeed] = []
    counts["survey_response"] = loader.load(
        "survey_response",
        (
            "response_id",
            "webhook_id",
            "customer_id",
            "account_id",
            "score",
            "comment",
            "survey",
            "submitted_at",
            "received_at",
            "touchpoints",
            "resurvey_of",
        ),
        response_rows(plan, scores, is_case, account_of, rng, seeds),
    )
    counts["follow_up_case"] = loader.load("follow_up_case", CASE_COLUMNS, case_rows(seeds, rng))
    counts["account_event"] = loader.load(
        "account_event",
        ("account_id", "event", "at", "arr", "source", "created_at"),
        event_rows(plan, rng),
    )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT setval('follow_up_case_id_seq', (SELECT MAX(id) FROM follow_up_case))"
            )
            conn.commit()
    analyze(engine)
    return counts


def analyze(engine: sa.Engine) -> None:
    """Refresh the planner's statistics (and PostgreSQL's visibility map)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def create_indexes(engine: sa.Engine, names: Sequence[str]) -> None:
    """Create the named candidate indexes in the bench database (dropping what each makes
    redundant), then re-analyze."""
    with engine.connect() as conn:
        for name in names:
            table, columns, replaces = CANDIDATE_INDEXES[name]
            conn.exec_driver_sql(f"CREATE INDEX {name} ON {table} ({', '.join(columns)})")
            if replaces:
                conn.exec_driver_sql(f"DROP INDEX {replaces}")
        conn.commit()
    analyze(engine)


# --- measuring -----------------------------------------------------------------------------


def operations(engine: sa.Engine) -> dict[str, Callable[[], Any]]:
    """The report calls to time, as the bot makes them."""
    day_start = datetime.combine(NOW.astimezone(TZ).date(), datetime.min.time(), TZ)
    day_start -= timedelta(days=1)  # the digest reports on yesterday
    day_end = day_start + timedelta(days=1)
    last_30 = parse_period("30d", now=NOW, tz=TZ)
    quarter = parse_period("2026-Q3", now=NOW, tz=TZ)
    month = last_month(NOW, TZ)

    def digest() -> Any:
        rows = digest_rows(engine, owners=None, now=NOW)
        counts = digest_counts(engine, day_start=day_start, day_end=day_end, now=NOW)
        return rows, counts

    def kpi(period: Any) -> Callable[[], Any]:
        return lambda: kpi_summary(
            engine, start=period.start, end=period.end, now=NOW, monthly_cost=25_000
        )

    return {
        "digest (rows + counts)": digest,
        "kpi_summary 30 days": kpi(last_30),
        "kpi_summary quarter": kpi(quarter),
        "root_cause_rollup last month": lambda: root_cause_rollup(
            engine, start=month.start, end=month.end
        ),
        "digest_rows one owner": lambda: digest_rows(engine, owners=["U0OWN007"], now=NOW),
        "weekly_series 12 weeks": lambda: weekly_series(engine, weeks=12, end=NOW),
        "export_cases (all)": lambda: sum(1 for _ in export_cases(engine)),
    }


TIMED = (
    "digest (rows + counts)",
    "kpi_summary 30 days",
    "kpi_summary quarter",
    "root_cause_rollup last month",
)


def measure(url: str, runs: int) -> dict[str, Any]:
    """Time each operation `runs` times, then once more under tracemalloc for its peak."""
    engine = create_db_engine(url)
    results: dict[str, Any] = {"(imports and engine)": {"peak_rss_mb": peak_rss_mb()}}
    for name, call in operations(engine).items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            call()
            times.append((time.perf_counter() - began) * 1000)
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[name] = {
            "median_ms": statistics.median(times),
            "max_ms": max(times),
            "python_peak_mb": peak / 1e6,
            "peak_rss_mb": peak_rss_mb(),
        }
    engine.dispose()
    return {"operations": results, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB.

    Linux's VmHWM starts afresh at exec; getrusage's maxrss would carry over the benchmark
    process's own peak into the measuring process it starts.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_child(url: str, runs: int) -> dict[str, Any]:
    """`measure` in a fresh process, so its peak RSS is the reports' alone."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.reports", "--measure", url, "--runs", str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def report(title: str, figures: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(
        f"  {'operation':<32}{'median ms':>11}{'max ms':>10}{'py peak MB':>12}"
        f"{'RSS MB':>8}  verdict"
    )
    for name, f in figures["operations"].items():
        if "max_ms" not in f:
            print(f"  {name:<32}{'':>33}{f['peak_rss_mb']:>8.0f}")
            continue
        timed = name in TIMED
        verdict = ("ok" if f["max_ms"] <= TARGET_MS else "SLOW") if timed else "(no target)"
        print(
            f"  {name:<32}{f['median_ms']:>11.1f}{f['max_ms']:>10.1f}"
            f"{f['python_peak_mb']:>12.1f}{f['peak_rss_mb']:>8.0f}  {verdict}"
        )
    rss = figures["peak_rss_mb"]
    verdict = "ok" if rss < TARGET_RSS_MB else "TOO MUCH"
    print(f"  peak RSS of the measuring process: {rss:.0f} MB  {verdict}")


# --- running -------------------------------------------------------------------------------


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    engine = create_db_engine(url)
    migrate(engine)
    plan = Plan(args.responses, args.cases, args.accounts, args.customers)
    began = time.perf_counter()
    counts = seed(engine, plan)
    seconds = time.perf_counter() - began
    print(f"seeded in {seconds:.1f} s: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    out: dict[str, Any] = {"database": args.database, "rows": counts, "seed_s": seconds}
    if args.indexes != "only":
        out["schema"] = measure_in_child(url, args.runs)
        report(f"{args.database}: the schema as migrated", out["schema"])
    if args.indexes != "none":
        names = args.index or list(RECOMMENDED)
        create_indexes(engine, names)
        out["with_indexes"] = {"indexes": names, **measure_in_child(url, args.runs)}
        report(f"{args.database}: with {', '.join(names)}", out["with_indexes"])
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", help="bench database (default: nps_bench)")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--indexes",
        choices=("none", "compare", "only"),
        default="none",
        help="measure the schema as migrated (none), with candidate indexes (only), or both",
    )
    parser.add_argument(
        "--index",
        action="append",
        choices=list(CANDIDATE_INDEXES),
        help="create this candidate index (repeatable); default: " + ", ".join(RECOMMENDED),
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        print(json.dumps(measure(args.measure, args.runs)))
        return 0
    if args.cases > args.responses:
        parser.error("--cases cannot exceed --responses")
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'reports.db'}"
        else:
            # Imported here: the measuring process stays free of the intake bench's imports.
            from bench.harness import DEFAULT_POSTGRES_URL, reset_postgres

            url = args.postgres_url or DEFAULT_POSTGRES_URL
            reset_postgres(url)
        out = run(args, url)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
