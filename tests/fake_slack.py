"""A fake Slack Web API server for tests.

`FakeSlack` answers `POST /api/<method>` on 127.0.0.1 the way Slack does: Slack-shaped JSON
bodies, `ok: false` errors with HTTP 200, 429 with `Retry-After` for rate limits. It keeps the
messages, views and files it receives, checks Block Kit payloads with `slack_sdk.models`, and can
simulate outages, server errors, rate limits and latency. Point a real client at it::

    with FakeSlack(users={"alice@example.com": "U0ALICE"}) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.messages_in("C1")[0]["text"] == "hi"
"""

from __future__ import annotations

import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import logging
import math
import mimetypes
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from bot.app.sandbox.checks import SlackError as _SlackError
from bot.app.sandbox.checks import block_errors as _block_errors
from bot.app.sandbox.checks import given as _given
from bot.app.sandbox.checks import invalid_arguments as _invalid_arguments
from bot.app.sandbox.checks import truthy as _truthy
from bot.app.sandbox.checks import view_errors as _view_errors
from tests.fake_slack_errors import documented

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
BOT_NAME = "nps-bot"
APP_ID = "AFAKEAPP"
TEAM_ID = "T0001"
TEAM_NAME = "Fake"
WORKSPACE_URL = "https://fake.slack.com/"

MAX_MESSAGE_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_TEXT_LENGTH = 40_000
MAX_ATTACHMENTS = 100
MAX_VIEW_TEXT_LENGTH = 24
MAX_PRIVATE_METADATA_LENGTH = 3_000
MAX_VIEW_ID_LENGTH = 255
MAX_HISTORY_LIMIT = 999

# The bot scopes of manifest.yml: what a fresh fake grants unless a test takes some away.
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.public",
        "im:write",
        "im:history",
        "users:read",
        "users:read.email",
        "commands",
        "channels:history",
        "groups:history",
        "files:write",
        "channels:join",
    }
)
# The bot scope each method needs (history and replies: by conversation type, below).
_METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write",
    "conversations.join": "channels:join",
    "users.lookupByEmail": "users:read.email",
    "users.info": "users:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
# The scope each kind of conversation needs for conversations.history and .replies.
_HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}

JSON = dict[str, Any]
Handler = Callable[[JSON], JSON]

# Arguments slack_sdk sends as JSON strings inside form bodies.
_JSON_STRING_ARGS = ("blocks", "attachments", "view", "metadata")
_FIRST_TS_MICROS = 1_700_000_000_000_000
_TS_STEP_MICROS = 100

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """A Web API call the fake answered with HTTP 200, whether `ok` was true or false.

    `args` holds the decoded arguments without the token; `at` is `time.monotonic()` at arrival.
    """

    method: str
    args: JSON
    at: float
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True)
class Failure:
    """A request refused at the HTTP level instead of being passed to the method.

    `reason` is what refused it: "down", "fail_next", "rate_limit_next" or "channel_rate";
    `method` is "upload" for a refused POST to a file upload URL.
    """

    method: str
    args: JSON
    at: float
    status: int
    reason: str


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Injection:
    method: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class Hold:
    """A request held by `hold_next`: `arrived` is set when it comes in; `release()` lets it go."""

    arrived: threading.Event
    released: threading.Event
    run: bool = True

    def release(self, *, run: bool = True) -> None:
        """Let the call go on. With `run=False` it is left unanswered, and a call held before
        it ran never runs: as if the caller died before its request reached Slack."""
        self.run = run
        self.released.set()


@dataclass
class _Fault:
    """A failure injected for the next `remaining` calls to `method`, before or after it runs."""

    method: str
    after: bool
    remaining: int
    error: str | None = None
    status: int | None = None
    drop: bool = False
    hold: Hold | None = None
    extra: dict[str, Any] | None = None
    channel: str | None = None


_DROP = object()  # a reply that closes the connection without an answer


@dataclass
class _Bucket:
    tokens: float
    updated: float


def _missing(name: str) -> _SlackError:
    return _invalid_arguments(f"missing required field: {name}")


def _text_of(args: JSON) -> str:
    text = args.get("text")
    return "" if text is None else str(text)


def _list_of(value: Any) -> list[Any]:
    return copy.deepcopy(value) if isinstance(value, list) else []


def _dm_channel(channel: str) -> str:
    """The channel Slack posts to for `channel`: a user id opens that user's DM."""
    return "D" + channel if channel[:1] in ("U", "W") else channel


def _ts_value(ts: str) -> Decimal:
    """A message timestamp as an exact number; raises ValueError when it is not one."""
    try:
        value = Decimal(ts)
    except InvalidOperation as exc:
        raise ValueError(f"not a timestamp: {ts!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a timestamp: {ts!r}")
    return value


def _is_top_level(message: JSON) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts in (None, message["ts"]) or message.get("subtype") == "thread_broadcast"


