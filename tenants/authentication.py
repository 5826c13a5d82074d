"""Bearer token authentication, in the manner of PostHog's PersonalAPIKeyAuthentication.

No header: ``None`` (DRF then answers 401 ``not_authenticated``). A header that is not a
well-formed token is refused before any database work (format + CRC32 checksum). A well-formed
token is looked up by its SHA-256 hash, so the raw value is never compared in the database.
The token object stays on ``request.auth`` for the scope check and the rate limiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from core import compiled
from core.clients import client_address
from core.errors import InvalidToken, RateLimited, TokenExpired, TokenRevoked
from core.observability import RATE_LIMITED
from core.request_id import Caller, set_caller
from tenants import ratelimit

from . import token_cache, tokens
from .models import ApiToken, Tenant


@dataclass(frozen=True)
class TokenPrincipal:
    """``request.user`` for token requests: the tenant, seen through one token, and this
    request counted against the token's rate limit (enforced by the viewset, after the 401s)."""

    token: ApiToken
    rate: ratelimit.TokenHit

    is_authenticated = True
    is_anonymous = False

    @property
    def tenant(self) -> Tenant:
        return self.token.tenant


_TOKEN_FIELDS = [f.attname for f in ApiToken._meta.concrete_fields]
_TENANT_FIELDS = [f.attname for f in Tenant._meta.concrete_fields]


def _token_by_hash(token_hash: str) -> ApiToken | None:
    """The token with its tenant, in one query compiled once (this runs on every request)."""
    found = compiled.rows(
        # The primary's: a replica may not have replayed a revocation yet (core/replicas.py).
        lambda v: (
            ApiToken.objects.using("default")
            .filter(token_hash=v["hash"])
            .values(*_TOKEN_FIELDS, *(f"tenant__{name}" for name in _TENANT_FIELDS))[:1]
        ),
        {"hash": (ApiToken._meta.get_field("token_hash"), token_hash)},
    )
    if not found:
        return None
    values = list(found[0].values())
    token = ApiToken.from_db("default", _TOKEN_FIELDS, values[: len(_TOKEN_FIELDS)])
    token.tenant = Tenant.from_db("default", _TENANT_FIELDS, values[len(_TOKEN_FIELDS) :])
    return token


def _locked_out(failures: ratelimit.Usage) -> RateLimited:
    RATE_LIMITED.labels("failed_auth").inc()
    return RateLimited(
        failures.retry_after, "Too many failed authentication attempts; retry later."
    )


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        # Past the failed-authentication limit every attempt is a 429, the right token
        # included: guessing stops paying off. A lockout this process has seen costs nothing.
        address = client_address(request)
        reset_at = ratelimit.lockouts.until(address)
        if reset_at is not None:
            raise _locked_out(ratelimit.lockout_usage(reset_at))
        try:
            return self._authenticate(header, address)
        except (InvalidToken, TokenExpired, TokenRevoked):
            # Counted on failure only, so a valid request costs no extra round trip.
            failures = ratelimit.record_failed_auth(address)
            if failures.exceeded:
                raise _locked_out(failures) from None
            raise

    def _authenticate(self, header: str, address: str) -> tuple[TokenPrincipal, ApiToken]:
        scheme, _, raw = header.strip().partition(" ")
        raw = raw.strip()
        if scheme.lower() != self.keyword or not raw:
            raise InvalidToken("Send the token as 'Authorization: Bearer <token>'.")
        if not tokens.is_well_formed(raw):
            raise InvalidToken()
        token_hash = tokens.hash_token(raw)
        # Counted, and the token epoch read, before the token is looked up: the order that
        # lets token_cache trust what it stores.
        rate = ratelimit.hit_token(token_hash, address)
        if rate.failed_auth > settings.API_FAILED_AUTH_PER_MINUTE:
            # Locked out by another process: still before the database is asked.
            raise _locked_out(ratelimit.lockout_usage(rate.reset_at))
        token = token_cache.get(token_hash, rate.epoch)
        if token is None:
            token = _token_by_hash(token_hash)
            if token is None:
                raise InvalidToken()
            token_cache.put(token_hash, token, rate.epoch)
        now = timezone.now()
        if token.revoked_at is not None and token.revoked_at <= now:
            raise TokenRevoked()
        if token.expires_at is not None and token.expires_at <= now:
            raise TokenExpired()
        if not token.tenant.is_active:
            raise InvalidToken("The token's tenant is deactivated.")
        self._touch(token, now)
        set_caller(Caller(tenant=token.tenant.slug, token_prefix=token.prefix))
        return TokenPrincipal(token, rate), token

    @staticmethod
    def _touch(token: ApiToken, now) -> None:
        """Record use at most once per interval: a write per request would cost more than the
        read it serves."""
        interval = timedelta(seconds=settings.API_TOKEN_LAST_USED_INTERVAL_SECONDS)
        if token.last_used_at is None or now - token.last_used_at >= interval:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated requests.
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes this authentication (drf-spectacular extension)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rpt_<32 base62><6 base62 checksum>",
            "description": "An API token of one tenant, created by an operator "
            "(`manage.py create_token` or Django admin).",
        }
