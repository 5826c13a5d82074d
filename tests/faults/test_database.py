"""PostgreSQL that hangs (takes the bytes, never answers) behind the fault proxy, with a real
gunicorn in front: API requests are answered 503 within their bound, requests that need no
database keep being answered, and the server recovers when the database does."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from django.db import OperationalError, connection, connections

from core import dbguard
from tenants.services import token_create
from tests.faults.proxy import fault_proxy
from tests.live import get, gunicorn, server_env

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a database server: PostgreSQL"),
]

DEADLINE = 3  # API_DB_CALL_DEADLINE_SECONDS for this server (12 by default)


def _through(port: int) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@127.0.0.1:{port}/{settings['NAME']}"


@pytest.mark.parametrize("conn_max_age", ["0", "60"])
def test_a_hung_database_is_a_503_in_bounded_time_and_the_server_keeps_answering(
    tenant, conn_max_age
):
    """A request meets the hang on a kept connection (the watchdog cuts it at the deadline) or
    on a new one (connect_timeout): either way a 503 within the bound."""
    _token, raw = token_create(tenant=tenant, name="faults", scopes=["sessions:read"])
    auth = {"Authorization": f"Bearer {raw}"}
    with fault_proxy(5432) as proxy:
        env = server_env(
            DATABASE_URL=_through(proxy.port),
            API_DB_CALL_DEADLINE_SECONDS=str(DEADLINE),
            DATABASE_STATEMENT_TIMEOUT_MS="2000",
            GUNICORN_THREADS="4",
            DATABASE_CONN_MAX_AGE=conn_max_age,
            DATABASE_CONNECT_TIMEOUT="2",
        )
        with gunicorn(env) as base:
            assert get(f"{base}/api/v1/sessions", auth)[0] == 200  # connected and kept
            proxy.set("hang")
            results: dict[str, tuple] = {}

            def stuck() -> None:
                started = time.monotonic()
                status, _headers, body = get(f"{base}/api/v1/sessions", auth)
                results["api"] = (status, body, time.monotonic() - started)

            thread = threading.Thread(target=stuck)
            thread.start()
            time.sleep(0.5)  # the API request is now waiting on the database
            started = time.monotonic()
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                assert response.status == 200
            assert time.monotonic() - started < 1
            thread.join(15)
            status, body, elapsed = results["api"]
            assert status == 503 and body["code"] == "unavailable"
            assert 1.5 < elapsed < DEADLINE + 1.5, elapsed
            proxy.set("pass")
            assert get(f"{base}/api/v1/sessions", auth)[0] == 200  # recovered


def test_the_watchdog_cuts_a_call_the_server_never_answers(settings):
    """In-process, on a connection of its own: deterministic where the server's thread pool is
    not (a request there may open a new connection, bounded by connect_timeout instead)."""
    settings.API_DB_CALL_DEADLINE_SECONDS = 1
    with fault_proxy(5432) as proxy:
        params = {**connection.settings_dict, "PORT": proxy.port, "CONN_MAX_AGE": 0}
        hung = connections["default"].__class__(params)
        guard = threading.Timer(0, lambda: None)
        try:
            with hung.cursor() as cursor:
                cursor.execute("SELECT 1")
            proxy.set("hang")
            # Should the watchdog fail, the reset ends the wait (and the test) after 5 s.
            guard = threading.Timer(5, proxy.set, ["refuse"])
            guard.start()
            started = time.monotonic()
            with (
                hung.execute_wrapper(dbguard._deadline),
                pytest.raises(OperationalError),
                hung.cursor() as cursor,
            ):
                cursor.execute("SELECT 2")
            assert 0.9 < time.monotonic() - started < 2
        finally:
            guard.cancel()
            hung.close()
