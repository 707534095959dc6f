"""Card delivery benchmark: webhook-to-card latency, and how a burst drains under Slack's limits.

Run as `python -m bench.cards`; see bench/README.md for what it measures and the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import aiohttp
import psycopg

from bench.harness import (
    DEFAULT_POSTGRES_URL,
    SURVEY_PATH,
    BenchError,
    Deadline,
    base_env,
    free_port,
    log_tail,
    reset_postgres,
    server_process,
    wait_healthy,
)
from bench.load import (
    REQUEST_TIMEOUT_S,
    LoadResult,
    SignedRequest,
    account_arr,
    build_body,
    sign_all,
    uvloop,
)
from tests.fake_slack import FakeSlack

T = TypeVar("T")

DEFAULT_CHANNEL = "C0CARDS"
LATENCY_OWNERS = 50
LATENCY_GAP_S = 0.02
LOST_AFTER_S = 10.0
CHANNEL_QUIET_S = 1.2
BURST_CONCURRENCY = 32
TARGET_P50_MS = 250.0
TARGET_MAX_MS = 1000.0
POLL_S = 0.2
STALL_S = 30.0
ORDER_GRACE_S = 1.0
SETTLE_S = 2.0
STOP_RESERVE_S = 15.0
PROGRESS_EVERY_S = 10.0
SEGMENT_RANK = {"detractor": 0, "passive": 1, "promoter": 2}

Check = tuple[str, bool | None, str]


def owner_email(i: int) -> str:
    """The email of the `i`th bench account owner."""
    return f"owner{i}@example.com"


def owner_channel(i: int) -> str:
    """The channel the `i`th owner's cards go to."""
    return f"C0OWNER{i:03d}"


def owner_users(owners: int) -> dict[str, str]:
    """Owner emails to the Slack user ids the fake Slack answers for them."""
    return {owner_email(i): f"U0OWNER{i:03d}" for i in range(owners)}


def cards_rules(owners: int) -> str:
    """Rules under which a response yields its card and nothing else, one channel per owner."""
    entries = "".join(
        f'\n[[people.owners]]\nuser = "{owner_email(i)}"\nchannel = "{owner_channel(i)}"\n'
        for i in range(owners)
    )
    return (
        f'[people]\ndefault_channel = "{DEFAULT_CHANNEL}"\n{entries}\n'
        "[routing]\ntop_revenue_arr = 1000000000000\n"
        "churn_words = []\nproduct_words = []\nservice_words = []\n"
    )


@dataclass(frozen=True)
class Item:
    """A signed response to send, with the ARR its account carries."""

    n: int
    request: SignedRequest
    arr: int


def build_items(secret: str, run: str, count: int, owners: int) -> list[Item]:
    """`count` signed responses of `run`, the `n`th owned by owner `n % owners`."""
    now = datetime.now(UTC)
    bodies, arrs = [], []
    for n in range(count):
        payload = json.loads(build_body(run, n, now))
        payload["account"]["owner"] = owner_email(n % owners)
        bodies.append(json.dumps(payload, ensure_ascii=False))
        arrs.append(account_arr(n % 500))
    signed = sign_all(secret, run, bodies)
    pairs = zip(signed, arrs, strict=True)
    return [Item(n, request, arr) for n, (request, arr) in enumerate(pairs)]


@dataclass(frozen=True)
class Sent:
    """One webhook as the client saw it: when it left, when the answer came, what it said."""

    n: int
    sent_at: float
    answered_at: float
    status: str
    case_id: int | None
    segment: str | None
    arr: int

    @property
    def priority(self) -> tuple[int, int]:
        """The outbox order of the case's card: segment rank, then ARR descending."""
        return SEGMENT_RANK.get(self.segment or "", 3), -self.arr


async def post_one(session: aiohttp.ClientSession, url: str, item: Item) -> Sent:
    """POST one response and read the case it became from the answer."""
    case_id: int | None = None
    segment: str | None = None
    sent_at = time.monotonic()
    try:
        async with session.post(url, data=item.request.body, headers=item.request.headers) as resp:
            data = await resp.read()
            status = str(resp.status)
            if resp.status in (200, 202):
                answer = json.loads(data)
                case_id, segment = int(answer["case_id"]), str(answer["segment"])
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
        status = f"error:{type(exc).__name__}"
    return Sent(item.n, sent_at, time.monotonic(), status, case_id, segment, item.arr)


