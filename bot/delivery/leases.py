"""Who holds an outbox row: a worker's name, whether its process is gone, and its heartbeat.

A name is `host/pid/nonce`, the host naming its process-id namespace too (containers sharing a
hostname do not share pids). A row held by a process on this host that no longer runs (or by an
earlier run of this very pid) is taken over at once; a row held elsewhere is taken over when its
short lease, renewed by the heartbeat while its worker lives, runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage import outbox as store

log = logging.getLogger(__name__)


def _host() -> str:
    """This host, and on Linux its process-id namespace: pids are only comparable within one."""
    host = socket.gethostname()[:60].replace("/", "_")
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        return host
    return f"{host}~{namespace.removeprefix('pid:[').rstrip(']')}"


def worker_name() -> str:
    """A name for this process's worker, unique across restarts."""
    return f"{_host()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def is_dead(owner: str, me: str) -> bool:
    """True when `owner` is certainly gone: same host, and its process no longer runs."""
    host, _, rest = owner.partition("/")
    pid_text, _, nonce = rest.partition("/")
    my_host, _, my_rest = me.partition("/")
    my_pid, _, my_nonce = my_rest.partition("/")
    if host != my_host or not pid_text.isdigit() or owner == me:
        return False
    if pid_text == my_pid:
        return nonce != my_nonce  # an earlier run with the same pid (a restarted container)
    return not _alive(int(pid_text))


class Heartbeat:
    """A thread that renews the leases of the rows a worker holds, while it holds any."""

    def __init__(
        self,
        engine: sa.Engine,
        owner: str,
        *,
        lease: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self._holding = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self) -> None:
        with self._lock:
            self._holding += 1

    def drop(self) -> None:
        with self._lock:
            self._holding = max(0, self._holding - 1)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="outbox-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _beat(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            if not self._holding:
                continue
            try:
                store.renew(self.engine, owner=self.owner, now=self.clock(), lease=self.lease)
            except Exception as exc:  # the database is away; the lease may lapse, that is safe
                log.warning("outbox.heartbeat_failed error=%s", type(exc).__name__)
