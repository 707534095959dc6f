"""A stand-in Slack Web API for benchmarks, used when `tests.fake_slack` is not available."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class StandInSlack:
    """A threaded HTTP server answering every `POST /api/<method>` with a successful reply."""

    def __init__(self) -> None:
        self.url = ""
        self._calls: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def calls_to(self, method: str) -> list[bytes]:
        """The raw request bodies received for a Web API method, in arrival order."""
        with self._lock:
            return [body for name, body in self._calls if name == method]

    def _record(self, method: str, body: bytes) -> dict[str, Any]:
        with self._lock:
            self._calls.append((method, body))
            ts = next(self._ts)
        return {"ok": True, "ts": f"1700000000.{ts:06d}", "channel": "C1", "user_id": "UBOT"}

    def __enter__(self) -> StandInSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                method = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
                reply = json.dumps(fake._record(method, body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
