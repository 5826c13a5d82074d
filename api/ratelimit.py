"""Fixed-window rate limits counted in the shared cache (Redis in production).

Every server process increments the same counter, so N processes enforce one limit. Two kinds:
requests per token (``X-RateLimit-*`` headers on every authenticated response) and failed
authentication attempts per client address (slows down token guessing).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

logger = logging.getLogger("api.ratelimit")
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Usage:
    limit: int
    count: int
    reset_at: int  # Unix seconds when the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_at - int(time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def _count(cache, key: str) -> int:
    """Increment and read a window counter in one round trip where the store allows it."""
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):  # django-redis
        redis = client.get_client(write=True)
        full_key = cache.make_and_validate_key(key)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_SECONDS + 5, nx=True)
        used, _ = pipe.execute()
        return int(used)
    # add() is a no-op when the key exists; incr() is atomic in LocMem.
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    return cache.incr(key)


def _hit(key: str, limit: int) -> Usage:
    now = int(time.time())
    window = now - now % WINDOW_SECONDS
    reset_at = window + WINDOW_SECONDS
    try:
        used = _count(caches[settings.API_RATE_LIMIT_CACHE], f"rl:{key}:{window}")
    except Exception:  # the limiter must never take the API down with it
        logger.warning("rate-limit store unavailable; not limiting", exc_info=True)
        used = 0
    return Usage(limit=limit, count=used, reset_at=reset_at)


def hit_token(token_id: str, limit: int) -> Usage:
    return _hit(f"token:{token_id}", limit)


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def record_failed_auth(request: HttpRequest) -> Usage:
    return _hit(f"authfail:{client_address(request)}", settings.API_FAILED_AUTH_PER_MINUTE)
