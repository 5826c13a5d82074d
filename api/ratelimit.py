"""Fixed-window rate limits counted in the shared cache (Redis in production).

Every server process increments the same counter, so N processes enforce one limit. Two kinds:
requests per token (``X-RateLimit-*`` headers on every authenticated response) and failed
authentication attempts per client address (slows down token guessing).

When Redis fails or hangs, its calls time out fast (``REDIS_TIMEOUT_MS``) and a circuit breaker
stops asking it for ``BREAKER_OPEN_SECONDS``, so an outage costs one request per process and
period a timeout, not every request. Meanwhile each process counts on its own: the limits hold
per process, so N processes allow up to N times a limit (looser, never off).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from .observability import REDIS_ERRORS

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


# The token epoch (tenants/token_cache.py) rides on the token counter's round trip: a random
# value that every change to a token or tenant replaces.
TOKEN_EPOCH_KEY = "token-epoch"  # noqa: S105 - a cache key, not a secret


@dataclass(frozen=True)
class TokenHit:
    """One request counted against its token's window, and the token epoch read with it."""

    count: int
    reset_at: int
    epoch: str | None  # None: the store did not answer, so nothing may be trusted from it

    def usage(self, limit: int) -> Usage:
        return Usage(limit=limit, count=self.count, reset_at=self.reset_at)


def _window() -> tuple[int, int]:
    """The current window's start and end, in Unix seconds."""
    now = int(time.time())
    window = now - now % WINDOW_SECONDS
    return window, window + WINDOW_SECONDS


def redis_client(cache):
    """The Redis client behind a django-redis cache, else None (LocMem: tests, the demo)."""
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        return client.get_client(write=True)
    return None


def shared_store() -> bool:
    """Whether the store is one every server process sees (Redis), not this process's own."""
    return redis_client(caches[settings.API_RATE_LIMIT_CACHE]) is not None


def _count(cache, key: str, *, read_epoch: bool = False) -> tuple[int, str | None]:
    """Increment and read a window counter (and the token epoch) in one round trip where the
    store allows it."""
    redis = redis_client(cache)
    if redis is not None:
        # Raw commands, not the cache API: its values are pickled, these are plain strings.
        full_key = cache.make_and_validate_key(key)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_SECONDS + 5, nx=True)
        if read_epoch:
            epoch_key = cache.make_and_validate_key(TOKEN_EPOCH_KEY)
            pipe.set(epoch_key, secrets.token_hex(8), nx=True)
            pipe.get(epoch_key)
        replies = pipe.execute()
        # .hex(): whatever bytes the key holds compare as they are, and never fail to decode
        # (a decoding error here would turn rate limiting off along with the cache).
        epoch = replies[3] if read_epoch else None
        return int(replies[0]), (epoch.hex() if epoch is not None else None)
    # add() is a no-op when the key exists; incr() is atomic in LocMem. No epoch here: an
    # in-process store cannot tell other processes of a change, so token_cache is off.
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    return cache.incr(key), None


class _Breaker:
    """Open (skip the store) for BREAKER_OPEN_SECONDS after a failure; then the next calls try
    again. Unlocked: a race costs one extra try, never a wrong count."""

    def __init__(self) -> None:
        self.open_until = float("-inf")

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until

    def failed(self) -> None:
        self.open_until = time.monotonic() + BREAKER_OPEN_SECONDS

    def reset(self) -> None:
        self.open_until = float("-inf")


BREAKER_OPEN_SECONDS = 5.0
breaker = _Breaker()


class _LocalCounts:
    """This process's own window counters, used while the shared store is out."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._counts = {}

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            if window != self._window or len(self._counts) >= self.MAX_KEYS:
                self._window, self._counts = window, {}
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


local_counts = _LocalCounts()


def _hit(key: str, *, read_epoch: bool = False) -> tuple[int, int, str | None]:
    window, reset_at = _window()
    if breaker.allows():
        try:
            used, epoch = _count(
                caches[settings.API_RATE_LIMIT_CACHE], f"rl:{key}:{window}", read_epoch=read_epoch
            )
            return used, reset_at, epoch
        except Exception:  # the limiter must never take the API down with it
            REDIS_ERRORS.inc()
            breaker.failed()
            _store_unavailable()
    # No epoch: nothing may be trusted from the token cache (tenants/token_cache.py).
    return local_counts.hit(key, window), reset_at, None


STORE_WARNING_INTERVAL_SECONDS = 60
_last_store_warning = float("-inf")


def _store_unavailable() -> None:
    """A warning with the traceback at most once a minute per process: an outage fails every
    request's count, and one traceback per request would bury everything else in the log."""
    global _last_store_warning
    now = time.monotonic()
    if now - _last_store_warning >= STORE_WARNING_INTERVAL_SECONDS:
        _last_store_warning = now
        logger.warning(
            "rate-limit store unavailable; counting per process, not asking it again for %d s "
            "(repeats are logged at most every %d s)",
            BREAKER_OPEN_SECONDS,
            STORE_WARNING_INTERVAL_SECONDS,
            exc_info=True,
        )
    else:
        logger.debug("rate-limit store still unavailable", exc_info=True)


def hit_token(token_hash: str) -> TokenHit:
    """Counts a request against the token with this hash (known before the database is asked)
    and reads the token epoch, in one round trip."""
    used, reset_at, epoch = _hit(f"token:{token_hash[:32]}", read_epoch=True)
    return TokenHit(count=used, reset_at=reset_at, epoch=epoch)


def bump_token_epoch(*, retry_seconds: float = 0.0) -> bool:
    """Every process's cached tokens are stale from now on (tenants/token_cache.py).

    Retried for up to ``retry_seconds`` while the store does not answer; False (logged) when it
    never did: the caller must then say that the change has not reached the servers' caches.
    """
    cache = caches[settings.API_RATE_LIMIT_CACHE]
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            redis = redis_client(cache)
            if redis is not None:  # else no process caches tokens (token_cache.enabled)
                redis.set(cache.make_and_validate_key(TOKEN_EPOCH_KEY), secrets.token_hex(8))
            return True
        except Exception:
            if time.monotonic() >= deadline:
                logger.error("could not bump the token epoch", exc_info=True)
                return False
            time.sleep(EPOCH_RETRY_INTERVAL_SECONDS)


EPOCH_RETRY_INTERVAL_SECONDS = 0.25


def client_address(request: HttpRequest) -> str:
    """The caller's address. Behind proxies (API_TRUSTED_PROXY_HOPS of them, each appending the
    address it saw to X-Forwarded-For), it is the entry the outermost proxy appended: entries
    left of it are whatever the client sent, and REMOTE_ADDR is the nearest proxy."""
    hops = settings.API_TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        addresses = [entry.strip() for entry in forwarded if entry.strip()]
        if len(addresses) >= hops:
            return addresses[-hops][:64]
    return request.META.get("REMOTE_ADDR") or "unknown"


def client_ip(request: HttpRequest | None) -> str | None:
    """``client_address`` when it is an IP address, else None: for stores that keep addresses
    as such (django-axes on PostgreSQL). A request made in code (a test's login) has none."""
    if request is None:
        return None
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def record_failed_auth(request: HttpRequest) -> Usage:
    address = client_address(request)
    used, reset_at, _ = _hit(f"authfail:{address}")
    limit = settings.API_FAILED_AUTH_PER_MINUTE
    if used == limit + 1:  # once per address and minute: the moment it is locked out
        logger.warning(
            "client %s locked out: over %d failed authentications this minute", address, limit
        )
    return Usage(limit=limit, count=used, reset_at=reset_at)
