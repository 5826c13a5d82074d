"""The Redis client behind the shared cache, where there is one."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches


def redis_client(cache):
    """The Redis client behind a django-redis cache, else None (LocMem: tests, the demo)."""
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        return client.get_client(write=True)
    return None


def shared_store() -> bool:
    """Whether the rate-limit store is one every server process sees (Redis), not this
    process's own."""
    return redis_client(caches[settings.API_RATE_LIMIT_CACHE]) is not None
