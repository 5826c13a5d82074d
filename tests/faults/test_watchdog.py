"""A connection the watchdog cut (core/dbguard.py) is discarded, on a real PostgreSQL connection
behind the fault proxy: the call is a DatabaseCallCut (a 503 in a request), the connection is
closed at once, and the next query opens a new one instead of failing on the dead socket."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from core import dbguard
from tests.faults.proxy import fault_proxy

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a database server: PostgreSQL"),
]


def test_a_cut_connection_is_closed_and_the_next_query_reconnects(settings):
    settings.API_DB_CALL_DEADLINE_SECONDS = 1
    with fault_proxy(5432) as proxy:
        params = {**connection.settings_dict, "PORT": proxy.port, "CONN_MAX_AGE": 60}
        db = connections["default"].__class__(params)
        guard = threading.Timer(0, lambda: None)
        try:
            with db.cursor() as cursor:
                cursor.execute("SELECT 1")
            first = db.connection
            proxy.set("hang")
            guard = threading.Timer(5, proxy.set, ["refuse"])  # should the watchdog fail
            guard.start()
            started = time.monotonic()
            with (
                db.execute_wrapper(dbguard._deadline),
                pytest.raises(dbguard.DatabaseCallCut),
                db.cursor() as cursor,
            ):
                cursor.execute("SELECT 2")
            assert 0.9 < time.monotonic() - started < 2
            assert db.connection is None  # discarded now, not at the end of the request
            guard.cancel()
            proxy.set("pass")
            with db.execute_wrapper(dbguard._deadline), db.cursor() as cursor:
                cursor.execute("SELECT 3")
                assert cursor.fetchone() == (3,)
            assert db.connection is not None and db.connection is not first
        finally:
            guard.cancel()
            db.close()


def test_a_call_that_ends_in_time_keeps_its_connection(settings):
    settings.API_DB_CALL_DEADLINE_SECONDS = 1
    db = connections["default"]
    with db.execute_wrapper(dbguard._deadline):
        for n in range(20):
            with db.cursor() as cursor:
                cursor.execute("SELECT %s", [n])
                assert cursor.fetchone() == (n,)
    assert db.connection is not None and not db.connection.closed
