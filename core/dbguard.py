"""A deadline on every database call a request makes, kept from outside the waiting thread, and
a circuit breaker that stops requests from waiting on a database that does not answer.

``statement_timeout`` is enforced by the server: when the server itself hangs (a proxy or a host
that takes the bytes and never answers), nothing answers and the request would wait forever,
its worker thread with it, until every thread is stuck and even requests that need no database
time out. Here a watchdog thread shuts down the socket of a call that has run past
``API_DB_CALL_DEADLINE_SECONDS``: the waiting thread wakes with "connection closed", which the
middleware answers as a 503 ``unavailable``, and the connection is discarded (the next request
opens a new one).

The watchdog holds a descriptor of its own for each socket it watches, and cuts only under the
lock that ends a call: a call that has ended is never cut, so neither is the connection's next
call, nor whatever socket reuses the number of a descriptor its owner closed.

Each cut, and each connection a request fails to open, counts against the database's circuit
breaker: ``API_DB_BREAKER_FAILURES`` of them within ``API_DB_BREAKER_WINDOW_SECONDS`` open it,
and for ``API_DB_BREAKER_OPEN_SECONDS`` requests that need the database are answered 503 at once
(with ``Retry-After``) instead of each holding a worker thread for the deadline. Then one request
at a time tries the database; its success closes the breaker. Per process.

PostgreSQL only (SQLite has no socket and no server to hang). Requests only: a command's import
may rightly run one statement for minutes, and ``/readyz`` must ask the database itself.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
)
from django.http import HttpRequest, HttpResponse

from . import replicas
from .breaker import CircuitBreaker
from .errors import DatabaseUnavailable
from .observability import DATABASE_BREAKER_OPEN

logger = logging.getLogger("api.db")
CHECK_INTERVAL_SECONDS = 0.25


class DatabaseCallCut(OperationalError):
    """A call the watchdog cut at its deadline; its connection has been closed."""


@dataclass
class _Call:
    deadline: float
    fd: int  # the watchdog's own duplicate of the connection's socket
    cut: bool = False


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, fd: int, seconds: float) -> int | None:
        """Starts watching a call on this socket; None if the socket is already gone."""
        try:
            # A descriptor of our own: the socket stays this one until unwatch, whatever its
            # owner closes meanwhile, and the number cannot be reused for another socket.
            own = os.dup(fd)
        except OSError:
            return None
        key = next(self._keys)
        with self._lock:
            self._calls[key] = _Call(time.monotonic() + seconds, own)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
        return key

    def unwatch(self, key: int) -> bool:
        """Ends a call; True if the watchdog cut it (its connection must then be discarded)."""
        with self._lock:
            call = self._calls.pop(key)
        os.close(call.fd)
        return call.cut

    def sweep(self, now: float) -> int:
        """Cuts the calls past their deadline; how many. Under the lock unwatch takes: a call
        still here has not ended, so its socket is still its own."""
        cut = 0
        with self._lock:
            for call in self._calls.values():
                if not call.cut and call.deadline <= now:
                    call.cut = True
                    _cut(call.fd)
                    cut += 1
        return cut

    def _run(self) -> None:
        while True:
            time.sleep(CHECK_INTERVAL_SECONDS)
            cut = self.sweep(time.monotonic())
            if cut:
                logger.error(
                    "%d database call(s) past their deadline: connection cut, request answered 503",
                    cut,
                )


def _cut(fd: int) -> None:
    """Shuts the socket down under the thread waiting on it, through the watchdog's own
    descriptor (which stays open: unwatch closes it)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already shut down or reset by the peer
    finally:
        sock.detach()


watchdog = _Watchdog()

breaker = CircuitBreaker(
    failures=lambda: settings.API_DB_BREAKER_FAILURES,
    window_seconds=lambda: settings.API_DB_BREAKER_WINDOW_SECONDS,
    open_seconds=lambda: settings.API_DB_BREAKER_OPEN_SECONDS,
    single_probe=True,
    # A probe may wait a whole deadline on each of its calls; past this, another request may
    # probe (the middleware frees the slot when the probe's request ends, this is a backstop).
    probe_seconds=lambda: 2 * max(settings.API_DB_CALL_DEADLINE_SECONDS, 30),
)


@dataclass
class _Request:
    breaker: bool  # the breaker is on (API_DB_BREAKER_FAILURES > 0)
    probe: bool = False  # this request is the breaker's probe: its calls go through


_request: ContextVar[_Request | None] = ContextVar("dbguard_request", default=None)


def _admit() -> None:
    """Refuses a request's database work while the breaker is open (DatabaseUnavailable, a 503
    with Retry-After); lets one request through as the probe when it is half-open."""
    request = _request.get()
    if request is None or not request.breaker or request.probe:
        return
    admission = breaker.admit()
    if admission is None:
        raise DatabaseUnavailable(breaker.retry_after())
    if admission == "probe":
        request.probe = True
        logger.info("database circuit breaker half-open: this request tries the database")


