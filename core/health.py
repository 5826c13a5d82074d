"""Liveness and readiness for load balancers and orchestrators.

``/healthz`` answers from the process alone: a load balancer must not take every server out of
rotation because the database is slow. ``/readyz`` asks the database and the shared store, each
bounded in time: a hung dependency is a 503 within ``READY_TIMEOUT_SECONDS``, never a hung probe.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .errors import error_response
from .redis import redis_client

READY_TIMEOUT_SECONDS = 4.0
# Two threads at most, shared by every probe of this process: a check stuck on a hung
# dependency holds one, and later probes time out waiting instead of adding threads.
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")


def _database() -> None:
    # A new connection each time, closed after: the probe tests that one can be made, and
    # this thread, serving no request, would otherwise keep one open (and broken) for good.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


def _store() -> None:
    redis = redis_client(caches[settings.API_RATE_LIMIT_CACHE])
    if redis is not None:  # an in-process store (the demo) is always there
        redis.ping()


CHECKS = {"database": _database, "redis": _store}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "data": {"status": "alive"}})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    futures = {name: _checks.submit(check) for name, check in CHECKS.items()}
    results: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results[name] = "ok"
        except FutureTimeout:
            future.cancel()  # still queued behind a hung check: never run it
            results[name] = "timeout"
        except Exception as error:  # any failure of a dependency is "not ready", named
            results[name] = f"error: {type(error).__name__}"
    ready = all(result == "ok" for result in results.values())
    if ready:
        return JsonResponse({"ok": True, "data": {"status": "ready", "checks": results}})
    return error_response(
        503, "A dependency is unavailable.", "unavailable", details={"checks": results}
    )
