"""Authentication and scopes: the 401 and 403 cases of the contract."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tenants import tokens
from tenants.models import ApiToken
from tenants.scopes import ALL_SCOPES
from tenants.viewsets import TenantScopedViewSet

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def _assert_401(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["ok"] is False and body["code"] == code
    assert body["details"]["request_id"] == response["X-Request-ID"]
    assert isinstance(body["error"], str) and body["error"]


def test_no_header_is_not_authenticated():
    _assert_401(_client(None).get("/api/v1/token"), "not_authenticated")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer rpt_short", "rpt_abc"],
)
def test_malformed_header_is_invalid_token(header):
    _assert_401(_client(header).get("/api/v1/token"), "invalid_token")


def test_bad_checksum_is_refused_without_touching_the_database():
    raw = tokens.generate()
    forged = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with CaptureQueriesContext(connection) as queries:
        response = _client(f"Bearer {forged}").get("/api/v1/token")
    _assert_401(response, "invalid_token")
    assert len(queries) == 0


def test_well_formed_unknown_token_is_invalid(tenant):
    _assert_401(_client(f"Bearer {tokens.generate()}").get("/api/v1/token"), "invalid_token")


def test_scheme_is_case_insensitive(make_token, tenant):
    raw = make_token(tenant)
    assert _client(f"bearer {raw}").get("/api/v1/token").status_code == 200


def test_expiry_takes_effect_on_the_next_request(make_token, tenant):
    raw = make_token(tenant, expires_at=timezone.now() + timedelta(hours=1))
    client = _client(f"Bearer {raw}")
    assert client.get("/api/v1/token").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _assert_401(client.get("/api/v1/token"), "token_expired")


def test_revocation_takes_effect_on_the_next_request(make_token, tenant):
    raw = make_token(tenant)
    client = _client(f"Bearer {raw}")
    assert client.get("/api/v1/token").status_code == 200
    ApiToken.objects.update(revoked_at=timezone.now())
    _assert_401(client.get("/api/v1/token"), "token_revoked")


def test_deactivated_tenant_is_refused(make_token, tenant):
    client = _client(f"Bearer {make_token(tenant)}")
    tenant.is_active = False
    tenant.save()
    _assert_401(client.get("/api/v1/token"), "invalid_token")


def test_last_used_at_is_written_at_most_once_per_interval(make_token, tenant, settings):
    settings.API_TOKEN_LAST_USED_INTERVAL_SECONDS = 300
    client = _client(f"Bearer {make_token(tenant)}")

    def updates() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/token").status_code == 200
        return sum(q["sql"].lstrip().upper().startswith("UPDATE") for q in queries)

    assert updates() == 1  # first use is recorded
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    assert [updates() for _ in range(5)] == [0] * 5
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(seconds=301))
    assert updates() == 1


def test_missing_scope_is_403_naming_it(client_for, tenant):
    client = client_for(tenant, scopes=["users:read"])
    response = client.get("/probe/sessions")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["details"]["required_scope"] == "sessions:read"
    assert response["X-RateLimit-Limit"]  # authenticated: rate-limit headers even on errors


def test_token_endpoint_needs_no_scope(client_for, tenant):
    response = client_for(tenant, scopes=["users:read"]).get("/api/v1/token")
    assert response.status_code == 200


def test_a_view_that_forgot_its_scope_admits_nobody(client_for, tenant):
    response = client_for(tenant, scopes=ALL_SCOPES).get("/probe/forgot-scope")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert "should never be seen" not in response.content.decode()


def test_base_viewset_refuses_a_subclass_without_scope():

    with pytest.raises(TypeError, match="required_scope"):

        class NoScope(TenantScopedViewSet):
            pass


def test_base_viewset_refuses_a_subclass_overriding_get_queryset():

    with pytest.raises(TypeError, match="get_queryset"):

        class Sneaky(TenantScopedViewSet):
            required_scope = "sessions:read"

            def get_queryset(self):
                return None