def _session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )


async def send_sequential(url: str, items: list[Item], gap_s: float) -> list[Sent]:
    """Send one response at a time, pausing `gap_s` after each answer."""
    out: list[Sent] = []
    async with _session(1) as session:
        for item in items:
            out.append(await post_one(session, url, item))
            await asyncio.sleep(gap_s)
    return out


async def send_concurrent(url: str, items: list[Item], concurrency: int) -> list[Sent]:
    """Send every response as fast as `concurrency` workers sharing one session can."""
    out: list[Sent] = []
    pending = iter(items)

    async def worker(session: aiohttp.ClientSession) -> None:
        for item in pending:
            out.append(await post_one(session, url, item))

    async with _session(concurrency) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return out


def run_async(make: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run a coroutine on a fresh event loop (uvloop if available); TimeoutError past the bound."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout_s):
            return await make()

    loop_factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(bounded())


def card_case_id(args: dict[str, Any]) -> int | None:
    """The case a chat.postMessage is the card of (its buttons' value), or None."""
    blocks = args.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            value = element.get("value") if isinstance(element, dict) else None
            if isinstance(value, str) and value.isdigit():
                return int(value)
    return None


@dataclass(frozen=True)
class Card:
    """A card the fake Slack accepted: for which case, where, and when it arrived."""

    case_id: int
    channel: str
    at: float


class CardWatch:
    """Collects the card posts the fake Slack answered `ok`, in arrival order."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.cards: list[Card] = []
        self.first: dict[int, Card] = {}
        self._seen = 0

    def poll(self) -> None:
        """Read the posts that arrived since the last poll."""
        calls = self.slack.calls_to("chat.postMessage")
        for call in calls[self._seen :]:
            case_id = card_case_id(call.args) if call.ok else None
            if case_id is None:
                continue
            card = Card(case_id, str(call.args.get("channel", "")), call.at)
            self.cards.append(card)
            self.first.setdefault(case_id, card)
        self._seen = len(calls)

    def wait(
        self,
        case_ids: set[int],
        until: float,
        proc: subprocess.Popen[bytes],
        *,
        label: str = "",
    ) -> None:
        """Poll until every case has a card, or until `until` (monotonic time) passes.

        Stops early when no new card arrives for STALL_S or the server exits; with a `label`,
        prints progress every PROGRESS_EVERY_S.
        """
        polls = math.ceil(max(0.0, until - time.monotonic()) / POLL_S) + 1
        started = last_progress = last_print = time.monotonic()
        have = 0
        for _ in range(polls):
            self.poll()
            now = time.monotonic()
            done = len(case_ids & self.first.keys())
            if done > have:
                have, last_progress = done, now
            if done == len(case_ids) or now >= until or proc.poll() is not None:
                return
            if now - last_progress > STALL_S:
                return
            if label and now - last_print >= PROGRESS_EVERY_S:
                print(f"  {label}: {done}/{len(case_ids)} cards after {now - started:.0f} s")
                last_print = now
            time.sleep(min(POLL_S, max(0.0, until - now)))


@dataclass(frozen=True)
class App:
    """A running `nps-bot serve`: its survey URL, process and log."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        """BenchError if the server has exited."""
        if self.proc.poll() is not None:
            raise BenchError(f"the app exited during the run:\n{log_tail(self.log_path)}")


@contextmanager
def running_app(
    args: argparse.Namespace,
    slack: FakeSlack,
    owners: int,
    name: str,
    workdir: Path,
    deadline: Deadline,
) -> Iterator[tuple[App, str]]:
    """Start the app on a fresh database against `slack`; yield it with its webhook secret."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    port = free_port()
    if args.database == "postgres":
        reset_postgres(args.postgres_url)
        database_url = args.postgres_url
    else:
        database_url = f"sqlite:///{workdir / f'{name}.db'}"
    env = base_env(secret, database_url, port)
    env["SLACK_API_URL"] = slack.url
    app_dir = workdir / name
    app_dir.mkdir()
    rules = app_dir / "nps-bot.toml"
    rules.write_text(cards_rules(owners))
    env["NPS_BOT_CONFIG"] = str(rules)
    log_path = workdir / f"{name}.log"
    base_url = f"http://127.0.0.1:{port}"
    command = shlex.split(args.app_command)
    with server_process(command, env, app_dir, log_path) as proc:
        wait_healthy(proc, base_url, log_path, deadline)
        yield App(base_url + SURVEY_PATH, proc, log_path), secret


def _statuses(sent: list[Sent]) -> dict[str, int]:
    return dict(sorted(Counter(s.status for s in sent).items()))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def latency_phase(
    args: argparse.Namespace, workdir: Path, deadline: Deadline
) -> tuple[dict[str, Any], list[Check]]:
    """Send responses one at a time to an unlimited fake Slack; time each until its card."""
    owners = LATENCY_OWNERS
    with (
        FakeSlack(token="xoxb-bench", users=owner_users(owners)) as slack,
        running_app(args, slack, owners, "latency", workdir, deadline) as (app, secret),
    ):
        watch = CardWatch(slack)
        run = secrets.token_hex(4)
        # One response per owner first, so each owner's directory lookup is done before timing.
        warm = build_items(secret, f"{run}w", owners, owners)
        warm_sent = run_async(
            lambda: send_sequential(app.url, warm, LATENCY_GAP_S), deadline.left()
        )
        warm_ids = {s.case_id for s in warm_sent if s.case_id is not None}
        watch.wait(warm_ids, time.monotonic() + deadline.left(LOST_AFTER_S), app.proc)
        time.sleep(deadline.left(CHANNEL_QUIET_S))  # every channel's pacing interval has passed

        items = build_items(secret, run, args.latency_requests, owners)
        sent = run_async(lambda: send_sequential(app.url, items, LATENCY_GAP_S), deadline.left())
        ids = {s.case_id for s in sent if s.case_id is not None}
        last = max(s.sent_at for s in sent)
        until = min(last + LOST_AFTER_S, deadline.ends - STOP_RESERVE_S)
        watch.wait(ids, until, app.proc)
        app.check_alive()

    latencies: list[float] = []
    lost = 0
    for s in sent:
        card = watch.first.get(s.case_id) if s.case_id is not None else None
        if card is None or card.at - s.sent_at > LOST_AFTER_S:
            lost += 1
        else:
            latencies.append((card.at - s.sent_at) * 1000)
    stats = LoadResult(latencies_ms=latencies)
    p50, p90, p99 = (stats.percentile(p) for p in (50, 90, 99))
    peak = max(latencies, default=math.nan)
    figures = {
        "requests": len(sent),
        "warmup": len(warm),
        "owners": owners,
        "gap_ms": _ms(LATENCY_GAP_S),
        "statuses": _statuses(sent),
        "cards": len(latencies),
        "lost": lost,
        "p50_ms": round(p50, 1),
        "p90_ms": round(p90, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(peak, 1),
    }
    print(
        f"latency  {len(sent)} responses, {len(latencies)} cards  p50 {p50:6.1f}  p90 {p90:6.1f}  "
        f"p99 {p99:6.1f}  max {peak:6.1f} ms  lost (no card in {LOST_AFTER_S:.0f} s): {lost}  "
        f"statuses: {figures['statuses']}",
        flush=True,
    )
    checks: list[Check] = [
        (f"latency p50 <= {TARGET_P50_MS:.0f} ms", p50 <= TARGET_P50_MS, f"{p50:.1f}"),
        (f"latency max <= {TARGET_MAX_MS:.0f} ms", peak <= TARGET_MAX_MS, f"{peak:.1f}"),
        (f"latency: every card within {LOST_AFTER_S:.0f} s", lost == 0, f"{lost} lost"),
    ]
    return figures, checks


def find_inversions(
    cards: list[Card], priority: dict[int, tuple[int, int]]
) -> list[tuple[Card, Card]]:
    """Adjacent posts in a channel where the later one has strictly higher priority."""
    by_channel: dict[str, list[Card]] = defaultdict(list)
    for card in cards:
        by_channel[card.channel].append(card)
    return [
        (before, after)
        for posts in by_channel.values()
        for before, after in pairwise(posts)
        if priority[after.case_id] < priority[before.case_id]
    ]


def describe_inversion(
    pair: tuple[Card, Card], priority: dict[int, tuple[int, int]], origin: float
) -> dict[str, Any]:
    """An inversion as plain data: the channel, then each post's case, rank, ARR and time."""
    out: dict[str, Any] = {"channel": pair[0].channel}
    for name, card in zip(("before", "after"), pair, strict=True):
        rank, arr = priority[card.case_id]
        out[name] = {
            "case_id": card.case_id,
            "rank": rank,
            "arr": -arr,
            "at_s": round(card.at - origin, 3),
        }
    return out


def burst_phase(
    args: argparse.Namespace, workdir: Path, deadline: Deadline
) -> tuple[dict[str, Any], list[Check]]:
    """Fire a burst at once against a rate-limited fake Slack; wait for and check every card."""
    channels = args.channels
    with (
        FakeSlack(token="xoxb-bench", users=owner_users(channels)) as slack,
        running_app(args, slack, channels, "burst", workdir, deadline) as (app, secret),
    ):
        slack.enforce_channel_rate(per_second=1.0, burst=1)
        watch = CardWatch(slack)
        items = build_items(secret, secrets.token_hex(4), args.burst, channels)
        started = time.monotonic()
        sent = run_async(
            lambda: send_concurrent(app.url, items, BURST_CONCURRENCY), deadline.left()
        )
        accepted = [s for s in sent if s.case_id is not None]
        last_accept = max((s.answered_at for s in accepted), default=started)
        print(
            f"burst    {len(sent)} responses sent in {last_accept - started:.1f} s "
            f"(statuses: {_statuses(sent)}); waiting for cards",
            flush=True,
        )
        ids = {s.case_id for s in accepted if s.case_id is not None}
        watch.wait(ids, deadline.ends - STOP_RESERVE_S, app.proc, label="drain")
        time.sleep(max(0.0, min(SETTLE_S, deadline.ends - STOP_RESERVE_S - time.monotonic())))
        watch.poll()  # posts that came late, to catch a doubled card
        app.check_alive()
        rate_limited = slack.rate_limited

    priority = {s.case_id: s.priority for s in accepted if s.case_id is not None}
    posts = Counter(card.case_id for card in watch.cards)
    lost = len(ids - posts.keys())
    doubled = sum(1 for count in posts.values() if count > 1)
    firsts = sorted((c for c in watch.first.values() if c.case_id in priority), key=lambda c: c.at)
    # A pass that read the queue before the last commit may still be posting just after it, so
    # ordering is judged on posts from one pacing interval after the last acceptance on.
    after_accept = [c for c in firsts if c.at > last_accept]
    queued = [c for c in after_accept if c.at >= last_accept + ORDER_GRACE_S]
    inverted = find_inversions(queued, priority)
    inversions = len(inverted)
    raw = find_inversions(after_accept, priority)
    head = firsts[: max(1, math.ceil(len(firsts) / 10))] if firsts else []

    def detractor_share(cards: list[Card]) -> float:
        hits = sum(1 for c in cards if priority[c.case_id][0] == SEGMENT_RANK["detractor"])
        return hits / len(cards) if cards else math.nan

    last_card = max((c.at for c in watch.cards), default=math.nan)
    per_owner = Counter(s.n % channels for s in accepted)
    figures = {
        "responses": len(sent),
        "channels": channels,
        "concurrency": BURST_CONCURRENCY,
        "statuses": _statuses(sent),
        "intake_s": round(last_accept - started, 2),
        "cards_posted": len(watch.cards),
        "cases_with_card": len(ids & posts.keys()),
        "lost": lost,
        "doubled": doubled,
        "rate_limited": rate_limited,
        "drain_s": round(last_card - started, 2),
        "drain_complete": lost == 0,
        "expected_drain_s": max(per_owner.values(), default=0),
        "order_grace_s": ORDER_GRACE_S,
        "ordered_posts": len(queued),
        "inversions": inversions,
        "inversion_examples": [describe_inversion(p, priority, last_accept) for p in inverted[:10]],
        "posts_after_acceptance": len(after_accept),
        "inversions_after_acceptance": len(raw),
        "inversion_examples_after_acceptance": [
            describe_inversion(p, priority, last_accept) for p in raw[:10]
        ],
        "detractor_share_first_10pct": round(detractor_share(head), 3),
        "detractor_share_overall": round(detractor_share(firsts), 3),
    }
    print(
        f"burst    cards posted {len(watch.cards)}  lost {lost}  doubled {doubled}  "
        f"rate_limited (429) {rate_limited}\n"
        f"         {'drain' if lost == 0 else 'incomplete drain, last card at'} "
        f"{figures['drain_s']} s from the first webhook "
        f"(≈ {figures['expected_drain_s']} s expected at 1 post/s per channel)\n"
        f"         order: {inversions} inversions among {len(queued)} posts made "
        f"{ORDER_GRACE_S:.0f} s or more after the last webhook was accepted; "
        f"{len(raw)} among all {len(after_accept)} posts after it\n"
        f"         detractors: {detractor_share(head):.0%} of the first 10% of posts, "
        f"{detractor_share(firsts):.0%} overall",
        flush=True,
    )
    names = {rank: name for name, rank in SEGMENT_RANK.items()}
    examples = figures["inversion_examples"] or figures["inversion_examples_after_acceptance"]
    for example in examples[:3]:
        before, after = example["before"], example["after"]
        print(
            f"         e.g. {example['channel']}: {names.get(before['rank'])} "
            f"ARR {before['arr']:,} at {before['at_s']:+.2f} s, then "
            f"{names.get(after['rank'])} ARR {after['arr']:,} at {after['at_s']:+.2f} s "
            "(times from the last acceptance)"
        )
    refused = len(sent) - len(accepted)
    checks: list[Check] = [
        ("burst: every response accepted", refused == 0, f"{refused} not accepted"),
        ("burst: zero lost", lost == 0, str(lost)),
        ("burst: zero doubled", doubled == 0, str(doubled)),
        ("burst: zero order inversions", inversions == 0, f"{inversions}/{len(queued)}"),
    ]
    return figures, checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.cards", description=__doc__)
    parser.add_argument("--latency-requests", type=int, default=200, help="timed responses")
    parser.add_argument("--burst", type=int, default=2000, help="responses in the burst")
    parser.add_argument("--channels", type=int, default=20, help="owners (one channel each)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only", choices=("latency", "burst"), help="run one part only")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="bench database")
    parser.add_argument(
        "--app-command",
        default=f"{Path(sys.executable).with_name('nps-bot')} serve",
        help="command that serves the app (shell-style quoting)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="bound on total seconds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.latency_requests <= 100_000 or not 1 <= args.burst <= 1_000_000:
        parser.error("--latency-requests must be 1..100000 and --burst 1..1000000")
    if not 1 <= args.channels <= 1000:
        parser.error("--channels must be 1..1000")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGALRM:
        raise TimeoutError("the benchmark ran out of time (--timeout)")
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print figures and verdicts; exit 1 on a failed check with --strict."""
    args = parse_args(argv)
    deadline = Deadline(args.timeout)
    for signum in (signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, _on_signal)
    signal.alarm(math.ceil(args.timeout) + 10)
    parts = []
    if args.only in (None, "latency"):
        parts.append(
            f"latency {args.latency_requests} responses "
            f"({LATENCY_OWNERS} owners, {LATENCY_GAP_S * 1000:.0f} ms apart)"
        )
    if args.only in (None, "burst"):
        parts.append(
            f"burst {args.burst} across {args.channels} channels (concurrency {BURST_CONCURRENCY})"
        )
    print(f"cards benchmark: {args.database}, " + ", ".join(parts), flush=True)
    figures: dict[str, Any] = {"database": args.database}
    checks: list[Check] = []
    try:
        with tempfile.TemporaryDirectory(prefix="nps-bench-cards-") as tmp:
            workdir = Path(tmp)
            if args.only in (None, "latency"):
                figures["latency"], found = latency_phase(args, workdir, deadline)
                checks += found
            if args.only in (None, "burst"):
                figures["burst"], found = burst_phase(args, workdir, deadline)
                checks += found
    except (TimeoutError, BenchError, psycopg.OperationalError) as exc:
        print(f"benchmark aborted: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)

    print("verdict:")
    for label, passed, detail in checks:
        mark = "n/a " if passed is None else "PASS" if passed else "FAIL"
        print(f"  {mark}  {label} ({detail})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures["checks"] = [{"check": c, "passed": p, "detail": d} for c, p, d in checks]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    failed = any(passed is False for _, passed, _ in checks)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
