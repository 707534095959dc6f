"""Checking who sent a delivery: a platform signature when the source has a secret, else a token.

Reasons name the header or form field that failed, never what it held.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping

from bot.services.sources.base import Unauthorized


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with lower-case names."""
    return {k.lower(): v for k, v in headers.items()}


def authenticate(
    headers: Mapping[str, str],
    *,
    secret: str | None,
    token: str | None,
    check_signature: Callable[[str], None],
) -> None:
    """Require the signature when a secret is set, else the bearer token, else refuse."""
    if secret:
        check_signature(secret)
    elif token:
        check_bearer(headers, token)
    else:
        raise Unauthorized("the source has neither a signing secret nor a token")


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value by its display name; Unauthorized when it is absent or empty."""
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise Unauthorized(f"missing {name} header")
    return value


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(given.encode(), expected.encode())


def check_bearer(headers: Mapping[str, str], token: str) -> None:
    """Require `Authorization: Bearer <token>`."""
    value = header(headers, "Authorization")
    scheme, _, given = value.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized("Authorization header is not a Bearer token")
    if not same(given.strip(), token):
        raise Unauthorized("Authorization bearer token does not match")


def hmac_base64(key: str, body: bytes, digest: str) -> str:
    """Base64 of the HMAC of `body` under `key` with the named hash."""
    mac = hmac.new(key.encode(), body, getattr(hashlib, digest)).digest()
    return base64.b64encode(mac).decode()


def hmac_hex(key: str, body: bytes, digest: str) -> str:
    """Lower-case hex of the HMAC of `body` under `key` with the named hash."""
    return hmac.new(key.encode(), body, getattr(hashlib, digest)).hexdigest()
