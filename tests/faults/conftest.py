"""The real services behind a fault proxy (tests/faults/proxy.py), one per test."""

from __future__ import annotations

import secrets

import pytest
import redis

from tenants import token_cache
from tests.faults.proxy import fault_proxy

REDIS_PORT = 6379


@pytest.fixture
def redis_proxy(settings):
    prefix = f"test-fault-{secrets.token_hex(4)}"
    with fault_proxy(REDIS_PORT) as proxy:
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{proxy.port}/0",
                "KEY_PREFIX": prefix,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
            }
        }
        settings.API_TOKEN_CACHE_SECONDS = 60
        settings.API_TOKEN_EPOCH_RETRY_SECONDS = 5
        token_cache.clear()
        yield proxy
        token_cache.clear()
    client = redis.Redis(port=REDIS_PORT)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
