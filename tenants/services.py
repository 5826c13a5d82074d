"""Every write of tenants and tokens: admin, the management commands and the importer
(its ``*_bulk_upsert`` batches) go through these, never through ``save()`` of their own.

Also the rules every write of a tenant-owned row keeps (``owned_row_check``), used by the
services of the apps above.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.bulk import bulk_upsert

from . import token_cache, tokens
from .models import ApiToken, Tenant, TenantOwned

# Columns a batch upsert overwrites on a stored row (created_at: the time of first import).
TENANT_UPDATE_FIELDS = ["slug", "name", "time_zone"]


def stored_values(*, row: TenantOwned, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """These columns of the row as stored, or None for a row being added."""
    if row._state.adding:
        return None
    return type(row)._base_manager.filter(pk=row.pk).values(*fields).first()


def owned_row_check(
    *, row: TenantOwned, stored: dict[str, Any] | None, fixed: tuple[str, ...] = ("tenant_id",)
) -> None:
    """A tenant-owned row points only at rows of its own tenant (TenantOwned.clean, the rule
    admin's forms show), and what it belongs to (``fixed``: its tenant, a scorecard's session)
    stays put once created: moving it would leave rows pointing across tenants, or a scored
    session without its scorecard."""
    errors: dict[str, str] = {}
    for name in fixed:
        if stored is not None and name in stored and stored[name] != getattr(row, name):
            errors[name.removesuffix("_id")] = "It cannot change once created."
    try:
        TenantOwned.clean(row)  # the base rule only: a model's own clean() is its form's
    except ValidationError as exc:
        errors.update({name: " ".join(messages) for name, messages in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)


# -- the servers' token caches ----------------------------------------------------------------


class TokenCachesStale(Exception):
    """The change is committed, but the servers' token caches could not be told (tenants/
    token_cache.py): they may go on trusting what they hold for API_TOKEN_CACHE_SECONDS."""

    def __init__(self) -> None:
        super().__init__(
            "Saved in the database, but Redis did not answer, so the API servers were not told: "
            "each may go on accepting the token as it was (a revoked token too) for up to "
            f"{settings.API_TOKEN_CACHE_SECONDS} s from when it cached it. Repeat this once "
            "Redis answers to make it take effect at once."
        )


def token_caches_invalidate() -> None:
    """Tells every server process, once the current transaction commits, that its cached tokens
    are stale; retried for API_TOKEN_EPOCH_RETRY_SECONDS, then TokenCachesStale (raised where
    the transaction ends). After the commit: told earlier, a request could load the old row and
    cache it under the new epoch.

    Only for a change to a stored token or tenant (or its deletion): a row being added needs
    none, as nothing can have cached it (a token unknown to the database is never cached), and
    a bump that fails would report an error for a creation that succeeded. A change of many
    rows calls this once, in one transaction: one bump, one retry period when Redis is silent.
    """

    def bump() -> None:
        if not token_cache.bump(retry_seconds=settings.API_TOKEN_EPOCH_RETRY_SECONDS):
            raise TokenCachesStale

    transaction.on_commit(bump)


# -- tenants ----------------------------------------------------------------------------------


def tenant_upsert(*, tenant: Tenant) -> Tenant:
    with transaction.atomic():
        adding = tenant._state.adding
        tenant.save()
        if not adding:  # a new tenant has no tokens yet
            token_caches_invalidate()  # a deactivated tenant's tokens stop at once
    return tenant


def tenant_delete(*, tenant: Tenant) -> None:
    with transaction.atomic():
        tenant.delete()
        token_caches_invalidate()


def tenant_bulk_upsert(*, rows: list[dict[str, Any]]) -> dict[Any, frozenset[str]]:
    """Rows of ``Tenant`` fields by id (the importer's batches). Returns the stored tenants that
    changed (renamed, a new slug or time zone), each with the names of its changed fields: the
    servers' cached tokens hold their tenant, so the caller then calls
    ``token_caches_invalidate``, once for its whole transaction (the importer: once per import,
    not per batch), and a new time zone changes what the tenant's days are (the importer has
    its local rollups rebuilt, roleplay/rollups.py). New tenants need no bump: they have no
    tokens yet."""
    stored = {
        values[0]: values[1:]
        for values in Tenant._base_manager.filter(id__in=[row["id"] for row in rows]).values_list(
            "id", *TENANT_UPDATE_FIELDS
        )
    }
    changes: dict[Any, frozenset[str]] = {}
    for row in rows:
        if row["id"] in stored:
            fields = frozenset(
                name
                for name, before in zip(TENANT_UPDATE_FIELDS, stored[row["id"]], strict=True)
                if before != row[name]
            )
            if fields:
                changes[row["id"]] = fields
    bulk_upsert(model=Tenant, rows=rows, update_fields=TENANT_UPDATE_FIELDS)
    return changes


# -- tokens -----------------------------------------------------------------------------------


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


def token_save(*, token: ApiToken) -> ApiToken:
    """Admin's add and change (the form has validated it). Only a change tells the servers: a
    new token cannot be in any cache, and its raw value (shown once, on the page that follows
    the save) must not be lost to an error about Redis."""
    with transaction.atomic():
        adding = token._state.adding
        token.save()
        if not adding:
            token_caches_invalidate()
    return token


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoking a revoked token changes nothing stored but tells the servers again: the way to
    finish a revocation whose TokenCachesStale said they were not told."""
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
        token_caches_invalidate()
    return token


def token_bulk_revoke(*, tokens: QuerySet[ApiToken]) -> int:
    """Admin's action: one transaction, one message to the servers. Returns how many tokens
    were newly revoked. Tokens revoked already are told again (as token_revoke does); no token
    at all (create_token --replace of a name not used yet) tells nothing."""
    with transaction.atomic():
        revoked = tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked or tokens.exists():
            token_caches_invalidate()
    return revoked


def token_delete(*, token: ApiToken) -> None:
    token_bulk_delete(tokens=ApiToken.objects.filter(pk=token.pk))


def token_bulk_delete(*, tokens: QuerySet[ApiToken]) -> int:
    """Admin's "delete selected": one transaction, one message to the servers (not one per
    token, each retrying for API_TOKEN_EPOCH_RETRY_SECONDS when Redis is silent). Returns how
    many tokens were deleted."""
    with transaction.atomic():
        deleted = tokens.delete()[1].get(ApiToken._meta.label, 0)
        token_caches_invalidate()
    return deleted
