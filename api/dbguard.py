"""A deadline on every database call a request makes, kept from outside the waiting thread.

``statement_timeout`` is enforced by the server: when the server itself hangs (a proxy or a host
that takes the bytes and never answers), nothing answers and the request would wait forever,
its worker thread with it, until every thread is stuck and even requests that need no database
time out. Here a watchdog thread shuts down the socket of a call that has run past
``API_DB_CALL_DEADLINE_SECONDS``: the waiting thread wakes with "connection closed", which the
middleware answers as a 503 ``unavailable``, and Django drops the broken connection.

PostgreSQL only (SQLite has no socket and no server to hang). Requests only: a command's import
may rightly run one statement for minutes.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("api.db")
CHECK_INTERVAL_SECONDS = 0.25


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, tuple[float, int]] = {}  # key -> (deadline, socket fd)
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, fd: int, seconds: float) -> int:
        key = next(self._keys)
        with self._lock:
            self._calls[key] = (time.monotonic() + seconds, fd)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
        return key

    def unwatch(self, key: int) -> None:
        with self._lock:
            self._calls.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(CHECK_INTERVAL_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [(k, fd) for k, (deadline, fd) in self._calls.items() if deadline <= now]
                for key, _fd in expired:
                    del self._calls[key]
            for _key, fd in expired:
                _cut(fd)


def _cut(fd: int) -> None:
    """Shut the socket down under the thread waiting on it (a duplicate of its descriptor, so
    the connection's own descriptor stays valid until its owner closes it)."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return  # already closed by its owner
    try:
        sock.shutdown(socket.SHUT_RDWR)
        logger.error("database call past its deadline: connection cut, request answered 503")
    except OSError:
        pass
    finally:
        sock.close()


watchdog = _Watchdog()


def _deadline(execute, sql, params, many, context):
    raw = context["connection"].connection
    key = watchdog.watch(raw.fileno(), settings.API_DB_CALL_DEADLINE_SECONDS)
    try:
        return execute(sql, params, many, context)
    finally:
        watchdog.unwatch(key)


class DatabaseDeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if connection.vendor != "postgresql" or settings.API_DB_CALL_DEADLINE_SECONDS <= 0:
            return self.get_response(request)
        with connection.execute_wrapper(_deadline):
            return self.get_response(request)
