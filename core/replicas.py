"""The API's reads on a streaming replica, while it is close enough behind the primary.

With ``DATABASE_REPLICA_URL`` set, the database alias ``replica`` exists and
:class:`ReplicaRouter` sends every ORM read to the alias the current request was *pinned* to,
and every write to the primary (``default``). :class:`ReplicaMiddleware` pins each API request
to the replica while it is fresh, to the primary otherwise; admin, ``/readyz``'s own checks,
commands and the webhook worker are never pinned and read the primary. The token lookup reads
the primary too (tenants/authentication.py): a token revoked a moment ago must not be served
from a replica that has not replayed the revocation yet, and then cached.

**Fresh** means replayed to within ``DATABASE_REPLICA_MAX_LAG_SECONDS`` of the primary. A thread
in each server process asks, every ``DATABASE_REPLICA_CHECK_MS``, the primary where its WAL is
(``pg_current_wal_lsn()``) and the replica where its replay is (``pg_last_wal_replay_lsn()``),
and keeps the primary's positions of the last seconds with the time it saw each. The replica
holds the primary's state as of the newest of those positions it has replayed: its staleness is
at most the age of that sample, whatever the replica's clock says and however idle the primary
is (no timestamps of replayed transactions, which stop moving when nothing is written). A
replica that does not answer, is not in recovery, or whose check is itself older than the bound
is not fresh. When a read on the replica fails to connect, the replica is marked down at once;
the next check tells when it is back.

**Sync** (sync/clock.py): the horizon below which ``updated_since`` and ``/deletions`` may serve
changes is computed on the primary, whose lock table alone shows its running writers, together
with the primary's WAL insert position at that moment; a request pinned to the replica stays
there only if the replica has replayed past that position (:func:`require_replayed`), so every
change below the horizon is visible to it. Otherwise the request reads the primary. A lagging
replica can delay nothing and lose nothing.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from .errors import http_request_is_api

logger = logging.getLogger("api.replica")

REPLICA = "replica"

# The alias this request reads from; None outside requests: the primary.
_pinned: ContextVar[str | None] = ContextVar("read_alias", default=None)


def configured() -> bool:
    return REPLICA in settings.DATABASES


def current() -> str:
    """The alias the current request reads from."""
    return _pinned.get() or DEFAULT_DB_ALIAS


@contextmanager
def pinned(alias: str) -> Iterator[None]:
    """Reads inside go to ``alias`` (a streamed answer's later pages: the request's own)."""
    token = _pinned.set(alias)
    try:
        yield
    finally:
        _pinned.reset(token)


def staleness(samples: deque[tuple[float, int]], replayed: int, now: float) -> float:
    """Seconds the replica may be behind, at most: the age of the newest sample of the primary's
    WAL position that the replica has replayed (inf when it has replayed none of them)."""
    if samples and replayed >= samples[-1][1]:
        return 0.0
    for seen, position in reversed(samples):
        if position <= replayed:
            return now - seen
    return math.inf


@dataclass(frozen=True)
class _State:
    lag: float  # seconds, at most (inf: unknown or down)
    at: float  # time.monotonic() of the check


_DOWN = _State(math.inf, 0.0)


class Monitor:
    """Per server process: the replica's staleness, kept by a daemon thread (started on first
    use in each process, so gunicorn's forked workers each run their own)."""

    def __init__(self) -> None:
        self._state = _DOWN
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._wake = threading.Event()

    def fresh(self) -> bool:
        self._ensure_running()
        state = self._state
        # The replica was at most state.lag behind when checked, and may have fallen further
        # behind since: the check's age counts too (a stuck check ages into "not fresh").
        age = time.monotonic() - state.at
        return state.lag + age <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS

    def mark_down(self) -> None:
        self._state = _DOWN
        self._wake.set()

    def check(self) -> None:
        """One check: both servers asked, the staleness recomputed."""
        now = time.monotonic()
        try:
            position = _ask(DEFAULT_DB_ALIAS, "SELECT (pg_current_wal_lsn() - '0/0')::bigint")
        except Exception as error:
            # Nothing to compare with. The state is left to age: the replica was at most
            # state.lag behind when last compared, so it stays within the bound for what is
            # left of it (reads go on while the primary restarts), then is not fresh.
            logger.debug("replica check: the primary did not answer: %s", error)
            return
        keep = settings.DATABASE_REPLICA_MAX_LAG_SECONDS + 2
        self._samples.append((now, position))
        while self._samples and self._samples[0][0] < now - keep:
            self._samples.popleft()
        try:
            replayed = _ask(REPLICA, "SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint")
        except Exception as error:
            if self._state is not _DOWN:
                logger.warning("replica check: the replica did not answer: %s", error)
            self._state = _DOWN
            return
        if replayed is None:  # not in recovery: not a replica (promoted, or misconfigured)
            if self._state is not _DOWN:
                logger.warning("replica check: the replica is not in recovery")
            self._state = _DOWN
            return
        was_fresh = self._state.lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        self._state = _State(staleness(self._samples, replayed, now), now)
        is_fresh = self._state.lag <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        if was_fresh != is_fresh:
            what = "fresh again: reads go to it" if is_fresh else "behind: reads go to the primary"
            logger.warning("replica %s", what)

    def _ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._state = _DOWN  # a forked child starts knowing nothing
            self._samples.clear()
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="replica-monitor", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # never let the thread die: the state would freeze as it is
                logger.exception("replica check failed")
                self._state = _DOWN
            self._wake.wait(settings.DATABASE_REPLICA_CHECK_SECONDS)
            self._wake.clear()


def _ask(alias: str, sql: str):
    """One value, on this thread's own connection to ``alias`` (closed when it fails, reopened
    when next asked for)."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    except Exception:
        connection.close()
        raise


monitor = Monitor()


def choose() -> str:
    return REPLICA if configured() and monitor.fresh() else DEFAULT_DB_ALIAS


def require_replayed(position: int) -> None:
    """Keeps the current request on the replica only if it has replayed the primary's WAL up to
    ``position``; else moves its reads to the primary (sync reads: see the module's doc)."""
    if current() != REPLICA:
        return
    replayed = _ask(REPLICA, "SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint")
    if replayed is None or replayed < position:
        _pinned.set(DEFAULT_DB_ALIAS)


def failed(alias: str) -> None:
    """A read on ``alias`` could not reach its server."""
    if alias == REPLICA:
        monitor.mark_down()


class ReplicaRouter:
    """Reads where the request is pinned (the primary outside requests); writes, migrations and
    relations on the primary."""

    def db_for_read(self, model, **hints) -> str:
        return _pinned.get() or DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Pins each API request to the replica while it is fresh (admin reads the primary: an
    operator must see what was just saved)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not configured() or not http_request_is_api(request):
            return self.get_response(request)
        token = _pinned.set(choose())
        try:
            return self.get_response(request)
        finally:
            _pinned.reset(token)
