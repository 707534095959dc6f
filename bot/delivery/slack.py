"""The one way out to Slack: a WebClient with retries for rate limits, server errors and drops."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.domain.patterns import is_user_id
from storage.directory import DirectoryCache

log = logging.getLogger(__name__)

LOOKUP_TTL = timedelta(days=1)


def make_client(token: str | None, base_url: str, *, rate_limit_retries: int = 2) -> WebClient:
    """A WebClient that retries 429s (honouring Retry-After), 5xx answers and dropped connections.

    The outbox asks for few rate-limit retries so that one throttled channel defers its own
    message instead of holding up every other channel.
    """
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def retry_after(error: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait, when the error is a rate limit."""
    response = error.response
    if response is None or response.status_code != 429:
        return None
    value = (response.headers or {}).get("Retry-After") or (response.headers or {}).get(
        "retry-after"
    )
    try:
        return max(float(value), 1.0)
    except (TypeError, ValueError):
        return 30.0


class UserDirectory:
    """Resolves people named by email to Slack user ids through `users.lookupByEmail`, cached."""

    def __init__(self, client: WebClient, cache: DirectoryCache) -> None:
        self.client = client
        self.cache = cache
        self._names: dict[str, str | None] = {}
        # Emails already resolved in this process, so permission checks and sweeps that name
        # the same people again and again do not read the database each time.
        self._found: dict[str, str] = {}

    def display_name(self, user_id: str) -> str | None:
        """A person's first name (or display name) for scripts; None when Slack does not say."""
        if user_id in self._names:
            return self._names[user_id]
        try:
            profile = self.client.users_info(user=user_id)["user"].get("profile", {})
        except SlackApiError:
            return None
        name = profile.get("first_name") or profile.get("display_name") or profile.get("real_name")
        self._names[user_id] = name or None
        return self._names[user_id]

    def resolve(self, ref: str | None, *, now: datetime) -> str | None:
        """A Slack user id for a user id or an email; None when Slack knows no such user."""
        if not ref:
            return None
        if is_user_id(ref):
            return ref
        email = ref.strip().lower()
        if email in self._found:
            return self._found[email]  # found ids do not change; misses are asked again later
        cached = self.cache.get(email, now=now, ttl=LOOKUP_TTL)
        if cached is not None:
            if cached[0]:
                self._found[email] = cached[0]
            return cached[0]
        try:
            user_id = self.client.users_lookupByEmail(email=email)["user"]["id"]
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                raise
            user_id = None
        self.cache.put(email, user_id, now=now)
        if user_id:
            self._found[email] = user_id
        log.info("directory.lookup found=%s", user_id is not None)
        return user_id


class Workspace:
    """Facts about the workspace from `auth.test`, asked once: links to messages, the bot's id."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._auth: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def facts(self, *, wait: bool = True) -> dict[str, Any] | None:
        """`auth.test`'s answer (team url, bot user id), asked once and then remembered.

        With `wait=False` only what is already known is returned; the question is asked in the
        background so that a caller on a request path never waits on Slack.
        """
        if self._auth is not None or not wait:
            if self._auth is None and not self._lock.locked():
                threading.Thread(target=self.facts, daemon=True).start()
            return self._auth
        with self._lock:
            if self._auth is None:
                try:
                    self._auth = dict(self.client.auth_test().data)  # type: ignore[arg-type]
                except Exception:
                    log.warning("workspace.auth_test_failed")
                    return None
            return self._auth

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, in Slack's documented permalink form."""
        facts = self.facts()
        if not facts or not facts.get("url"):
            return None
        return f"{facts['url'].rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
