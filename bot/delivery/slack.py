"""The ways out to Slack: a retrying client for request paths, a paced one for the outbox, the
directory of people by email and the workspace's facts and permalinks."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.delivery.pacing import Pacer
from bot.delivery.slack_errors import NOT_IDEMPOTENT, Disposition, classify, never_sent
from bot.domain.patterns import is_user_id
from storage.slack_users import SlackUserCache

log = logging.getLogger(__name__)

LOOKUP_TTL = timedelta(days=1)
PERMALINKS_KEPT = 10_000


def make_client(token: str | None, base_url: str, *, rate_limit_retries: int = 2) -> WebClient:
    """A WebClient that retries 429s (honouring Retry-After), 5xx answers and dropped connections.

    For request paths and the services; the outbox wraps it with `delivery_client`.
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
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 1.0)
    except (TypeError, ValueError):
        return 30.0


def _method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class _SafeRetry(RetryHandler):
    """Retries what `inner` retries, except a call that is not idempotent and may have landed."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        refused = response is not None and response.status_code == 429
        if _method_of(request.url) in NOT_IDEMPOTENT and not refused and not never_sent(error):
            return False
        return self.inner.can_retry(state=state, request=request, response=response, error=error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        self.inner.prepare_for_next_attempt(
            state=state, request=request, response=response, error=error
        )


def _channel_of(kwargs: dict[str, Any]) -> str | None:
    for part in ("json", "params", "data"):
        args = kwargs.get(part)
        if isinstance(args, dict) and args.get("channel"):
            return str(args["channel"])
    return None


class PacedClient(WebClient):
    """A WebClient that asks its pacer before each call and tells it of each 429; never sleeps
    on a rate limit."""

    def __init__(self, *, pacer: Pacer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pacer = pacer

    def api_call(self, api_method: str, **kwargs: Any) -> Any:  # type: ignore[override]
        channel = _channel_of(kwargs)
        self.pacer.take(api_method, channel)
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            wait = retry_after(exc)
            if wait is not None:
                self.pacer.hold(api_method, wait, channel)
            raise


def delivery_client(client: WebClient, pacer: Pacer) -> PacedClient:
    """`client`'s token and address, paced, without rate-limit sleeps or unchecked re-posts."""
    handlers = [
        # A handler that never retries (a meter counting answers) has nothing to make safe.
        _SafeRetry(h) if h.max_retry_count > 0 else h
        for h in client.retry_handlers
        if not isinstance(h, RateLimitErrorRetryHandler)
    ]
    return PacedClient(
        pacer=pacer,
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=dict(client.headers),
        retry_handlers=handlers,
    )


class UserDirectory:
    """Resolves people named by email to Slack user ids through `users.lookupByEmail`, cached."""

    def __init__(self, client: WebClient, cache: SlackUserCache) -> None:
        self.client = client
        self.cache = cache
        self._names: dict[str, str | None] = {}
        # Emails already resolved in this process, so permission checks and sweeps that name
        # the same people again and again do not read the database each time.
        self._found: dict[str, str] = {}
        self._looking: set[str] = set()  # emails a background lookup is asking Slack about
        self._lock = threading.Lock()

    def display_name(self, user_id: str) -> str | None:
        """A person's first name (or display name) for scripts; None when Slack does not say."""
        if user_id in self._names:
            return self._names[user_id]
        try:
            profile = self.client.users_info(user=user_id)["user"].get("profile", {})
        except SlackApiError as exc:
            if classify(exc) == Disposition.PERMANENT:
                self._names[user_id] = None
            return None  # a passing failure: asked again next time
        name = profile.get("first_name") or profile.get("display_name") or profile.get("real_name")
        self._names[user_id] = name or None
        return self._names[user_id]

    def known(self, ref: str | None, *, now: datetime) -> str | None:
        """The Slack user id for a user id or an email from what is already known, never asking
        Slack (a click must not wait on lookups); an unknown email is looked up in the
        background for next time."""
        if not ref:
            return None
        if is_user_id(ref):
            return ref
        email = ref.strip().lower()
        if email in self._found:
            return self._found[email]
        cached = self.cache.get(email, now=now, ttl=LOOKUP_TTL)
        if cached is not None:
            if cached[0]:
                self._found[email] = cached[0]
            return cached[0]
        self.warm([email], now=now)
        return None

    def warm(self, refs: Iterable[str | None], *, now: datetime) -> threading.Thread | None:
        """Look up these people's emails in a background thread, so clicks find them known."""
        wanted = {r.strip().lower() for r in refs if r and not is_user_id(r)}
        with self._lock:
            emails = sorted(wanted - set(self._found) - self._looking)
            self._looking.update(emails)
        if not emails:
            return None

        def lookup() -> None:
            try:
                for email in emails:
                    self.resolve(email, now=now)
            except Exception as exc:  # Slack unreachable: asked again on the next click
                log.warning("directory.warm_failed error=%s", type(exc).__name__)
            finally:
                with self._lock:
                    self._looking.difference_update(emails)

        thread = threading.Thread(target=lookup, name="directory-warm", daemon=True)
        thread.start()
        return thread

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
    """Facts about the workspace from `auth.test`, asked once, and permalinks, asked once each."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._auth: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._links: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._links_lock = threading.Lock()

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

    def link(self, channel: str, ts: str) -> str | None:
        """A message's permalink from `chat.getPermalink`; None when Slack has no such message.

        Errors that may pass (rate limits, outages, the token) are raised for the caller to retry.
        """
        key = (channel, ts)
        with self._links_lock:
            if key in self._links:
                self._links.move_to_end(key)
                return self._links[key]
        try:
            found: str | None = self.client.chat_getPermalink(channel=channel, message_ts=ts)[
                "permalink"
            ]
        except SlackApiError as exc:
            if classify(exc) not in (Disposition.PERMANENT, Disposition.CHANNEL):
                raise
            found = None
        with self._links_lock:
            self._links[key] = found
            while len(self._links) > PERMALINKS_KEPT:
                self._links.popitem(last=False)
        return found

    def permalink(self, channel: str, ts: str) -> str | None:
        """A message's permalink, or None when it cannot be had now (never raises)."""
        try:
            return self.link(channel, ts)
        except Exception:
            log.warning("workspace.permalink_failed")
            return None
