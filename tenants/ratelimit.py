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

import logging
import threading
import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.cache import caches

from core.breaker import CircuitBreaker
from core.observability import REDIS_ERRORS
from core.redis import redis_client

from . import token_cache

logger = logging.getLogger("tenants.ratelimit")
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
    def seconds_left(self) -> int:
        return max(0, self.reset_at - int(time.time()))

    @property
    def retry_after(self) -> int:
        return max(1, self.seconds_left)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
            # The IETF form (draft-ietf-httpapi-ratelimit-headers): the policy, and what remains
            # of it with the seconds until the window resets.
            "RateLimit-Policy": f'"default";q={self.limit};w={WINDOW_SECONDS}',
            "RateLimit": f'"default";r={self.remaining};t={self.seconds_left}',
        }


@dataclass(frozen=True)
class TokenHit:
    """One request counted against its token's window, and the token epoch read with it."""

    key: str  # the counter's key, without its window
    count: int
    reset_at: int
    epoch: str | None  # None: the store did not answer, so nothing may be trusted from it
    failed_auth: int = 0  # the caller's address's failed authentications this window

    def usage(self, limit: int) -> Usage:
        return Usage(limit=limit, count=self.count, reset_at=self.reset_at)


def _window() -> tuple[int, int]:
    """The current window's start and end, in Unix seconds."""
    now = int(time.time())
    window = now - now % WINDOW_SECONDS
    return window, window + WINDOW_SECONDS


def _count(
    cache, key: str, *, amount: int = 1, read_epoch: bool = False, peek: str | None = None
) -> tuple[int, str | None, int]:
    """Add ``amount`` to a window counter and read it (and the token epoch, and another counter
    without changing it) in one round trip where the store allows it."""
    redis = redis_client(cache)
    if redis is not None:
        # Raw commands, not the cache API: its values are pickled, these are plain strings.
        full_key = cache.make_and_validate_key(key)
        pipe = redis.pipeline(transaction=False)
        pipe.incr(full_key, amount)
        pipe.expire(full_key, WINDOW_SECONDS + 5, nx=True)
        if read_epoch:
            token_cache.queue_epoch_read(pipe, cache)
        if peek is not None:
            pipe.get(cache.make_and_validate_key(peek))
        replies = pipe.execute()
        # .hex(): whatever bytes the key holds compare as they are, and never fail to decode
        # (a decoding error here would turn rate limiting off along with the cache).
        epoch = token_cache.epoch_of(replies[3]) if read_epoch else None
        peeked = int(replies[-1] or 0) if peek is not None else 0
        return int(replies[0]), epoch, peeked
    # add() is a no-op when the key exists; incr() is atomic in LocMem. No epoch here: an
    # in-process store cannot tell other processes of a change, so token_cache is off.
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    return cache.incr(key, amount), None, (cache.get(peek, 0) if peek is not None else 0)


BREAKER_OPEN_SECONDS = 5.0
# Open (skip the store) for BREAKER_OPEN_SECONDS after a failure; then the next calls try again.
breaker = CircuitBreaker(open_seconds=lambda: BREAKER_OPEN_SECONDS)


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

    def hit(self, key: str, window: int, amount: int = 1) -> int:
        with self._lock:
            if window != self._window or len(self._counts) >= self.MAX_KEYS:
                self._window, self._counts = window, {}
            self._counts[key] = self._counts.get(key, 0) + amount
            return self._counts[key]


local_counts = _LocalCounts()


def _hit(
    key: str, *, read_epoch: bool = False, peek: str | None = None
) -> tuple[int, int, str | None, int]:
    """Counts one hit on ``key`` and reads the counter ``peek`` in the same round trip."""
    window, reset_at = _window()
    if breaker.allows():
        try:
            used, epoch, peeked = _count(
                caches[settings.API_RATE_LIMIT_CACHE],
                f"rl:{key}:{window}",
                read_epoch=read_epoch,
                peek=f"rl:{peek}:{window}" if peek is not None else None,
            )
            return used, reset_at, epoch, peeked
        except Exception:  # the limiter must never take the API down with it
            REDIS_ERRORS.inc()
            breaker.failed()
            _store_unavailable()
    # No epoch: nothing may be trusted from the token cache (tenants/token_cache.py).
    peeked = local_counts.hit(peek, window, 0) if peek is not None else 0
    return local_counts.hit(key, window), reset_at, None, peeked


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


def hit_token(token_hash: str, address: str) -> TokenHit:
    """Counts a request against the token with this hash (known before the database is asked)
    and reads the token epoch and the address's failed authentications, in one round trip."""
    key = f"token:{token_hash[:32]}"
    used, reset_at, epoch, failed = _hit(key, read_epoch=True, peek=f"authfail:{address}")
    if failed > settings.API_FAILED_AUTH_PER_MINUTE:
        lockouts.add(address, reset_at)
    return TokenHit(key=key, count=used, reset_at=reset_at, epoch=epoch, failed_auth=failed)


def refund(hit: TokenHit) -> TokenHit:
    """Takes a request back off its token's count (a 304 is not counted, as GitHub's): in the
    window it was counted in, where the store answers; otherwise the count stays."""
    window, reset_at = _window()
    if reset_at != hit.reset_at:
        return hit  # a new window: the hit is already forgotten
    count = hit.count
    if breaker.allows():
        try:
            cache = caches[settings.API_RATE_LIMIT_CACHE]
            count, _, _ = _count(cache, f"rl:{hit.key}:{window}", amount=-1)
        except Exception:  # the count stays: a refund is a courtesy, never an outage
            REDIS_ERRORS.inc()
            breaker.failed()
            _store_unavailable()
    else:
        count = local_counts.hit(hit.key, window, -1)
    return replace(hit, count=count)


def record_failed_auth(address: str) -> Usage:
    used, reset_at, _, _ = _hit(f"authfail:{address}")
    limit = settings.API_FAILED_AUTH_PER_MINUTE
    if used > limit:
        lockouts.add(address, reset_at)
    if used == limit + 1:  # once per address and minute: the moment it is locked out
        logger.warning(
            "client %s locked out: over %d failed authentications this minute", address, limit
        )
    return Usage(limit=limit, count=used, reset_at=reset_at)


class _Lockouts:
    """Addresses this process has seen locked out, until their window ends: the next attempt
    from one is refused before any hashing, store or database work. Another process's lockout
    is learnt on the token counter's round trip (``hit_token``), still before the database."""

    MAX_ADDRESSES = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, int] = {}

    def add(self, address: str, reset_at: int) -> None:
        with self._lock:
            if len(self._until) >= self.MAX_ADDRESSES:
                now = int(time.time())
                self._until = {a: t for a, t in self._until.items() if t > now}
                if len(self._until) >= self.MAX_ADDRESSES:
                    self._until = {}
            self._until[address] = reset_at

    def until(self, address: str) -> int | None:
        """When the address's lockout ends (Unix seconds), or None if it is not locked out."""
        reset_at = self._until.get(address)
        if reset_at is None or reset_at <= time.time():
            return None
        return reset_at

    def reset(self) -> None:
        with self._lock:
            self._until = {}


lockouts = _Lockouts()


def lockout_usage(reset_at: int) -> Usage:
    limit = settings.API_FAILED_AUTH_PER_MINUTE
    return Usage(limit=limit, count=limit + 1, reset_at=reset_at)
