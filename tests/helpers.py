import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.db import connection
from hypothesis import HealthCheck, settings

from tenants import token_cache

REDIS_URL = "redis://127.0.0.1:6379/0"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="enforced by PostgreSQL-only constraints"
)


def db_property(max_examples: int) -> settings:
    """Hypothesis settings for a property test that uses the database through pytest fixtures:
    the fixtures live for the whole test (not per example, which is what the first suppressed
    check warns of), and an example's queries take longer than hypothesis's default deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def error_envelope(response, status: int, code: str) -> dict:
    """The body of an error in the contract's envelope, with its request id."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"ok", "error", "code", "details"}
    assert body["ok"] is False and body["code"] == code and body["error"]
    assert body["details"]["request_id"] == response["X-Request-ID"]
    return body


def invalid_parameter(response) -> dict:
    """The body of a 400 in the contract's envelope; each bad parameter has messages."""
    body = error_envelope(response, 400, "invalid_parameter")
    named = {k: v for k, v in body["details"].items() if k != "request_id"}
    assert named and all(isinstance(m, str) for ms in named.values() for m in ms)
    return body


@contextmanager
def redis_store(django_settings, *, location: str, timeout: float) -> Iterator[None]:
    """The cache (rate limits, token epoch) in the real Redis, reached at ``location`` (the
    server itself, or a fault proxy before it), under a key prefix of this test's own; tokens
    cached per process, none yet. The test's keys are removed afterwards."""
    prefix = f"test-{secrets.token_hex(4)}"
    django_settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout},
        }
    }
    django_settings.API_TOKEN_CACHE_SECONDS = 60
    token_cache.clear()
    try:
        yield
    finally:
        token_cache.clear()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
