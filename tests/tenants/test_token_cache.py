"""Tokens cached per process (tenants/token_cache.py), against the real Redis store.

What matters is what a cache could break: a revoked token, a narrowed scope or a deactivated
tenant must take effect on the very next request.
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tenants import authentication, token_cache
from tenants.models import ApiToken
from tenants.services import tenant_upsert, token_revoke, token_save
from tests.helpers import REDIS_URL, redis_store

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_store(settings):
    with redis_store(settings, location=REDIS_URL, timeout=1):
        yield


def token_queries(client: APIClient, path: str = "/api/v1/token") -> tuple[int, int]:
    """(status, how many queries read the token table) for one request."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, sum('FROM "tenants_apitoken"' in q["sql"] for q in queries.captured_queries)


@pytest.fixture
def token_client(tenant, make_token):
    raw = make_token(tenant, scopes=["sessions:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_token_is_read_once_then_served_from_the_cache(shared_store, token_client):
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 0)
    assert token_queries(token_client, "/api/v1/sessions") == (200, 0)


def test_revocation_takes_effect_on_the_next_request(
    shared_store, token_client, django_capture_on_commit_callbacks
):
    token_queries(token_client)
    with django_capture_on_commit_callbacks(execute=True):
        token_revoke(token=ApiToken.objects.get())
    response = token_client.get("/api/v1/token")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_tokens_are_cached_again_after_a_change(
    shared_store, tenant, make_token, token_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(tenant)}")
    assert token_queries(other) == (200, 1)
    assert token_queries(other) == (200, 0)
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 0)


def test_a_narrowed_scope_takes_effect_on_the_next_request(
    shared_store, token_client, django_capture_on_commit_callbacks
):
    assert token_queries(token_client, "/api/v1/sessions") == (200, 1)
    token = ApiToken.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        token.scopes = ["users:read"]
        token_save(token=token)
    assert token_client.get("/api/v1/sessions").status_code == 403


def test_a_deactivated_tenant_takes_effect_on_the_next_request(
    shared_store, token_client, tenant, django_capture_on_commit_callbacks
):
    token_queries(token_client)
    with django_capture_on_commit_callbacks(execute=True):
        tenant.is_active = False
        tenant_upsert(tenant=tenant)
    assert token_client.get("/api/v1/token").status_code == 401


def test_a_new_time_zone_shows_on_the_next_request(
    shared_store, token_client, tenant, django_capture_on_commit_callbacks
):
    """GET /token shows the tenant's time zone from the cached token: admin's change replaces
    the epoch, so the cached tenant is not shown again."""
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 0)  # cached
    with django_capture_on_commit_callbacks(execute=True):
        tenant.time_zone = "Asia/Tokyo"
        tenant_upsert(tenant=tenant)
    response = token_client.get("/api/v1/token")
    assert response.json()["data"]["tenant"]["time_zone"] == "Asia/Tokyo"


def test_a_change_committed_while_the_token_loads_is_not_cached_over(
    shared_store, token_client, monkeypatch, django_capture_on_commit_callbacks
):
    """Another process revokes the token between this request's epoch read and its lookup:
    this request may still pass (it began first), the next one must not."""
    real_lookup = authentication._token_by_hash

    def lookup_then_revoke_elsewhere(token_hash):
        loaded = real_lookup(token_hash)
        with django_capture_on_commit_callbacks(execute=True):
            token_revoke(token=ApiToken.objects.get(pk=loaded.pk))
        return loaded  # the row as it was read, before the revocation

    monkeypatch.setattr(authentication, "_token_by_hash", lookup_then_revoke_elsewhere)
    assert token_client.get("/api/v1/token").status_code == 200
    monkeypatch.setattr(authentication, "_token_by_hash", real_lookup)
    assert token_client.get("/api/v1/token").status_code == 401


def test_an_expired_entry_is_read_again(shared_store, token_client, settings, monkeypatch):
    """A change made around the services (no new epoch) is seen once the entry expires."""
    token_queries(token_client)
    ApiToken.objects.update(scopes=[])  # bypasses save(): nothing bumps the epoch
    assert token_client.get("/api/v1/sessions").status_code == 200  # still cached
    clock = token_cache.time.monotonic() + settings.API_TOKEN_CACHE_SECONDS + 1
    monkeypatch.setattr(token_cache.time, "monotonic", lambda: clock)
    assert token_client.get("/api/v1/sessions").status_code == 403


def test_no_cache_when_the_store_does_not_answer(settings, token_client):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    token_cache.clear()
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 1)


def test_no_cache_with_a_store_other_processes_cannot_see(token_client):
    """LocMem (the demo, the default test settings): another process's revocation would not
    reach this process's epoch, so every request reads its token."""
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 1)


def test_the_cache_can_be_turned_off(shared_store, settings, token_client):
    settings.API_TOKEN_CACHE_SECONDS = 0
    assert token_queries(token_client) == (200, 1)
    assert token_queries(token_client) == (200, 1)


def test_revoke_token_from_another_process_reaches_cached_tokens(
    shared_store, tenant, make_token, django_capture_on_commit_callbacks
):
    """revoke_token runs in its own process: the epoch in Redis is what tells the servers."""
    raw = make_token(tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert token_queries(client) == (200, 1)
    assert token_queries(client) == (200, 0)
    err = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # the command's own commit
        call_command("revoke_token", raw[:12], stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""
    assert client.get("/api/v1/token").status_code == 401
