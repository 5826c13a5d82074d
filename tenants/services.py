"""Writes on tenants' tokens, shared by admin and the management commands."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from . import tokens
from .models import ApiToken, Tenant


def token_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiToken, str]:
    """Returns the token and its raw value: the only time the raw value exists. Refuses what
    admin's form refuses (ValidationError): the model's rules are the one place for both."""
    raw = tokens.generate()
    token = ApiToken(
        tenant=tenant,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    token.set_raw_token(raw)
    token.full_clean()
    token.save()
    return token, raw


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
