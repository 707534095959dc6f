"""Fake SurveyMonkey v3 and Qualtrics v3 APIs: the reads the survey adapters' fetch makes.

`FakePlatforms` serves on 127.0.0.1 (a free port), in a thread:

- SurveyMonkey `GET /v3/surveys/{sid}/details` and `/v3/surveys/{sid}/responses/{rid}/details`,
  bearer auth, errors shaped `{"error": {"id", "name", "message", "http_status_code"}}`;
- Qualtrics `GET /API/v3/surveys/{sid}/responses/{rid}`, `X-API-TOKEN` auth, answers shaped
  `{"result": ..., "meta": {"httpStatus": "200 - OK", ...}}` and errors `{"meta": {"httpStatus",
  "error": {"errorMessage", "errorCode"}}}`.

Tests register surveys and responses, inject outages (the next requests answer an error status,
possibly with `Retry-After`, drop the connection, or stall past the client's timeout) and count
the requests per path::

    fake.add_qualtrics_response("SV_1", "R_1", {"values": {"QID1": 3, "QID1_NPS_GROUP": 1}})
    fake.fail_next(1, status=503)
    answer = QUALTRICS.fetch(ref, client=client, api_url=fake.url, api_token=fake.qualtrics_token,
                             fields=FieldMap())
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

SURVEYMONKEY_TOKEN = "sm-test-token"
QUALTRICS_TOKEN = "qualtrics-test-token"

SM_SURVEY = re.compile(r"^/v3/surveys/([^/]+)/details$")
SM_RESPONSE = re.compile(r"^/v3/surveys/([^/]+)/responses/([^/]+)/details$")
Q_RESPONSE = re.compile(r"^/API/v3/surveys/([^/]+)/responses/([^/]+)$")

SM_ERRORS = {
    401: ("1011", "Authorization Error", "The authorization token provided was invalid."),
    404: ("1020", "Resource Not Found", "There was an error retrieving the requested resource."),
    405: ("1003", "Bad Request", "The method is not allowed for this resource."),
    429: ("1040", "Rate Limit Reached", "Too many requests were made, try again later."),
    500: ("1050", "Internal Server Error", "Oh bananas! We couldn't process your request."),
    503: ("1050", "Internal Server Error", "Oh bananas! We couldn't process your request."),
}
Q_ERRORS = {
    401: ("AUTH_6.0", "Invalid API token."),
    404: ("RDN_0.1", "Resource not found."),
    405: ("GS_1.0", "Method not allowed."),
    429: ("THRT_0.1", "Too many requests."),
    500: ("GS_0.0", "Internal server error."),
    503: ("GS_0.0", "Service temporarily unavailable."),
}


@dataclass(frozen=True)
class Outage:
    """What the next request gets instead of its answer."""

    kind: str  # "status", "drop" or "stall"
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0


class FakePlatforms:
    """A threaded HTTP server answering as SurveyMonkey v3 and Qualtrics v3 do."""

    def __init__(
        self,
        *,
        surveymonkey_token: str = SURVEYMONKEY_TOKEN,
        qualtrics_token: str = QUALTRICS_TOKEN,
    ) -> None:
        self.surveymonkey_token = surveymonkey_token
        self.qualtrics_token = qualtrics_token
        self.date: str | None = None  # the Date header to send; None sends the real time
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sm_surveys: dict[str, dict[str, Any]] = {}
        self._sm_responses: dict[tuple[str, str], dict[str, Any]] = {}
        self._q_responses: dict[tuple[str, str], dict[str, Any]] = {}
        self._outages: list[Outage] = []
        self._hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ------------------------------------------------------------------------------

    def add_surveymonkey_survey(self, survey_id: str, details: dict[str, Any]) -> None:
        """Serve a survey's details (pages, questions, choices)."""
        with self._lock:
            self._sm_surveys[survey_id] = copy.deepcopy(details)

    def add_surveymonkey_response(
        self, survey_id: str, response_id: str, details: dict[str, Any]
    ) -> None:
        """Serve a response's details."""
        with self._lock:
            self._sm_responses[(survey_id, response_id)] = copy.deepcopy(details)

    def add_qualtrics_response(
        self, survey_id: str, response_id: str, result: dict[str, Any]
    ) -> None:
        """Serve a response: `result` is what the API wraps in `{"result": ..., "meta": ...}`."""
        with self._lock:
            self._q_responses[(survey_id, response_id)] = copy.deepcopy(result)

    def fail_next(
        self, count: int = 1, *, status: int = 503, retry_after: str | None = None
    ) -> None:
        """The next `count` requests answer `status`, with `Retry-After` when given."""
        self._queue([Outage("status", status, retry_after)] * count)

    def drop_next(self, count: int = 1) -> None:
        """The next `count` requests have their connection closed without an answer."""
        self._queue([Outage("drop")] * count)

    def stall_next(self, count: int = 1, *, seconds: float = 2.0) -> None:
        """The next `count` requests wait `seconds` (past the client's timeout), then drop."""
        self._queue([Outage("stall", seconds=seconds)] * count)

    def _queue(self, outages: list[Outage]) -> None:
        with self._lock:
            self._outages.extend(outages)

    # -- observation -------------------------------------------------------------------------

    def hits(self, path: str) -> int:
        """How many requests arrived for the path, outages included."""
        with self._lock:
            return self._hits[path]

    @property
    def url(self) -> str:
        """The server's base URL; Qualtrics' `api_url`."""
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def surveymonkey_url(self) -> str:
        """SurveyMonkey's `api_url` (with `/v3`)."""
        return f"{self.url}/v3"

    # -- running -----------------------------------------------------------------------------

    def start(self) -> FakePlatforms:
        """Listen on a free port in a background thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled requests are released."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakePlatforms:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- answering ---------------------------------------------------------------------------

    def arrive(self, method: str, path: str, headers: dict[str, str]) -> Outage | None:
        """Count a request and take the outage due for it, if any."""
        with self._lock:
            self._hits[path] += 1
            self.requests.append((method, path, headers))
            return self._outages.pop(0) if self._outages else None

    def wait(self, seconds: float) -> None:
        """Stall, but no longer than until the server stops."""
        self._stopping.wait(seconds)

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        """The status and JSON body for a request that met no outage."""
        if path.startswith("/API/"):
            return self._qualtrics(method, path, headers)
        return self._surveymonkey(method, path, headers)

    def _surveymonkey(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        if method != "GET":
            return 405, sm_error(405)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token != self.surveymonkey_token:
            return 401, sm_error(401)
        with self._lock:
            if match := SM_RESPONSE.match(path):
                found = self._sm_responses.get((match[1], match[2]))
            elif match := SM_SURVEY.match(path):
                found = self._sm_surveys.get(match[1])
            else:
                found = None
        return (200, found) if found is not None else (404, sm_error(404))

    def _qualtrics(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        if method != "GET":
            return 405, qualtrics_error(405)
        if headers.get("x-api-token") != self.qualtrics_token:
            return 401, qualtrics_error(401)
        match = Q_RESPONSE.match(path)
        with self._lock:
            found = self._q_responses.get((match[1], match[2])) if match else None
        if found is None:
            return 404, qualtrics_error(404)
        return 200, {"result": found, "meta": {"httpStatus": "200 - OK", "requestId": _rid()}}


def sm_error(status: int) -> dict[str, Any]:
    """A SurveyMonkey error body."""
    code, name, message = SM_ERRORS.get(status, SM_ERRORS[500])
    return {"error": {"id": code, "name": name, "message": message, "http_status_code": status}}


def qualtrics_error(status: int) -> dict[str, Any]:
    """A Qualtrics error body."""
    code, message = Q_ERRORS.get(status, Q_ERRORS[500])
    phrase = HTTPStatus(status).phrase
    return {
        "meta": {
            "httpStatus": f"{status} - {phrase}",
            "error": {"errorMessage": message, "errorCode": code},
            "requestId": _rid(),
        }
    }


def _rid() -> str:
    return str(uuid.uuid4())


def _handler_for(fake: FakePlatforms) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            outage = fake.arrive(method, path, headers)
            if outage is not None and outage.kind in ("drop", "stall"):
                fake.wait(outage.seconds)
                self.close_connection = True
                return  # nothing written: the client sees the connection close
            if outage is not None:
                status = outage.status
                body = qualtrics_error(status) if path.startswith("/API/") else sm_error(status)
                self._send(status, body, outage.retry_after)
                return
            self._send(*fake.answer(method, path, headers))

        def _send(self, status: int, body: Any, retry_after: str | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return fake.date or super().date_time_string(timestamp)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_platforms() -> Iterator[FakePlatforms]:
    """A running FakePlatforms, stopped after the test."""
    with FakePlatforms() as fake:
        yield fake