def _failed(what: str) -> None:
    request = _request.get()
    if request is None or not request.breaker:
        return
    request.probe = False  # a failed probe reopened the breaker: its next calls are refused
    if breaker.failed():
        DATABASE_BREAKER_OPEN.set(1)
        logger.error(
            "database circuit breaker open after %s: requests that need the database are "
            "answered 503 for %s s, then one at a time tries it",
            what,
            settings.API_DB_BREAKER_OPEN_SECONDS,
        )


def _answered() -> None:
    request = _request.get()
    if request is not None and request.breaker and breaker.succeeded():
        request.probe = False
        DATABASE_BREAKER_OPEN.set(0)
        logger.warning("database circuit breaker closed: the database answers again")


def _is_primary(db) -> bool:
    return getattr(db, "alias", DEFAULT_DB_ALIAS) == DEFAULT_DB_ALIAS


def _discard(db) -> None:
    """A cut connection is closed now: its socket is shut down, and a call that returned just
    as it was cut must not be followed by another on it."""
    try:
        db.close()
    except Exception:  # closing a dead connection may complain; it is closed all the same
        logger.debug("closing a cut connection", exc_info=True)
    if _is_primary(db):
        _failed("a database call was cut at its deadline")
    else:  # the replica: its reads go to the primary until it answers again
        replicas.failed(db.alias)


def _cut_error() -> DatabaseCallCut:
    return DatabaseCallCut(
        f"database call cut after {settings.API_DB_CALL_DEADLINE_SECONDS} s: the connection "
        "was closed"
    )


def _deadline(execute, sql, params, many, context):
    _admit()
    db = context["connection"]
    seconds = settings.API_DB_CALL_DEADLINE_SECONDS
    key = None
    if seconds > 0:
        try:
            fd = db.connection.fileno()
        except Exception:  # no socket: the call fails at once, nothing to watch
            fd = None
        if fd is not None:
            key = watchdog.watch(fd, seconds)
    cut = False
    try:
        try:
            result = execute(sql, params, many, context)
        finally:
            cut = key is not None and watchdog.unwatch(key)
    except Exception as error:
        if cut:
            _discard(db)
            raise _cut_error() from error
        if not _is_primary(db) and isinstance(error, OperationalError | InterfaceError):
            replicas.failed(db.alias)
        elif (
            isinstance(error, DatabaseError)
            and not isinstance(error, OperationalError | InterfaceError)
            and _is_primary(db)
        ):
            _answered()  # an error the server sent (a constraint, a syntax error): it answers
        raise
    if cut:
        _discard(db)
        raise _cut_error()
    if _is_primary(db):  # the breaker is the primary's
        _answered()
    return result


def guarded_connect(connect: Callable[[], None], alias: str = DEFAULT_DB_ALIAS) -> None:
    """Opens a connection for a request through the breaker (core.postgresql's backend calls
    this): refused while it is open; a failure to connect counts against it. A replica's is
    not the breaker's: a failure marks the replica down, and reads go to the primary."""
    if _request.get() is None:
        connect()
        return
    if alias != DEFAULT_DB_ALIAS:
        try:
            connect()
        except OperationalError:
            replicas.failed(alias)
            raise
        return
    _admit()
    try:
        connect()
    except OperationalError:
        _failed("failing to connect to the database")
        raise
    _answered()


def guarded_health_check(db, check: Callable[[], None]) -> None:
    """Django's health check of a kept connection (DATABASE_CONN_HEALTH_CHECKS) is a query too:
    through the breaker, and under the deadline (a cut check closes the connection)."""
    seconds = settings.API_DB_CALL_DEADLINE_SECONDS
    if _request.get() is None or seconds <= 0:
        check()
        return
    _admit()
    try:
        key = watchdog.watch(db.connection.fileno(), seconds)
    except Exception:
        key = None
    try:
        check()
    finally:
        if key is not None and watchdog.unwatch(key):
            _discard(db)


@contextmanager
def guarded() -> Iterator[None]:
    """The database work inside runs as a request's does: each call under the deadline, through
    the breaker, and so is a connection opened meanwhile. The middleware puts every request's
    view inside one; a streamed answer (core/export.py) puts each query it runs after the view
    returned inside another, since the request's guard has ended by then."""
    if connection.vendor != "postgresql":
        yield
        return
    state = _Request(breaker=settings.API_DB_BREAKER_FAILURES > 0)
    if not state.breaker and settings.API_DB_CALL_DEADLINE_SECONDS <= 0:
        yield
        return
    token = _request.set(state)
    try:
        with ExitStack() as wrappers:
            wrappers.enter_context(connection.execute_wrapper(_deadline))
            if replicas.configured():
                wrappers.enter_context(connections[replicas.REPLICA].execute_wrapper(_deadline))
            yield
    finally:
        _request.reset(token)
        if state.probe:
            breaker.release_probe()  # a no-op if the probe closed or reopened the breaker


class DatabaseDeadlineMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with guarded():
            return self.get_response(request)