def _wire(message: JSON, *, with_metadata: bool = True) -> JSON:
    """A stored message as Slack sends it: absent fields left out."""
    out = {k: copy.deepcopy(v) for k, v in message.items() if v is not None and v != []}
    if not with_metadata:
        out.pop("metadata", None)
    return out


def _user_object(user_id: str, email: str | None) -> JSON:
    if user_id == BOT_USER_ID:
        name = BOT_NAME
    else:
        name = email.split("@", 1)[0] if email else user_id.lower()
    profile: JSON = {"real_name": name, "display_name": name, "team": TEAM_ID}
    if email:
        profile["email"] = email
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "real_name": name,
        "deleted": False,
        "is_bot": user_id == BOT_USER_ID,
        "is_admin": False,
        "is_app_user": False,
        "tz": "UTC",
        "tz_label": "Coordinated Universal Time",
        "tz_offset": 0,
        "profile": profile,
    }


def _parse_multipart(content_type: str, body: bytes) -> JSON:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    args: JSON = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        args[name] = data if part.get_filename() else data.decode("utf-8", "replace")
    return args


def _parse_args(query: str, headers: Message, body: bytes) -> tuple[JSON, str | None]:
    """Query, then body arguments (form, multipart or JSON), and the name of a parse error."""
    args: JSON = dict(parse_qsl(query, keep_blank_values=True))
    content_type = headers.get_content_type()
    try:
        if not body:
            pass
        elif content_type == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                return args, "invalid_json"
            args.update(decoded)
        elif content_type == "multipart/form-data":
            args.update(_parse_multipart(headers.get("Content-Type", ""), body))
        else:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        return args, "invalid_json" if content_type == "application/json" else "invalid_form_data"
    for name in _JSON_STRING_ARGS:
        value = args.get(name)
        if isinstance(value, str) and value.strip():
            # Undecodable values stay strings; the method then reports a format error.
            with contextlib.suppress(ValueError):
                args[name] = json.loads(value)
    return args, None


def _bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip() or None
    return None


