import pytest

pytestmark = pytest.mark.django_db


def test_token_endpoint_describes_the_caller(client_for, tenant):
    response = client_for(tenant, scopes=["sessions:read", "users:read"]).get("/api/v1/token")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    data = body["data"]
    assert set(data) == {
        "name",
        "prefix",
        "tenant",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert data["tenant"] == {"id": str(tenant.id), "name": "Acme Realty", "time_zone": "UTC"}
    assert data["scopes"] == ["sessions:read", "users:read"]
    assert data["prefix"].startswith("rpt_") and len(data["prefix"]) == 12
    assert data["created_at"].endswith("Z") and data["expires_at"] is None
    assert data["last_used_at"].endswith("Z")


def test_token_endpoint_shows_the_tenants_time_zone(client_for, tenant):
    tenant.time_zone = "America/Argentina/Buenos_Aires"
    tenant.save()
    data = client_for(tenant, scopes=["users:read"]).get("/api/v1/token").json()["data"]
    assert data["tenant"]["time_zone"] == "America/Argentina/Buenos_Aires"


def test_no_cors_and_no_cookies(api):
    response = api.get("/api/v1/token", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in response.headers)
    assert "Set-Cookie" not in response.headers
    assert not response.cookies


def test_one_query_per_request_once_last_used_at_is_fresh(api, django_assert_max_num_queries):
    """The token and its tenant in one lookup; last_used_at is written at most every few
    minutes, so a second request within them reads and writes nothing else."""
    assert api.get("/api/v1/token").status_code == 200
    with django_assert_max_num_queries(1):
        assert api.get("/api/v1/token").status_code == 200
