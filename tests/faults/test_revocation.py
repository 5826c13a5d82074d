"""Revocation against the real Redis, through a proxy that refuses: a revocation that cannot
reach the servers' token caches retries until it lands or says so, and never reports success
while a server may still accept the token."""

from __future__ import annotations

import io
import threading

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tenants.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cached(tenant, make_token):
    """A client whose token this process has cached (served with no query)."""
    raw = make_token(tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/token").status_code == 200
        counts.append(len(queries))
    assert counts[0] > 0 and counts[1] == 0
    return client, raw[:12]


def test_a_revocation_during_a_redis_outage_lands_when_redis_returns(redis_proxy, cached):
    client, prefix = cached
    redis_proxy.set("refuse")
    threading.Timer(1.0, redis_proxy.set, ["pass"]).start()  # a blip shorter than the retries
    out = io.StringIO()
    call_command("revoke_token", prefix, stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("Revoked ")
    response = client.get("/api/v1/token")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_revocation_that_cannot_reach_the_servers_fails_loudly(redis_proxy, cached, settings):
    client, prefix = cached
    settings.API_TOKEN_EPOCH_RETRY_SECONDS = 0.5
    redis_proxy.set("refuse")
    with pytest.raises(CommandError, match="Redis did not answer, so the API servers were not"):
        call_command("revoke_token", prefix, stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiToken.objects.get().revoked_at is not None  # the database has it
    # Redis is back; this process's cache still holds the token under an unchanged epoch (the
    # bound the error stated). Running the command again finishes the revocation.
    redis_proxy.set("pass")
    call_command("revoke_token", prefix, stdout=io.StringIO(), stderr=io.StringIO())
    assert client.get("/api/v1/token").status_code == 401


def test_a_server_that_cannot_read_the_epoch_does_not_trust_its_cache(redis_proxy, cached):
    client, _prefix = cached
    redis_proxy.set("refuse")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/token").status_code == 200
    assert len(queries) >= 1  # read from the database, not from the cache
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")  # around the services
    assert client.get("/api/v1/token").status_code == 401


def test_admin_says_when_a_revocation_did_not_reach_the_servers(
    redis_proxy, cached, client, settings
):
    settings.API_TOKEN_EPOCH_RETRY_SECONDS = 0.5
    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    redis_proxy.set("refuse")
    response = client.post(
        "/admin/tenants/apitoken/",
        {"action": "revoke", "_selected_action": [ApiToken.objects.get().pk]},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("the API servers were not told" in m for m in shown), shown
    assert not any(m.startswith("Revoked") for m in shown), shown
