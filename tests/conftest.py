"""Shared fixtures. Factories live in tests/factories.py."""

from collections.abc import Callable

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from tenants import ratelimit
from tenants.models import Tenant
from tenants.scopes import ALL_SCOPES
from tenants.services import token_create
from tests.factories import TenantFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache; one test's requests must not throttle another's."""
    for cache in caches.all():
        cache.clear()
    ratelimit.breaker.reset()
    ratelimit.local_counts.reset()
    ratelimit.lockouts.reset()
    yield


@pytest.fixture
def tenant(db) -> Tenant:
    return TenantFactory(slug="acme", name="Acme Realty")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return TenantFactory(slug="globex", name="Globex Brokerage")


@pytest.fixture
def make_token(db) -> Callable[..., str]:
    """make_token(tenant, scopes=[...], **fields) -> the raw token."""

    def make(tenant: Tenant, scopes=ALL_SCOPES, **fields) -> str:
        _token, raw = token_create(tenant=tenant, name="test", scopes=list(scopes), **fields)
        return raw

    return make


@pytest.fixture
def client_for(make_token) -> Callable[..., APIClient]:
    """client_for(tenant, scopes=[...]) -> an APIClient that sends that tenant's token."""

    def make(tenant: Tenant, scopes=ALL_SCOPES, **fields) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(tenant, scopes, **fields)}")
        return client

    return make


@pytest.fixture
def api(client_for, tenant) -> APIClient:
    """A client with every scope of the ``tenant`` fixture."""
    return client_for(tenant)
