"""Redis that hangs (takes the connection, never answers) or refuses, through the fault proxy:
requests stay fast, limits stay on (per process), readiness says so."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant, make_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(tenant)}")
    return client


@pytest.mark.parametrize("mode", ["hang", "refuse"])
def test_requests_stay_fast_and_limited_while_redis_is_out(redis_proxy, api, settings, mode):
    settings.API_RATE_LIMIT_PER_MINUTE = 5
    if time.time() % 60 > 50:  # keep the requests inside one window
        time.sleep(61 - time.time() % 60)
    assert api.get("/api/v1/token").status_code == 200  # connected while Redis answered
    redis_proxy.set(mode)
    timings, codes = [], []
    for _ in range(8):
        started = time.monotonic()
        codes.append(api.get("/api/v1/token").status_code)
        timings.append(time.monotonic() - started)
    # The first request after the outage pays one timeout (100 ms); the breaker spares the rest.
    assert timings[0] < 1.0
    assert max(timings[1:]) < 0.08, timings
    # This process counts on its own from the outage on: the limit holds, never switched off.
    assert codes == [200] * 5 + [429] * 3


def test_readiness_names_redis_within_its_bound(redis_proxy):
    redis_proxy.set("hang")
    started = time.monotonic()
    response = Client().get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["details"]["checks"]["redis"] != "ok"
    assert response.json()["details"]["checks"]["database"] == "ok"
