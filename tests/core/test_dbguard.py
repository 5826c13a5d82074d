"""The database watchdog (core/dbguard.py) cuts only a call that is still running past its
deadline: never the next call on the same connection, never a descriptor its owner closed and
the process reused for another socket (another connection, Redis, a client).

Found by a review (#20, item 9): the watchdog picked the expired calls under its lock and shut
their sockets down after releasing it; in between, the call could finish, and its descriptor be
closed and reused, or the connection's next call start. These tests widen that window on purpose
(a slow ``_cut``) and race hundreds of calls against their deadline."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from core import dbguard
from core.errors import DatabaseUnavailable
from core.middleware import ApiEnvelopeMiddleware

DEADLINE = 0.002
ITERATIONS = 400


def _shut_down(sock: socket.socket) -> bool:
    """Whether the socket was shut down (reads end at once) rather than open and idle."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


class _SlowCut:
    """Wraps ``dbguard._cut``: each cut waits until the test says the descriptor was reused
    (or 10 ms), so that a watchdog that cuts after releasing its lock cuts the wrong socket."""

    def __init__(self, original) -> None:
        self.original = original
        self.reused = threading.Event()
        self._lock = threading.Lock()
        self.running = 0
        self.calls = 0

    def __call__(self, fd: int) -> None:
        with self._lock:
            self.running += 1
            self.calls += 1
        try:
            self.reused.wait(0.01)
            self.original(fd)
        finally:
            with self._lock:
                self.running -= 1

    def settle(self) -> None:
        """Until no cut is under way and the watchdog has swept twice more."""
        deadline = time.monotonic() + 2
        while self.running and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(3 * dbguard.CHECK_INTERVAL_SECONDS)
        assert not self.running


@pytest.fixture
def racing_watchdog(monkeypatch):
    monkeypatch.setattr(dbguard, "CHECK_INTERVAL_SECONDS", 0.0005)
    slow = _SlowCut(dbguard._cut)
    monkeypatch.setattr(dbguard, "_cut", slow)
    return dbguard._Watchdog(), slow


def test_only_a_call_still_running_past_its_deadline_is_ever_cut(racing_watchdog):
    watchdog, slow = racing_watchdog
    rng = random.Random(20)
    cut = kept = reused = 0
    for n in range(ITERATIONS):
        slow.reused.clear()
        conn, server = socket.socketpair()
        fd = conn.fileno()
        started = time.monotonic()
        key = watchdog.watch(fd, DEADLINE)
        time.sleep(rng.uniform(0, 2 * DEADLINE))  # the call, ending about its deadline
        was_cut = watchdog.unwatch(key)
        ended = time.monotonic()
        if was_cut:
            cut += 1
            assert ended - started >= DEADLINE, "a call cut before its deadline"
            assert _shut_down(conn), "unwatch said cut, but the socket is open"
        else:
            kept += 1
            if n % 2 == 0:
                # The owner goes on: the connection's next call, with a deadline far away.
                key = watchdog.watch(fd, 60)
                slow.settle()
                assert not _shut_down(conn), f"iteration {n}: the next call was cut"
                assert not watchdog.unwatch(key)
            else:
                assert not _shut_down(conn), f"iteration {n}: a call ended in time was cut"
        # The owner closes the connection; the process reuses the descriptor at once.
        conn.close()
        server.close()
        other, peer = socket.socketpair()
        try:
            reused += other.fileno() == fd
            slow.reused.set()
            slow.settle()
            assert not _shut_down(other), f"iteration {n}: a reused descriptor was cut"
            peer.sendall(b"x")
            assert other.recv(1) == b"x"
        finally:
            other.close()
            peer.close()
    # The race was run both ways, many times, on reused descriptors.
    assert cut >= ITERATIONS // 10 and kept >= ITERATIONS // 10, (cut, kept)
    assert reused >= ITERATIONS // 2, reused
    assert slow.calls == cut


def test_a_late_call_is_refused_and_its_connection_discarded(monkeypatch, settings):
    """A call that returns after the watchdog cut its socket is an error (a 503), even with a
    result in hand, and its connection is closed: the next request opens a new one instead of
    failing on, or worse going on with, a socket that was shut down."""
    monkeypatch.setattr(dbguard, "CHECK_INTERVAL_SECONDS", 0.001)
    monkeypatch.setattr(dbguard, "watchdog", dbguard._Watchdog())
    settings.API_DB_CALL_DEADLINE_SECONDS = 0.01
    conn, server = socket.socketpair()

    class Raw:
        def fileno(self) -> int:
            return conn.fileno()

    class Wrapper:
        connection = Raw()
        closed = False

        def close(self) -> None:
            self.closed = True

    def late(sql, params, many, context):
        time.sleep(0.05)  # past the deadline, then the result arrives anyway
        return "rows"

    def in_time(sql, params, many, context):
        return "rows"

    db = Wrapper()
    try:
        with pytest.raises(OperationalError):
            dbguard._deadline(late, "SELECT 1", None, False, {"connection": db})
        assert db.closed and _shut_down(conn)
        fresh = Wrapper()
        fresh_conn, fresh_server = socket.socketpair()
        Raw.fileno = lambda self: fresh_conn.fileno()
        try:
            assert dbguard._deadline(in_time, "SELECT 1", None, False, {"connection": fresh})
            assert not fresh.closed and not _shut_down(fresh_conn)
        finally:
            fresh_conn.close()
            fresh_server.close()
    finally:
        conn.close()
        server.close()


def test_a_breaker_refusal_is_a_503_in_the_envelope_with_its_retry_after(rf, caplog):
    """Through the one place every database outage becomes a 503 (core/middleware.py): the
    envelope, Retry-After from the breaker, counted with the database errors; logged when the
    breaker opens and closes, not once per refused request."""

    def sample() -> float:
        return REGISTRY.get_sample_value("api_database_errors_total") or 0.0

    middleware = ApiEnvelopeMiddleware(lambda request: None)
    before = sample()
    with caplog.at_level(logging.INFO, logger="api"):
        response = middleware.process_exception(rf.get("/api/v1/sessions"), DatabaseUnavailable(7))
    assert response.status_code == 503 and response["Retry-After"] == "7"
    body = json.loads(response.content)
    assert body["ok"] is False and body["code"] == "unavailable" and "request_id" in body["details"]
    assert sample() == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]
