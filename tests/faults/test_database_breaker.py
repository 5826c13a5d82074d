"""The database's circuit breaker (core/dbguard.py) against PostgreSQL behind the fault proxy.

Found by a review (#20, item 10): with PostgreSQL accepting and never answering, more requests
than the server has threads each held a thread for the whole deadline, wave after wave, and
/healthz waited behind them. Now the calls cut at the deadline (or connections that fail to
open) open the breaker, and the requests after them are answered 503 at once."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from prometheus_client import REGISTRY

from core import dbguard
from core.errors import DatabaseUnavailable
from tenants.services import token_create
from tests.faults.proxy import fault_proxy
from tests.live import get, gunicorn, server_env

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a database server: PostgreSQL"
)


@pytest.fixture(autouse=True)
def _closed_breaker():
    dbguard.breaker.reset()
    yield
    dbguard.breaker.reset()


@contextlib.contextmanager
def _in_a_request():
    """What DatabaseDeadlineMiddleware sets up around a request."""
    token = dbguard._request.set(dbguard._Request(breaker=True))
    try:
        yield
    finally:
        dbguard._request.reset(token)


def _behind(proxy, **overrides):
    params = {**connection.settings_dict, "PORT": proxy.port, "CONN_MAX_AGE": 0, **overrides}
    return connections["default"].__class__(params)


def _through(port: int) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@127.0.0.1:{port}/{settings['NAME']}"


@pytest.mark.django_db
def test_connections_that_fail_to_open_open_the_breaker_then_none_is_tried(settings):
    settings.API_DB_BREAKER_FAILURES = 3
    settings.API_DB_BREAKER_WINDOW_SECONDS = 30
    settings.API_DB_BREAKER_OPEN_SECONDS = 5
    with fault_proxy(5432) as proxy, _in_a_request():
        db = _behind(proxy)
        try:
            proxy.set("refuse")
            for _ in range(3):
                with pytest.raises(OperationalError) as refused:
                    db.ensure_connection()
                assert not isinstance(refused.value, DatabaseUnavailable)
            assert dbguard.breaker.state == "open"
            # Open: not even tried. A hung server would cost connect_timeout; this is at once.
            proxy.set("hang")
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable) as unavailable:
                db.ensure_connection()
            assert time.monotonic() - started < 0.1
            assert unavailable.value.retry_after == 5
            assert db.connection is None
            # Half-open, the database back: the probe connects and closes the breaker.
            proxy.set("pass")
            dbguard.breaker.open_until = time.monotonic()
            db.ensure_connection()
            assert dbguard.breaker.state == "closed"
        finally:
            db.close()


@pytest.mark.django_db
def test_outside_requests_the_breaker_neither_refuses_nor_counts(settings):
    """Commands (a long import) and /readyz's own checks ask the database themselves."""
    settings.API_DB_BREAKER_FAILURES = 1
    with fault_proxy(5432) as proxy:
        db = _behind(proxy)
        proxy.set("refuse")
        with pytest.raises(OperationalError):
            db.ensure_connection()
        assert dbguard.breaker.state == "closed"
        for _ in range(3):
            dbguard.breaker.failed()
        proxy.set("pass")
        try:
            db.ensure_connection()  # open, yet a command still connects
        finally:
            db.close()


@pytest.mark.django_db
def test_an_open_breaker_answers_503_at_once_and_a_probe_closes_it(client_for, tenant, settings):
    api = client_for(tenant, scopes=["sessions:read"])
    assert api.get("/api/v1/sessions").status_code == 200
    for _ in range(settings.API_DB_BREAKER_FAILURES):
        dbguard.breaker.failed()
    before = REGISTRY.get_sample_value("api_database_errors_total") or 0.0
    response = api.get("/api/v1/sessions")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["code"] == "unavailable"
    assert body["details"]["request_id"] == response["X-Request-ID"]
    assert response["Retry-After"] == str(settings.API_DB_BREAKER_OPEN_SECONDS)
    assert REGISTRY.get_sample_value("api_database_errors_total") == before + 1
    assert Client().get("/healthz").status_code == 200  # needs no database
    # Half-open: the next request is the probe; the database answers; closed for everyone.
    dbguard.breaker.open_until = time.monotonic()
    assert api.get("/api/v1/sessions").status_code == 200
    assert dbguard.breaker.state == "closed"


