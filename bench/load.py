"""Signed survey webhooks fired at a server by concurrent aiohttp workers."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
from standardwebhooks import Webhook

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None

COMMENTS = (
    "Love the new dashboard, it saves me an hour every Monday.",
    "",
    "Thinking about whether to cancel at renewal; the price went up again.",
    "Found a bug in the CSV export: dates come out in the wrong timezone.",
    "Support took three days to answer a simple question about SSO.",
    "Great support team, they sorted out our SAML setup in minutes.",
    "It does the job.",
    "",
    "Too many clicks to get to the report I need every morning.",
    "We will cancel unless the Salesforce sync stops dropping records.",
    "Nothing to add.",
    "The mobile app crashes when I open an attachment, looks like a bug.",
    "Onboarding was smooth and the team picked it up quickly.",
    "Would recommend it, but the API docs need work.",
    "Très bien, mais l'export PDF est lent — 30 secondes par rapport.",
    "",
    "Billing charged us twice this month and support hasn't replied.",
    "Best tool we've bought this year! 🎉",
    "Search is slow on large workspaces; please fix before we renew.",
    "Our account manager is great; the product still has a few rough edges.",
)
TOUCHPOINTS = (
    ("support", "Ticket about exports"),
    ("call", "Quarterly business review"),
    ("support", "SSO login loop after IdP change"),
    ("onboarding", "Kick-off with the admin team"),
)
REQUEST_TIMEOUT_S = 30.0


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def account_arr(account: int) -> int:
    """A deterministic annual recurring revenue between 5,000 and 400,000 for an account."""
    return 5_000 + (account * 7_919 % 3_951) * 100


def build_body(run: str, n: int, now: datetime) -> str:
    """The JSON body of the `n`th survey response of `run`."""
    submitted = now - timedelta(minutes=n % 720)
    account = n % 500
    touchpoints = [
        {
            "at": _iso(submitted - timedelta(days=3 + i * 11)),
            "kind": TOUCHPOINTS[(n + i) % len(TOUCHPOINTS)][0],
            "summary": TOUCHPOINTS[(n + i) % len(TOUCHPOINTS)][1],
        }
        for i in range(n % 3)
    ]
    payload = {
        "response_id": f"bench-{run}-{n}",
        "score": n % 11,
        "comment": COMMENTS[n * 7 % len(COMMENTS)],
        "submitted_at": _iso(submitted),
        "customer": {
            "id": f"c-{n % 3000}",
            "name": f"Customer {n}",
            "email": f"c{n}@example.com",
        },
        "account": {
            "id": f"a-{account}",
            "name": f"Account {account}",
            "arr": account_arr(account),
            "owner": f"owner{n % 20}@example.com",
            "plan": "Pro",
            "renewal_date": "2027-03-01",
        },
        "touchpoints": touchpoints,
    }
    return json.dumps(payload, ensure_ascii=False)


def build_bodies(run: str, count: int) -> list[str]:
    """`count` distinct response bodies for `run`; accounts and customers repeat across them."""
    now = datetime.now(UTC)
    return [build_body(run, n, now) for n in range(count)]


@dataclass(frozen=True)
class SignedRequest:
    """A request body with its Standard Webhooks headers."""

    body: bytes
    headers: dict[str, str]


def sign_all(secret: str, run: str, bodies: list[str]) -> list[SignedRequest]:
    """Sign every body now; webhook ids are `msg_<run>_<n>`, unique across runs."""
    webhook = Webhook(secret)
    seconds = int(time.time())
    timestamp = datetime.fromtimestamp(seconds, UTC)
    signed = []
    for n, body in enumerate(bodies):
        msg_id = f"msg_{run}_{n}"
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(seconds),
            "webhook-signature": webhook.sign(msg_id, timestamp, body),
        }
        signed.append(SignedRequest(body.encode(), headers))
    return signed


@dataclass
class LoadResult:
    """Latencies and outcomes of one load run."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        """Requests completed per second of wall time, whatever their status."""
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, p: float) -> float:
        """The nearest-rank `p`th percentile latency in milliseconds."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def non_2xx(self) -> dict[str, int]:
        """Counts of every outcome other than a 2xx status, by status or error name."""
        return {k: v for k, v in sorted(self.statuses.items()) if not k.startswith("2")}


async def fire(url: str, requests: list[SignedRequest], concurrency: int) -> LoadResult:
    """POST every request to `url` from `concurrency` workers sharing one session."""
    result = LoadResult()
    pending = iter(requests)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        for request in pending:
            started = time.perf_counter()
            try:
                async with session.post(url, data=request.body, headers=request.headers) as resp:
                    await resp.read()
                    outcome = str(resp.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome = f"error:{type(exc).__name__}"
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[outcome] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - started
    return result


def run_load(
    url: str, requests: list[SignedRequest], concurrency: int, timeout_s: float
) -> LoadResult:
    """Run `fire` on a fresh event loop (uvloop when available); TimeoutError past `timeout_s`."""

    async def bounded() -> LoadResult:
        async with asyncio.timeout(timeout_s):
            return await fire(url, requests, concurrency)

    loop_factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(bounded())
