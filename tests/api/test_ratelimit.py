import time

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


@pytest.fixture(autouse=True)
def _not_at_a_window_edge():
    """Counters reset every minute; don't start a count two seconds before they do."""
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


def test_headers_count_down_and_429_carries_retry_after(client_for, tenant, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    client = client_for(tenant)
    remaining = []
    for _ in range(3):
        response = client.get("/api/v1/token")
        assert response.status_code == 200
        remaining.append(int(response["X-RateLimit-Remaining"]))
        assert response["X-RateLimit-Limit"] == "3"
        assert int(response["X-RateLimit-Reset"]) > time.time()
    assert remaining == [2, 1, 0]
    response = client.get("/api/v1/token")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Remaining"] == "0"


def test_limit_is_per_token_and_configurable_per_token(client_for, tenant, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    generous = client_for(tenant, rate_limit_per_minute=5)
    default = client_for(tenant)
    assert [generous.get("/api/v1/token").status_code for _ in range(6)] == [200] * 5 + [429]
    assert [default.get("/api/v1/token").status_code for _ in range(3)] == [200, 200, 429]


def test_failed_authentication_is_limited_per_address(client_for, tenant, settings):
    settings.API_FAILED_AUTH_PER_MINUTE = 3
    from rest_framework.test import APIClient

    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Bearer rpt_guess")
    codes = [guesser.get("/api/v1/token").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert guesser.get("/api/v1/token").json()["code"] == "rate_limited"
    # Another address is not affected.
    other = client_for(tenant)
    assert other.get("/api/v1/token", REMOTE_ADDR="10.0.0.9").status_code == 200
