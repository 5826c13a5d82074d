"""The second layer of tenant isolation: a manager that refuses to run unscoped.

The first layer is the API's base viewset, which hands views querysets already filtered to the
token's tenant. This layer catches the mistake that layer cannot: code that reaches for
``Model.objects`` directly. ``Model.objects.for_tenant(t)`` works; ``Model.objects.all()``
builds fine but raises :class:`UnscopedQueryError` the moment it would hit the database.
Operators' tools (admin, import, management commands) that legitimately see every tenant use
``Model.unscoped``, a plain manager whose name says what it does.
"""

from __future__ import annotations

from django.db import models


class UnscopedQueryError(RuntimeError):
    """A tenant-owned model was queried without choosing a tenant first."""


class TenantScopedQuerySet(models.QuerySet):
    _tenant_scoped = False

    def for_tenant(self, tenant) -> TenantScopedQuerySet:
        tenant_id = getattr(tenant, "pk", tenant)
        if tenant_id is None:
            raise UnscopedQueryError("for_tenant() needs a tenant, got None")
        qs = self.filter(tenant_id=tenant_id)
        qs._tenant_scoped = True
        return qs

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def require_scope(self) -> None:
        if not self._tenant_scoped:
            raise UnscopedQueryError(
                f"{self.model.__name__}.objects was queried without for_tenant(); "
                f"use {self.model.__name__}.unscoped only where every tenant is meant."
            )

    # Every path by which a queryset reaches the database goes through one of these.
    def _fetch_all(self):
        if self._result_cache is None:
            self.require_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self.require_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        self.require_scope()
        return super().count()

    def exists(self):
        self.require_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self.require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self.require_scope()
        return super().update(**kwargs)

    def delete(self):
        self.require_scope()
        return super().delete()


TenantScopedManager = models.Manager.from_queryset(TenantScopedQuerySet)
