"""`nps-bot sandbox --demo`: a few accounts and responses across the segments, sent as the survey
platform would send them."""

from __future__ import annotations

import logging
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.app.sandbox import survey
from bot.app.sandbox.checks import JSON

log = logging.getLogger(__name__)

ALICE = "alice.owens@sandbox.example"
BOB = "bob.brooks@sandbox.example"

# score, comment, customer, account, ARR, owner
RESPONSES: tuple[tuple[int, str, str, str, int, str], ...] = (
    (
        2,
        "We are looking at a competitor and will probably not renew. Support has been slow "
        "for months.",
        "Dana Reyes",
        "Acme A/S",
        240_000,
        ALICE,
    ),
    (
        5,
        "The export feature is broken again and the dashboard keeps crashing.",
        "Lars Jensen",
        "Nordlys ApS",
        48_000,
        BOB,
    ),
    (
        6,
        "Waiting three days for an answer to a support ticket is too long.",
        "Mei Tanaka",
        "Harbor Logistics",
        86_000,
        ALICE,
    ),
    (3, "", "Tom Becker", "Bluefin GmbH", 15_000, BOB),
    (
        7,
        "Fine overall; the reporting could be better.",
        "Sofia Rossi",
        "Verde Foods",
        32_000,
        ALICE,
    ),
    (8, "Good product. Onboarding took a while.", "Noah Smith", "Keystone Bank", 150_000, BOB),
    (
        9,
        "Your team made our rollout painless. Thank you!",
        "Amara Okafor",
        "Sunrise Health",
        64_000,
        ALICE,
    ),
    (10, "Best tool we bought this year.", "Jonas Weber", "Polar Freight", 22_000, BOB),
)


def demo_bodies(now: datetime) -> list[JSON]:
    """The demo responses, submitted a few minutes apart up to `now`."""
    bodies = []
    for index, (score, comment, customer, account, arr, owner) in enumerate(RESPONSES):
        form = {
            "score": score,
            "comment": comment,
            "customer": customer,
            "account": account,
            "arr": arr,
            "owner": owner,
        }
        at = now - timedelta(minutes=5 * (len(RESPONSES) - index))
        bodies.append(survey.response_body(form, now=at))
    return bodies


def wait_until_up(health_url: str, *, timeout: float = 30.0) -> bool:
    """Whether the app answered its health check within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(health_url, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def load_demo(base_url: str, secret: str, clock: Callable[[], datetime]) -> int:
    """Send the demo responses once the app is up; how many it accepted."""
    if not wait_until_up(f"{base_url}/healthz"):
        log.warning("sandbox.demo_skipped reason=app_not_up")
        return 0
    accepted = 0
    for body in demo_bodies(clock()):
        answer = survey.send(f"{base_url}/webhooks/survey", secret, body)
        accepted += answer.status in (200, 202)
    log.info("sandbox.demo_loaded accepted=%s of=%s", accepted, len(RESPONSES))
    return accepted
