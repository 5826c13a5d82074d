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


def _hit(key: str, limit: int, *, count: bool = True) -> Usage:
    now = int(time.time())
    window = now - now % WINDOW_SECONDS
    reset_at = window + WINDOW_SECONDS
    cache = caches[settings.API_RATE_LIMIT_CACHE]
    full_key = f"rl:{key}:{window}"
    try:
        if count:
            # add() is a no-op when the key exists; incr() is atomic in Redis and LocMem alike.
            cache.add(full_key, 0, timeout=WINDOW_SECONDS + 5)
            used = cache.incr(full_key)
        else:
            used = cache.get(full_key, 0)
    except Exception:  # the limiter must never take the API down with it
        logger.warning("rate-limit store unavailable; not limiting", exc_info=True)
        used = 0
    return Usage(limit=limit, count=used, reset_at=reset_at)


def hit_token(token_id: str, limit: int) -> Usage:
    return _hit(f"token:{token_id}", limit)


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def failed_auth_usage(request: HttpRequest) -> Usage:
    return _hit(
        f"authfail:{client_address(request)}", settings.API_FAILED_AUTH_PER_MINUTE, count=False
    )


def record_failed_auth(request: HttpRequest) -> Usage:
    return _hit(f"authfail:{client_address(request)}", settings.API_FAILED_AUTH_PER_MINUTE)
