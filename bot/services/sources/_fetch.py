"""Reading a response back from a platform's API, each failure sorted into retry or give up.

A 404 counts as transient: right after a webhook the platform may not serve the response yet
(Qualtrics documents a delay before new responses are queryable). The caller bounds the retries,
so a response that never appears ends as a failed job, not a loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.services.sources._normal import SAFE_ID
from bot.services.sources.base import Answer, BadShape, FetchFailed, FetchRef, FieldMap


def get_json(
    client: httpx.Client, url: str, *, headers: Mapping[str, str], platform: str
) -> dict[str, Any]:
    """GET a JSON object; FetchFailed, transient or permanent, for anything else."""
    try:
        response = client.get(url, headers=dict(headers))
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise FetchFailed(f"{platform} API URL is not an http(s) URL", permanent=True) from None
    except httpx.TimeoutException:
        raise FetchFailed(f"{platform} API timed out") from None
    except httpx.TransportError as exc:
        raise FetchFailed(f"{platform} API unreachable ({type(exc).__name__})") from None
    check_status(response, platform)
    try:
        data = response.json()
    except ValueError:
        raise FetchFailed(f"{platform} API answered malformed JSON", permanent=True) from None
    if not isinstance(data, dict):
        raise FetchFailed(f"{platform} API answered JSON that is not an object", permanent=True)
    return data


def check_status(response: httpx.Response, platform: str) -> None:
    """Raise FetchFailed for any answer but 2xx: 401/403 and other 4xx are permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return
    label = f"{platform} API answered {status}"
    if status in (401, 403):
        raise FetchFailed(f"{label}: token rejected", permanent=True)
    if status == 404:
        raise FetchFailed(f"{label}: the response is not available (yet)")
    if status == 429:
        raise FetchFailed(f"{label}: rate limited", retry_after=retry_after(response))
    if status == 408 or status >= 500:
        raise FetchFailed(f"{label}: server unavailable", retry_after=retry_after(response))
    raise FetchFailed(label, permanent=True)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After` (seconds, or a date read against `Date`), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            wait = parsedate_to_datetime(value) - parsedate_to_datetime(response.headers["date"])
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        seconds = wait.total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def safe_ids(platform: str, ref: FetchRef) -> None:
    """Refuse, for good, ids that could leave their place in an API path."""
    if not (SAFE_ID.match(ref.survey_id) and SAFE_ID.match(ref.response_id)):
        raise FetchFailed(f"{platform} ids must be letters, digits, '_' or '-'", permanent=True)


def unusable(platform: str, error: BadShape) -> FetchFailed:
    """A permanent FetchFailed naming the fields that made a fetched response unusable."""
    names = "; ".join(f"{f.field}: {f.message}" for f in error.fields)
    return FetchFailed(f"{platform} response is unusable: {names}", permanent=True)


class PushesAnswers:
    """For platforms that push whole responses: `parse` never returns a FetchRef."""

    name: str
    id_only = False

    def fetch(
        self,
        ref: FetchRef,
        *,
        client: httpx.Client,
        api_url: str,
        api_token: str,
        fields: FieldMap,
    ) -> Answer:
        """Refuse: this platform has nothing to fetch."""
        raise FetchFailed(f"{self.name} pushes whole responses; nothing to fetch", permanent=True)
