"""Tokens kept in each server process, so a request skips the database round trip for its token.

A cached token is trusted only under the *token epoch* it was read under: a random value in the
shared store (Redis) that every change to a token or a tenant replaces once committed
(``services.token_caches_invalidate``), and that every request reads on the round trip that
counts it against its rate limit (``tenants.ratelimit.hit_token``), before its token is looked up.
So a revoked token, a changed scope or a deactivated tenant takes effect on the next request
in every process:

- a token is stored with the epoch read *before* it was loaded, so a change committed while it
  was loading has replaced that epoch by the time the next request reads it;
- when the store does not answer (epoch ``None``), nothing is read from or written to the cache;
- a change that bypasses the services (raw SQL, ``QuerySet.update()``) is seen after
  ``API_TOKEN_CACHE_SECONDS`` at most, when the entry expires anyway (0 turns the cache off);
- expiry and revocation times are checked on every request, cached or not.

With an in-process store (LocMem: the one-process SQLite demo, tests) there is no epoch: a
change made by another process could not reach this one, so the cache is off unless the store
is shared.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from core.redis import redis_client, shared_store

from .models import ApiToken

logger = logging.getLogger("tenants.token_cache")
# The epoch rides on the token counter's round trip (tenants/ratelimit.py): a random value that
# every change to a token or tenant replaces.
TOKEN_EPOCH_KEY = "token-epoch"  # noqa: S105 - a cache key, not a secret
EPOCH_RETRY_INTERVAL_SECONDS = 0.25

MAX_ENTRIES = 10_000  # tokens in use at once per process; past it the cache starts over


@dataclass(frozen=True)
class _Entry:
    token: ApiToken
    epoch: str
    expires: float  # time.monotonic()


_entries: dict[str, _Entry] = {}


def enabled() -> bool:
    return settings.API_TOKEN_CACHE_SECONDS > 0 and shared_store()


def queue_epoch_read(pipe, cache) -> None:
    """Adds the epoch's read to a Redis pipeline (two replies; the second is the epoch): set
    when missing, so every reader of an empty store agrees on one."""
    key = cache.make_and_validate_key(TOKEN_EPOCH_KEY)
    pipe.set(key, secrets.token_hex(8), nx=True)
    pipe.get(key)


def epoch_of(reply: bytes | None) -> str | None:
    # .hex(): whatever bytes the key holds compare as they are, and never fail to decode (a
    # decoding error here would turn rate limiting off along with the cache).
    return reply.hex() if reply is not None else None


def bump(*, retry_seconds: float = 0.0) -> bool:
    """Every process's cached tokens are stale from now on.

    Retried for up to ``retry_seconds`` while the store does not answer; False (logged) when it
    never did: the caller must then say that the change has not reached the servers' caches.
    """
    cache = caches[settings.API_RATE_LIMIT_CACHE]
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            redis = redis_client(cache)
            if redis is not None:  # else no process caches tokens (enabled())
                redis.set(cache.make_and_validate_key(TOKEN_EPOCH_KEY), secrets.token_hex(8))
            return True
        except Exception:
            if time.monotonic() >= deadline:
                logger.error("could not bump the token epoch", exc_info=True)
                return False
            time.sleep(EPOCH_RETRY_INTERVAL_SECONDS)


def get(token_hash: str, epoch: str | None) -> ApiToken | None:
    if epoch is None:
        return None
    entry = _entries.get(token_hash)
    if entry is None or entry.epoch != epoch or entry.expires <= time.monotonic():
        return None
    return entry.token


def put(token_hash: str, token: ApiToken, epoch: str | None) -> None:
    """``epoch`` must have been read before ``token`` was loaded."""
    if epoch is None or not enabled():
        return
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[token_hash] = _Entry(token, epoch, time.monotonic() + settings.API_TOKEN_CACHE_SECONDS)


def clear() -> None:
    _entries.clear()