def _json_reply(
    payload: JSON, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> _Reply:
    body = json.dumps(payload).encode("utf-8")
    return _Reply(status, body, "application/json; charset=utf-8", tuple(headers))


def _html_reply(status: int) -> _Reply:
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = f"{status} Error"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return _Reply(status, body.encode("utf-8"), "text/html; charset=utf-8")


def _text_reply(status: int, text: str) -> _Reply:
    return _Reply(status, text.encode("utf-8"), "text/plain; charset=utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients must not wait on SYN retransmits

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.fake = fake


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeSlack/1.0"

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class FakeSlack:
    """A Slack Web API stand-in on 127.0.0.1, run in a daemon thread.

    Use it as a context manager or call `start()` and `stop()`; pass `url` to
    `WebClient(base_url=...)`. With `token=None` any token is accepted (a missing one is still
    `not_authed`). `users` maps emails to user ids for `users.lookupByEmail`; channel ids in
    `missing_channels` and user ids in `missing_users` answer `channel_not_found` and
    `user_not_found`/`users_not_found`. `down`, `latency`, `token`, `users`, `missing_channels`
    and `missing_users` may be changed while the server runs.

    Beyond those: `token_error` answers every call with that code (`token_revoked`,
    `account_inactive`, ...); `scopes` are the bot scopes granted (history needs the scope of the
    conversation's type, else `missing_scope`); `outside_channels` are public channels the bot
    has not joined (posting needs `chat:write.public`; history answers `not_in_channel` until
    `conversations.join`); `private_channels` refuse `conversations.join`.
    """

    def __init__(
        self,
        *,
        token: str | None = "xoxb-test",
        users: Mapping[str, str] | None = None,
        missing_channels: Iterable[str] = (),
        missing_users: Iterable[str] = (),
        latency: float = 0.0,
    ) -> None:
        self.token = token
        self.users: dict[str, str] = dict(users or {})
        self.missing_channels: set[str] = set(missing_channels)
        self.missing_users: set[str] = set(missing_users)
        self.down = False
        self.latency = latency
        self.token_error: str | None = None
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self.outside_channels: set[str] = set()
        self.private_channels: set[str] = set()
        self._cond = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._root = ""
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._channel_rate: tuple[float, int] | None = None
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.join": self._conversations_join,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        self._clear()

    def _clear(self) -> None:
        self._calls: list[Call] = []
        self._failures: list[Failure] = []
        self._rate_limited = 0
        self._injections: list[_Injection] = []
        self._faults: list[_Fault] = []
        self._buckets: dict[str, _Bucket] = {}
        self._messages: dict[str, list[JSON]] = {}
        self._ephemerals: list[JSON] = []
        self._views: dict[str, JSON] = {}
        self._home_tabs: dict[str, str] = {}
        self._files: dict[str, JSON] = {}
        self._joined: set[str] = set()
        self._responses: list[JSON] = []

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        """Start serving on an ephemeral port; returns self."""
        if self._server is not None:
            raise RuntimeError("FakeSlack is already running")
        server = _Server(self)
        host, port = server.server_address[:2]
        self._root = f"http://{host}:{port}"
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeSlack:{port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; recorded state is kept. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The Web API base URL, e.g. `http://127.0.0.1:PORT/api/`, for `WebClient(base_url=)`."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not running")
        return f"{self._root}/api/"

    # ----------------------------------------------------------------- recorded state

    @property
    def calls(self) -> list[Call]:
        """Every call answered with HTTP 200 (ok or not), oldest first."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to `method` answered with HTTP 200 (ok or not), oldest first."""
        with self._cond:
            return [c for c in self._calls if c.method == method]

    @property
    def failures(self) -> list[Failure]:
        """Requests refused at the HTTP level (outage, injected errors, rate limits)."""
        with self._cond:
            return list(self._failures)

    @property
    def rate_limited(self) -> int:
        """How many requests were answered 429, injected or by channel-rate enforcement."""
        with self._cond:
            return self._rate_limited

    @property
    def messages(self) -> dict[str, list[JSON]]:
        """A copy of the stored messages: channel id -> messages in posting order.

        Each message has `type`, `user` ("UBOT"), `bot_id`, `app_id`, `team`, `ts`, `text`,
        `blocks`, `attachments`, `metadata`, `thread_ts` and `subtype` (None or [] when absent).
        Thread replies sit in the same list with their `thread_ts`; as in Slack, a parent with
        replies gets `thread_ts` (its own ts), `reply_count` and `latest_reply`. Files shared to a
        channel add a message with `files` and `upload: true`.
        """
        with self._cond:
            return copy.deepcopy(self._messages)

    def messages_in(self, channel: str) -> list[JSON]:
        """A copy of the messages stored for `channel` (a user id means its DM), oldest first."""
        with self._cond:
            return copy.deepcopy(self._messages.get(_dm_channel(channel), []))

    @property
    def ephemerals(self) -> list[JSON]:
        """Ephemeral messages sent, oldest first: channel, user, ts, text, blocks, attachments."""
        with self._cond:
            return copy.deepcopy(self._ephemerals)

    @property
    def views(self) -> dict[str, JSON]:
        """The latest version of every view opened, pushed, updated or published, by view id."""
        with self._cond:
            return copy.deepcopy(self._views)

    @property
    def home_tabs(self) -> dict[str, JSON]:
        """The Home tab view last published for each user id."""
        with self._cond:
            return {user: copy.deepcopy(self._views[vid]) for user, vid in self._home_tabs.items()}

    @property
    def files(self) -> dict[str, JSON]:
        """Files by id: name, title, size, `content` (bytes, None until uploaded), channels."""
        with self._cond:
            return copy.deepcopy(self._files)

    @property
    def joined(self) -> set[str]:
        """Channel ids joined with `conversations.join`."""
        with self._cond:
            return set(self._joined)

    def reset(self) -> None:
        """Forget calls, failures, pending injections, stored messages, views and files.

        Settings (`token`, `users`, `missing_*`, `down`, `latency`, channel-rate enforcement) stay;
        timestamps and ids keep increasing so they stay unique for the server's lifetime.
        """
        with self._cond:
            self._clear()
            self._cond.notify_all()

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls to `method` answered `ok: true`; return all such calls.

        Raises AssertionError naming what did arrive when `timeout` seconds pass first.
        """

        def successful() -> list[Call]:
            return [c for c in self._calls if c.method == method and c.ok]

        with self._cond:
            if self._cond.wait_for(lambda: len(successful()) >= count, timeout=timeout):
                return successful()
            seen = [f"{c.method}{'' if c.ok else f' ({c.error})'}" for c in self._calls]
            failed = [f"{f.method} -> {f.status} ({f.reason})" for f in self._failures]
            raise AssertionError(
                f"expected {count} successful call(s) to {method} within {timeout}s, "
                f"got {len(successful())}; calls: {seen or 'none'}; "
                f"refused: {failed or 'none'}"
            )

    # ----------------------------------------------------------------- failure injection

    def fail_next(self, method: str, status: int = 503, count: int = 1) -> None:
        """Answer the next `count` calls to `method` ("*" for any) with HTTP `status` and HTML."""
        self._inject(method, status, None, count)

    def rate_limit_next(self, method: str, retry_after: int = 1, count: int = 1) -> None:
        """Answer the next `count` calls to `method` ("*" for any) with 429 and `Retry-After`."""
        if retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        self._inject(method, 429, retry_after, count)

    def _inject(self, method: str, status: int, retry_after: int | None, count: int) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._cond:
            self._injections.append(_Injection(method, status, retry_after, count))

    def error_next(self, method: str, error: str, count: int = 1, **extra: Any) -> None:
        """Answer the next `count` calls to `method` with `ok: false` and `error`, not running them.

        Only codes Slack documents for the method (or for every method) are accepted.
        """
        if not documented(method, error):
            raise ValueError(f"Slack does not document {error!r} for {method}")
        self._add_fault(_Fault(method, after=False, remaining=count, error=error, extra=extra))

    def fail_after_next(
        self, method: str, *, status: int | None = None, error: str | None = None, count: int = 1
    ) -> None:
        """Run the next `count` calls to `method`, then answer HTTP `status` or `ok: false`.

        The ambiguous failure: Slack did the work (a message is stored) but the caller is told
        it failed. Give `status` (e.g. 500) or a documented `error` (e.g. "fatal_error").
        """
        if (status is None) == (error is None):
            raise ValueError("give either status or error")
        if error is not None and not documented(method, error):
            raise ValueError(f"Slack does not document {error!r} for {method}")
        self._add_fault(
            _Fault(method, after=True, remaining=count, error=error, status=status, extra={})
        )

    def drop_next(self, method: str, *, after: bool = False, count: int = 1) -> None:
        """Close the connection of the next `count` calls to `method` without an answer.

        With `after=True` the call runs first (a message is stored), as when a connection drops
        while Slack's answer is on its way.
        """
        self._add_fault(_Fault(method, after=after, remaining=count, drop=True))

    def hold_next(self, method: str, *, after: bool = False, channel: str | None = None) -> Hold:
        """Hold the next call to `method` (to `channel`, if given) until `release()`: before it
        runs, or after it ran (a message is then stored but not yet answered)."""
        hold = Hold(threading.Event(), threading.Event())
        self._add_fault(_Fault(method, after=after, remaining=1, hold=hold, channel=channel))
        return hold

    def _add_fault(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be >= 1")
        with self._cond:
            self._faults.append(fault)

    def _take_fault(self, method: str, args: JSON) -> _Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.channel is not None and fault.channel != args.get("channel"):
                    continue
                if fault.method in (method, "*"):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def enforce_channel_rate(self, per_second: float | None = 1.0, burst: int = 1) -> None:
        """Limit chat.postMessage per channel with a token bucket; `per_second=None` turns it off.

        A post over the limit is answered 429 with `Retry-After` (1 s at the default rate),
        counted in `rate_limited` and not stored.
        """
        if per_second is not None and (per_second <= 0 or burst < 1):
            raise ValueError("per_second must be > 0 and burst >= 1")
        with self._cond:
            self._channel_rate = None if per_second is None else (per_second, burst)
            self._buckets.clear()

    # ----------------------------------------------------------------- HTTP plumbing

    def _serve(self, request: _RequestHandler) -> None:
        try:
            body = self._read_body(request)
            if self.latency > 0:
                time.sleep(self.latency)
            parts = urlsplit(request.path)
            if parts.path.startswith("/api/") and len(parts.path) > len("/api/"):
                reply = self._api(parts.path[len("/api/") :], parts.query, request.headers, body)
            elif parts.path.startswith("/upload/") and request.command == "POST":
                reply = self._upload(parts.path[len("/upload/") :], body)
            elif parts.path.startswith("/respond/") and request.command == "POST":
                reply = self._respond(parts.path[len("/respond/") :], body)
            else:
                reply = _text_reply(404, "Not Found")
        except Exception:
            _log.exception("FakeSlack could not answer %s %s", request.command, request.path)
            reply = _json_reply({"ok": False, "error": "fatal_error"}, status=500)
        if reply is _DROP:
            request.close_connection = True
            with contextlib.suppress(OSError):
                request.connection.shutdown(2)
            return
        try:
            request.send_response(reply.status)
            request.send_header("Content-Type", reply.content_type)
            request.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout was shorter than `latency`)

    @staticmethod
    def _read_body(request: _RequestHandler) -> bytes:
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(request.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
                chunks.append(request.rfile.read(size))
                request.rfile.readline()
            while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(request.headers.get("Content-Length") or 0)
        return request.rfile.read(length) if length > 0 else b""

    def _api(self, method: str, query: str, headers: Message, body: bytes) -> Any:
        args, parse_error = _parse_args(query, headers, body)
        form_token = args.pop("token", None)
        token = _bearer_token(headers.get("Authorization")) or form_token or None
        fault = None if self.down else self._take_fault(method, args)
        if fault is not None and not fault.after:
            early = self._fault_reply(fault, method, args)
            if early is not None:
                return early
        reply = self._answer(method, args, token, parse_error)
        if fault is not None and fault.after:
            late = self._fault_reply(fault, method, args)
            if late is not None:
                return late
        return reply

    def _fault_reply(self, fault: _Fault, method: str, args: JSON) -> Any:
        """What an injected fault answers instead; None when the call goes on (a released hold)."""
        now = time.monotonic()
        stage = "after" if fault.after else "before"
        if fault.hold is not None:
            fault.hold.arrived.set()
            fault.hold.released.wait(timeout=60)
            if fault.hold.run:
                return None
            with self._cond:
                self._failures.append(Failure(method, args, now, 0, f"held_{stage}"))
                self._cond.notify_all()
            return _DROP
        with self._cond:
            if fault.drop:
                self._failures.append(Failure(method, args, now, 0, f"drop_{stage}"))
                self._cond.notify_all()
                return _DROP
            if fault.status is not None:
                self._failures.append(Failure(method, args, now, fault.status, f"fail_{stage}"))
                self._cond.notify_all()
                return _html_reply(fault.status)
            payload = {"ok": False, "error": fault.error, **(fault.extra or {})}
            if fault.after:  # the call itself is already recorded, as Slack did it
                self._failures.append(Failure(method, args, now, 200, f"{fault.error}_after"))
            else:
                self._calls.append(Call(method, args, now, False, fault.error))
            self._cond.notify_all()
            return _json_reply(payload)

    def _answer(
        self, method: str, args: JSON, token: str | None, parse_error: str | None
    ) -> _Reply:
        with self._cond:
            now = time.monotonic()
            if self.down:
                return self._refuse(method, args, now, 503, "down")
            injection = self._take_injection(method)
            if injection is not None:
                reason = "rate_limit_next" if injection.retry_after is not None else "fail_next"
                return self._refuse(
                    method, args, now, injection.status, reason, injection.retry_after
                )
            handler = self._methods.get(method)
            if handler is None:
                payload: JSON = {"ok": False, "error": "unknown_method"}
            elif not token:
                payload = {"ok": False, "error": "not_authed"}
            elif self.token is not None and token != self.token:
                payload = {"ok": False, "error": "invalid_auth"}
            elif self.token_error is not None:
                payload = {"ok": False, "error": self.token_error}
            elif parse_error is not None:
                payload = {"ok": False, "error": parse_error}
            elif method in _METHOD_SCOPES and _METHOD_SCOPES[method] not in self.scopes:
                payload = self._missing_scope(_METHOD_SCOPES[method])
            else:
                if method == "chat.postMessage":
                    wait = self._channel_wait(args, now)
                    if wait is not None:
                        return self._refuse(method, args, now, 429, "channel_rate", wait)
                try:
                    payload = {"ok": True, **handler(args)}
                except _SlackError as exc:
                    payload = exc.payload()
            self._calls.append(Call(method, args, now, payload["ok"], payload.get("error")))
            self._cond.notify_all()
            # Slack names the token's scopes on every answer.
            return _json_reply(payload, headers=[("x-oauth-scopes", ",".join(sorted(self.scopes)))])

    def _refuse(
        self,
        method: str,
        args: JSON,
        now: float,
        status: int,
        reason: str,
        retry_after: int | None = None,
    ) -> _Reply:
        self._failures.append(Failure(method, args, now, status, reason))
        self._cond.notify_all()
        if status != 429:
            return _html_reply(status)
        self._rate_limited += 1
        seconds = 1 if retry_after is None else retry_after
        payload = {"ok": False, "error": "ratelimited"}
        return _json_reply(payload, 429, [("Retry-After", str(seconds))])

    def _take_injection(self, method: str) -> _Injection | None:
        for injection in self._injections:
            if injection.method in (method, "*"):
                injection.remaining -= 1
                if injection.remaining == 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _channel_wait(self, args: JSON, now: float) -> int | None:
        """None when the post may go through, else whole seconds until the channel has room."""
        channel = args.get("channel")
        if self._channel_rate is None or not isinstance(channel, str) or not channel:
            return None
        per_second, burst = self._channel_rate
        key = _dm_channel(channel)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), updated=now)
        else:
            elapsed = now - bucket.updated
            bucket.tokens = min(float(burst), bucket.tokens + elapsed * per_second)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / per_second))

    def response_url(self, name: str = "1") -> str:
        """A `response_url` served by the fake: what is posted to it lands in `responses`."""
        return f"{self._root}/respond/{name}"

    @property
    def responses(self) -> list[JSON]:
        """Bodies posted to response URLs, oldest first (JSON decoded)."""
        with self._cond:
            return [dict(r) for r in self._responses]

    def wait_for_response(self, count: int = 1, timeout: float = 5.0) -> list[JSON]:
        """Block until `count` responses arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._responses) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} response_url posts, got {len(self._responses)}"
                    )
                self._cond.wait(left)
            return [dict(r) for r in self._responses]

    def _respond(self, name: str, body: bytes) -> _Reply:
        with self._cond:
            if self.down:
                return _html_reply(503)
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return _text_reply(400, "invalid_payload")
            self._responses.append({"name": name, **payload})
            self._cond.notify_all()
            return _text_reply(200, "ok")

    def _upload(self, file_id: str, body: bytes) -> _Reply:
        with self._cond:
            if self.down:
                self._failures.append(
                    Failure("upload", {"file_id": file_id}, time.monotonic(), 503, "down")
                )
                return _html_reply(503)
            stored = self._files.get(file_id)
            if stored is None:
                return _text_reply(404, "Not Found")
            stored["content"] = body
            return _text_reply(200, "OK")

    # ----------------------------------------------------------------- argument helpers

    def _next_ts(self) -> str:
        micros = _FIRST_TS_MICROS + next(self._ts_counter) * _TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):08d}"

    @staticmethod
    def _required(args: JSON, name: str) -> str:
        value = args.get(name)
        if not _given(value):
            raise _missing(name)
        return str(value)

    def _channel_arg(self, args: JSON, name: str = "channel") -> str:
        raw = self._required(args, name)
        channel = _dm_channel(raw)
        if raw in self.missing_channels or channel in self.missing_channels:
            raise _SlackError("channel_not_found")
        return channel

    @staticmethod
    def _check_content(args: JSON) -> None:
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        if not (_given(text) or _given(blocks) or _given(attachments)):
            raise _SlackError("no_text")
        if len(_text_of(args)) > MAX_TEXT_LENGTH:
            raise _SlackError("msg_too_long")
        if _given(blocks):
            if not isinstance(blocks, list):
                raise _SlackError("invalid_blocks_format")
            errors = _block_errors(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
            if errors:
                raise _SlackError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
        if _given(attachments):
            if not isinstance(attachments, list) or not all(
                isinstance(a, dict) for a in attachments
            ):
                raise _SlackError("invalid_attachments")
            if len(attachments) > MAX_ATTACHMENTS:
                raise _SlackError("too_many_attachments")

    @staticmethod
    def _metadata_arg(args: JSON) -> JSON | None:
        metadata = args.get("metadata")
        if not _given(metadata):
            return None
        if not isinstance(metadata, dict):
            raise _SlackError("invalid_metadata_format")
        if "entities" in metadata:
            return copy.deepcopy(metadata)
        if not isinstance(metadata.get("event_type"), str) or not isinstance(
            metadata.get("event_payload"), dict
        ):
            raise _SlackError("invalid_metadata_schema")
        return copy.deepcopy(metadata)

    def _missing_scope(self, needed: str) -> JSON:
        provided = ",".join(sorted(self.scopes))
        return {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}

    def _check_reading(self, channel: str) -> None:
        """History of `channel` needs its type's scope and, for public channels, membership."""
        needed = _HISTORY_SCOPES.get(channel[:1])
        if needed is not None and needed not in self.scopes:
            raise _SlackError(
                "missing_scope", needed=needed, provided=",".join(sorted(self.scopes))
            )
        if channel in self.outside_channels and channel not in self._joined:
            raise _SlackError("not_in_channel")

    def _check_posting(self, channel: str) -> None:
        """A channel the bot is not in takes posts only with `chat:write.public`, if public."""
        if channel in self._joined:
            return
        if channel in self.private_channels:
            raise _SlackError("not_in_channel")
        if channel in self.outside_channels and "chat:write.public" not in self.scopes:
            raise _SlackError("not_in_channel")

    def _find_message(self, channel: str, ts: str) -> JSON | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    # ----------------------------------------------------------------- methods: auth, chat

    def _auth_test(self, args: JSON) -> JSON:
        return {
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        self._check_posting(channel)
        self._check_content(args)
        metadata = self._metadata_arg(args)
        ts = self._next_ts()
        thread_ts = str(args["thread_ts"]) if _given(args.get("thread_ts")) else None
        broadcast = thread_ts is not None and _truthy(args.get("reply_broadcast"))
        message: JSON = {
            "type": "message",
            "subtype": "thread_broadcast" if broadcast else None,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
            "text": _text_of(args),
            "blocks": _list_of(args.get("blocks")),
            "attachments": _list_of(args.get("attachments")),
            "metadata": metadata,
            "thread_ts": thread_ts,
        }
        if thread_ts is not None:
            parent = self._find_message(channel, thread_ts)
            if parent is not None:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = ts
        self._messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": _wire(message)}

    def _chat_update(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        ts = self._required(args, "ts")
        message = self._find_message(channel, ts)
        if message is None:
            raise _SlackError("message_not_found")
        self._check_content(args)
        metadata = self._metadata_arg(args)
        if "text" in args:
            message["text"] = _text_of(args)
        if "blocks" in args:
            message["blocks"] = _list_of(args["blocks"])
        if "attachments" in args:
            message["attachments"] = _list_of(args["attachments"])
        if metadata is not None:
            message["metadata"] = metadata
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": _wire(message),
        }

    def _chat_post_ephemeral(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        user = self._required(args, "user")
        self._check_content(args)
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "ts": ts,
                "text": _text_of(args),
                "blocks": _list_of(args.get("blocks")),
                "attachments": _list_of(args.get("attachments")),
                "thread_ts": str(args["thread_ts"]) if _given(args.get("thread_ts")) else None,
            }
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        message_ts = self._required(args, "message_ts")
        permalink = f"{WORKSPACE_URL}archives/{channel}/p{message_ts.replace('.', '')}"
        return {"channel": channel, "permalink": permalink}

    # ----------------------------------------------------------------- methods: conversations

    def _conversations_open(self, args: JSON) -> JSON:
        if _given(args.get("channel")):
            return {"channel": {"id": self._channel_arg(args)}}
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        if len(users) > 8:
            raise _SlackError("too_many_users")
        if any(u in self.missing_users for u in users):
            raise _SlackError("user_not_found")
        channel_id = _dm_channel(users[0]) if len(users) == 1 else "G" + "".join(sorted(users))
        channel: JSON = {"id": channel_id}
        if _truthy(args.get("return_im")) and len(users) == 1:
            channel |= {"is_im": True, "user": users[0], "is_open": True, "unread_count": 0}
        return {"channel": channel}

    def _conversations_history(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        self._check_reading(channel)
        try:
            oldest = _ts_value(str(args.get("oldest") or "0"))
        except ValueError as exc:
            raise _SlackError("invalid_ts_oldest") from exc
        try:
            latest = _ts_value(str(args["latest"])) if _given(args.get("latest")) else None
        except ValueError as exc:
            raise _SlackError("invalid_ts_latest") from exc
        inclusive = _truthy(args.get("inclusive"))
        try:
            limit = min(max(int(args.get("limit") or 100), 1), MAX_HISTORY_LIMIT)
            offset = int(args.get("cursor") or 0)
        except ValueError as exc:
            raise _SlackError("invalid_cursor") from exc

        def in_range(ts: Decimal) -> bool:
            after = ts >= oldest if inclusive else ts > oldest
            before = latest is None or (ts <= latest if inclusive else ts < latest)
            return after and before

        found = [
            m
            for m in self._messages.get(channel, [])
            if _is_top_level(m) and in_range(_ts_value(m["ts"]))
        ]
        found.sort(key=lambda m: _ts_value(m["ts"]), reverse=True)
        page = found[offset : offset + limit]
        has_more = offset + limit < len(found)
        with_metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_wire(m, with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _conversations_replies(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        self._check_reading(channel)
        ts = self._required(args, "ts")
        if self._find_message(channel, ts) is None:
            raise _SlackError("thread_not_found")
        thread = [m for m in self._messages[channel] if ts in (m["ts"], m["thread_ts"])]
        thread.sort(key=lambda m: _ts_value(m["ts"]))
        with_metadata = _truthy(args.get("include_all_metadata"))
        return {
            "messages": [_wire(m, with_metadata=with_metadata) for m in thread],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_join(self, args: JSON) -> JSON:
        channel = self._channel_arg(args)
        if channel in self.private_channels or channel[:1] in ("D", "G"):
            raise _SlackError("method_not_supported_for_channel_type")
        answer: JSON = {
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": True,
                "is_member": True,
            }
        }
        if channel in self._joined:
            answer["warning"] = "already_in_channel"
            answer["response_metadata"] = {"warnings": ["already_in_channel"]}
        self._joined.add(channel)
        return answer

    # ----------------------------------------------------------------- methods: users

    def _email_of(self, user_id: str) -> str | None:
        return next((email for email, uid in self.users.items() if uid == user_id), None)

    def _users_lookup_by_email(self, args: JSON) -> JSON:
        email = self._required(args, "email").strip()
        user_id = next(
            (uid for known, uid in self.users.items() if known.lower() == email.lower()), None
        )
        if user_id is None or user_id in self.missing_users:
            raise _SlackError("users_not_found")
        return {"user": _user_object(user_id, self._email_of(user_id))}

    def _users_info(self, args: JSON) -> JSON:
        user_id = self._required(args, "user")
        if user_id in self.missing_users:
            raise _SlackError("user_not_found")
        return {"user": _user_object(user_id, self._email_of(user_id))}

    # ----------------------------------------------------------------- methods: views

    @staticmethod
    def _view_arg(args: JSON, types: tuple[str, ...]) -> JSON:
        view = args.get("view")
        if not _given(view):
            raise _missing("view")
        if not isinstance(view, dict):
            raise _invalid_arguments("must provide an object [json-pointer:/view]")
        errors = _view_errors(view, types)
        if errors:
            raise _invalid_arguments(*errors)
        return view

    def _store_view(
        self, view: JSON, *, view_id: str | None = None, root_view_id: str | None = None
    ) -> JSON:
        view_id = view_id or self._new_id("V")
        external_id = view.get("external_id") or ""
        if external_id and any(
            v["external_id"] == external_id and v["id"] != view_id for v in self._views.values()
        ):
            raise _SlackError("duplicate_external_id")
        stored: JSON = {
            "type": view["type"],
            "title": None,
            "close": None,
            "submit": None,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
        }
        stored |= copy.deepcopy(view)
        stored |= {
            "id": view_id,
            "team_id": TEAM_ID,
            "external_id": external_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{self._new_id('h')}",
            "root_view_id": root_view_id or view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = stored
        return copy.deepcopy(stored)

    def _check_hash(self, args: JSON, current: JSON | None) -> None:
        expected = args.get("hash")
        if current is not None and _given(expected) and expected != current["hash"]:
            raise _SlackError("hash_conflict")

    def _views_open(self, args: JSON) -> JSON:
        self._required(args, "trigger_id")
        return {"view": self._store_view(self._view_arg(args, ("modal",)))}

    def _views_push(self, args: JSON) -> JSON:
        self._required(args, "trigger_id")
        return {"view": self._store_view(self._view_arg(args, ("modal",)))}

    def _views_update(self, args: JSON) -> JSON:
        view_id = str(args["view_id"]) if _given(args.get("view_id")) else None
        external_id = str(args["external_id"]) if _given(args.get("external_id")) else None
        if view_id is None and external_id is None:
            raise _invalid_arguments("either view_id or external_id is required")
        view = self._view_arg(args, ("modal", "home"))
        if view_id is not None:
            current = self._views.get(view_id)
        else:
            current = next(
                (v for v in self._views.values() if v["external_id"] == external_id), None
            )
        self._check_hash(args, current)
        if not view.get("external_id"):
            kept = current["external_id"] if current is not None else external_id
            view = {**view, "external_id": kept or ""}
        if current is None:
            # A view opened outside this fake, e.g. one named in a synthetic payload.
            return {"view": self._store_view(view, view_id=view_id)}
        stored = self._store_view(view, view_id=current["id"], root_view_id=current["root_view_id"])
        return {"view": stored}

    def _views_publish(self, args: JSON) -> JSON:
        user_id = self._required(args, "user_id")
        view = self._view_arg(args, ("home",))
        current = self._views.get(self._home_tabs.get(user_id, ""))
        self._check_hash(args, current)
        stored = self._store_view(view, view_id=current["id"] if current is not None else None)
        self._home_tabs[user_id] = stored["id"]
        return {"view": stored}

    # ----------------------------------------------------------------- methods: files

    def _files_get_upload_url_external(self, args: JSON) -> JSON:
        filename = self._required(args, "filename")
        try:
            length = int(self._required(args, "length"))
        except ValueError as exc:
            raise _invalid_arguments("length must be an integer") from exc
        file_id = self._new_id("F")
        self._files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "size": length,
            "content": None,
            "alt_txt": args.get("alt_txt"),
            "snippet_type": args.get("snippet_type"),
            "channels": [],
            "initial_comment": None,
            "thread_ts": None,
            "completed": False,
        }
        return {"upload_url": f"{self._root}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: JSON) -> JSON:
        raw = args.get("files")
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise _invalid_arguments("files must be a JSON array") from exc
        if not isinstance(items, list) or not items:
            raise _missing("files")
        if not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
            raise _invalid_arguments("every file needs an id [json-pointer:/files]")
        targets: list[str] = []
        if _given(args.get("channel_id")):
            targets.append(self._channel_arg(args, "channel_id"))
        for channel in str(args.get("channels") or "").split(","):
            if channel.strip():
                targets.append(self._channel_arg({"channel": channel.strip()}))
        if any(i["id"] not in self._files for i in items):
            raise _SlackError("file_not_found")
        for channel in targets:
            if (
                channel not in self._joined
                and channel in self.outside_channels | self.private_channels
            ):
                raise _SlackError("not_in_channel")
        completed = []
        for item in items:
            stored = self._files[item["id"]]
            stored["title"] = item.get("title") or stored["name"]
            stored["channels"] = targets
            stored["initial_comment"] = args.get("initial_comment")
            stored["thread_ts"] = args.get("thread_ts")
            stored["completed"] = True
            completed.append(self._file_object(stored))
        for channel in targets:
            self._share_files(channel, completed, args)
        return {"files": completed}

    def _share_files(self, channel: str, files: list[JSON], args: JSON) -> None:
        """Files shared to a channel show in its history as one message from the bot."""
        self._messages.setdefault(channel, []).append(
            {
                "type": "message",
                "subtype": None,
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "app_id": APP_ID,
                "team": TEAM_ID,
                "ts": self._next_ts(),
                "text": str(args.get("initial_comment") or ""),
                "blocks": [],
                "attachments": [],
                "metadata": None,
                "thread_ts": str(args["thread_ts"]) if _given(args.get("thread_ts")) else None,
                "files": copy.deepcopy(files),
                "upload": True,
            }
        )

    @staticmethod
    def _file_object(stored: JSON) -> JSON:
        file_id, name, content = stored["id"], stored["name"], stored["content"]
        path = quote(name)
        extension = name.rsplit(".", 1)[1].lower() if "." in name else "binary"
        return {
            "id": file_id,
            "created": 1_700_000_000,
            "timestamp": 1_700_000_000,
            "name": name,
            "title": stored["title"],
            "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "filetype": extension,
            "user": BOT_USER_ID,
            "user_team": TEAM_ID,
            "size": len(content) if content is not None else stored["size"],
            "url_private": f"https://files.fake.slack.com/files-pri/{TEAM_ID}-{file_id}/{path}",
            "permalink": f"{WORKSPACE_URL}files/{BOT_USER_ID}/{file_id}/{path}",
            "channels": list(stored["channels"]),
        }
