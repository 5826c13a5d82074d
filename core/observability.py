"""Metrics in Prometheus' format and one access-log line per request.

``GET /metrics`` (outside ``/api/v1``, no token: keep it off the public network, as
``deploy/nginx/roleplay-api.conf`` does) serves requests by endpoint and status, latency
histograms by endpoint, database and Redis errors, whether each process's database circuit
breaker is open, rate-limit refusals, and reads that core.compiled could not compile. With
gunicorn's several processes the counts are summed across them through
``PROMETHEUS_MULTIPROC_DIR`` (``gunicorn.conf.py`` sets one up).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .request_id import current_caller

access_log = logging.getLogger("api.access")

REQUESTS = Counter(
    "api_requests_total",
    "Requests answered, by endpoint and status.",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "api_request_duration_seconds",
    "Time from the request's arrival in Django to its answer, by endpoint.",
    ["endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
DATABASE_ERRORS = Counter(
    "api_database_errors_total", "Requests answered 503 because the database failed or hung."
)
DATABASE_BREAKER_OPEN = Gauge(
    "api_database_breaker_open",
    "1 while this server process's database circuit breaker is open or half-open (requests that "
    "need the database are answered 503 at once, one at a time tries it), else 0.",
    multiprocess_mode="liveall",  # one series per live process (a pid label): each has its own
)
REDIS_ERRORS = Counter(
    "api_redis_errors_total", "Calls to Redis that failed or timed out (the breaker then opens)."
)
RATE_LIMITED = Counter(
    "api_rate_limited_total",
    "Requests refused 429: over a token's limit, or over the failed authentications of a client.",
    ["kind"],
)
COMPILED_FALLBACKS = Counter(
    "api_compiled_query_fallbacks_total",
    "Reads run through the ORM because core.compiled refused their query builder (logged once "
    "per builder and process), by builder: its qualified name, from code.",
    ["builder"],
)


# Label values come from fixed sets only: a caller choosing a value would mint a series per
# request (any token-less client can send any method name).
METHODS = frozenset(
    {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT"}
)


def _method(request: HttpRequest) -> str:
    return request.method if request.method in METHODS else "other"


def _endpoint(request: HttpRequest) -> str:
    # The route's name, never the path: paths carry ids, and each would be a series of its own.
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None and match.view_name else "unmatched"


class ObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        endpoint = _endpoint(request)
        REQUESTS.labels(_method(request), endpoint, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        if access_log.isEnabledFor(logging.INFO):
            caller = current_caller()
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.get_full_path(),
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "endpoint": endpoint,
                    "tenant": caller.tenant if caller else None,
                    "token_prefix": caller.token_prefix if caller else None,
                },
            )
        return response


# Figures read from the database at each scrape (the apps' own, e.g. webhooks/metrics.py): the
# same on every server, so they are not summed across processes like the counters above.
_READ_AT_SCRAPE: list[Any] = []


def register_collector(collector: Any) -> None:
    """A prometheus_client collector whose ``collect()`` runs at each ``GET /metrics``."""
    _READ_AT_SCRAPE.append(collector)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    body = generate_latest(_registry())
    if _READ_AT_SCRAPE:
        scraped = CollectorRegistry(auto_describe=False)
        for collector in _READ_AT_SCRAPE:
            scraped.register(collector)
        body += generate_latest(scraped)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