@pytest.mark.django_db
def test_a_health_check_on_a_hung_database_is_cut_at_the_deadline(settings):
    """DATABASE_CONN_HEALTH_CHECKS' query is a call like any other: cut at the deadline (it
    waited for tcp_user_timeout, 30 s, before), its connection closed, counted."""
    settings.API_DB_CALL_DEADLINE_SECONDS = 1
    settings.API_DB_BREAKER_FAILURES = 1
    with fault_proxy(5432) as proxy:
        db = _behind(proxy, CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
        guard = threading.Timer(0, lambda: None)
        try:
            db.ensure_connection()
            db.health_check_done = False  # a new request on a kept connection
            proxy.set("hang")
            guard = threading.Timer(5, proxy.set, ["refuse"])  # should the watchdog fail
            guard.start()
            started = time.monotonic()
            with _in_a_request():
                db.close_if_health_check_failed()
            assert 0.9 < time.monotonic() - started < 2
            assert db.connection is None
            assert dbguard.breaker.state == "open"
        finally:
            guard.cancel()
            db.close()


DEADLINE = 2  # API_DB_CALL_DEADLINE_SECONDS for this server (12 by default)
OPEN = 3  # API_DB_BREAKER_OPEN_SECONDS
WORKERS, THREADS = 2, 2
BURST = 16  # concurrent requests: four times the server's threads


def _breakers_open(base: str) -> dict[str, float]:
    """api_database_breaker_open of each live server process, by pid."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'^api_database_breaker_open\{pid="(\d+)"\} (\S+)$', text, re.M)
    return {pid: float(value) for pid, value in found}


@pytest.mark.django_db(transaction=True)
def test_a_hung_database_opens_the_breaker_and_healthz_stays_fast(tenant):
    _token, raw = token_create(tenant=tenant, name="faults", scopes=["sessions:read"])
    auth = {"Authorization": f"Bearer {raw}"}
    with fault_proxy(5432) as proxy:
        env = server_env(
            DATABASE_URL=_through(proxy.port),
            API_DB_CALL_DEADLINE_SECONDS=str(DEADLINE),
            DATABASE_STATEMENT_TIMEOUT_MS="1500",
            DATABASE_CONNECT_TIMEOUT="2",
            DATABASE_CONN_MAX_AGE="60",
            GUNICORN_THREADS=str(THREADS),
            API_DB_BREAKER_FAILURES="2",
            API_DB_BREAKER_WINDOW_SECONDS="30",
            API_DB_BREAKER_OPEN_SECONDS=str(OPEN),
            # No access lines: nothing reads the server's stderr while it runs (tests/live.py),
            # and hundreds of requests would fill the pipe and block every thread that logs.
            LOG_LEVEL="WARNING",
        )
        with gunicorn(env, workers=WORKERS) as base, ThreadPoolExecutor(BURST) as pool:
            url = f"{base}/api/v1/sessions"

            def call(_n: int = 0) -> tuple[int, dict, dict, float]:
                sent = time.monotonic()
                status, headers, body = get(url, auth)
                return status, headers, body, time.monotonic() - sent

            def burst(n: int) -> list[tuple]:
                return list(pool.map(call, range(n)))

            def refused(results: list[tuple]) -> bool:
                return all(
                    status == 503 and body["code"] == "unavailable" and int(headers["Retry-After"])
                    for status, headers, body, _ in results
                )

            assert {r[0] for r in burst(8)} == {200}  # connected, connections kept
            assert _breakers_open(base).values() and not any(_breakers_open(base).values())

            health: list[tuple[float, float, int]] = []
            stop = threading.Event()

            def watch_health() -> None:
                while not stop.is_set():
                    sent = time.monotonic()
                    try:
                        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
                            status = response.status
                    except Exception:
                        status = 0
                    health.append((sent, time.monotonic() - sent, status))
                    stop.wait(0.1)

            watcher = threading.Thread(target=watch_health)
            watcher.start()
            try:
                time.sleep(0.5)
                proxy.set("hang")
                hung_at = time.monotonic()

                # Wave one: the threads meet the hang and are cut at the deadline (or fail to
                # connect); those failures open the breaker of the process, and the requests
                # queued behind them are refused at once. Without the breaker each round of
                # four would wait the deadline again: 16 requests, 4 x 2 s.
                first = burst(BURST)
                assert refused(first), first
                assert time.monotonic() - hung_at < 2 * DEADLINE + 1.5
                # Each process opens its own breaker after its own failures: one that received
                # too few of those requests opens on the next ones (a deadline more).
                while not all(_breakers_open(base).values()):
                    assert time.monotonic() - hung_at < 5 * DEADLINE, _breakers_open(base)
                    assert refused(burst(BURST // 2))
                all_open = time.monotonic()

                # Open: the database is not asked; half-open: one probe per process waits on
                # it (one thread of two), the others are refused at once.
                second = burst(BURST)
                assert refused(second), second
                assert sum(r[3] >= 1 for r in second) <= WORKERS, [round(r[3], 2) for r in second]
                time.sleep(max(0.0, all_open + OPEN + 0.5 - time.monotonic()))
                third = burst(BURST // 2)
                assert refused(third), third
                assert sum(r[3] >= 1 for r in third) <= WORKERS, [round(r[3], 2) for r in third]

                # The database answers again: each process is back on its first request after
                # its open period (the probe), at most a period and a deadline later.
                proxy.set("pass")
                passed_at = time.monotonic()
                while True:
                    answered = {r[0] for r in burst(BURST // 2)}
                    if answered == {200} and not any(_breakers_open(base).values()):
                        break
                    assert time.monotonic() - passed_at < OPEN + DEADLINE + 3, "no recovery"
                    time.sleep(0.2)
                recovered = time.monotonic()
            finally:
                stop.set()
                watcher.join(15)

            assert health and all(status == 200 for _, _, status in health), health
            # Until a process's breaker opens, its threads can all be waiting on the database:
            # /healthz may wait up to the deadline then, never longer. Once open, < 1 s.
            assert all(elapsed < DEADLINE + 1 for _, elapsed, _ in health), health
            after = [e for sent, e, _ in health if all_open <= sent <= recovered]
            assert len(after) >= 20 and max(after) < 1, after
