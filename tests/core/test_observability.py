"""Metrics, access log and log format: what an operator reads when something goes wrong."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from logging.config import DictConfigurator

import pytest
from django.conf import settings
from django.db import OperationalError
from django.test import Client
from prometheus_client import REGISTRY

from tenants import authentication
from tests.live import gunicorn, server_env

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_endpoint_and_status_and_timed(api):
    ok = {"method": "GET", "endpoint": "api:token", "status": "200"}
    missing = {"method": "GET", "endpoint": "api:session-detail", "status": "404"}
    before = (
        sample("api_requests_total", **ok),
        sample("api_requests_total", **missing),
        sample("api_request_duration_seconds_count", endpoint="api:token"),
    )
    assert api.get("/api/v1/token").status_code == 200
    assert api.get("/api/v1/sessions/00000000-0000-0000-0000-000000000000").status_code == 404
    assert sample("api_requests_total", **ok) == before[0] + 1
    assert sample("api_requests_total", **missing) == before[1] + 1
    assert sample("api_request_duration_seconds_count", endpoint="api:token") == before[2] + 1


def test_an_unknown_path_is_one_series_not_one_per_path():
    before = sample("api_requests_total", method="GET", endpoint="unmatched", status="404")
    for n in range(3):
        Client().get(f"/api/v1/nothing-{n}")
    after = sample("api_requests_total", method="GET", endpoint="unmatched", status="404")
    assert after == before + 3


def test_a_caller_cannot_mint_label_values_with_method_names(api):
    """Found by a review: 200 custom methods made 200 new series."""

    def series() -> set[tuple]:
        return {
            tuple(sorted(s.labels.items()))
            for metric in REGISTRY.collect()
            for s in metric.samples
            if s.name.startswith("api_")
        }

    api.generic("FOO", "/api/v1/token")  # one first "other" series may be new
    known = series()
    for n in range(20):
        assert api.generic(f"X{n}YZ", "/api/v1/token").status_code in (400, 405)
    assert series() == known
    values = {
        dict(labels).get("method")
        for labels in series()
        if dict(labels).get("endpoint") == "api:token" and "method" in dict(labels)
    }
    assert values <= {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "other"}
    assert "other" in values


def test_refusals_and_database_failures_are_counted(client_for, tenant, settings, monkeypatch):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    api = client_for(tenant)
    before = sample("api_rate_limited_total", kind="token")
    api.get("/api/v1/token")
    assert api.get("/api/v1/token").status_code == 429
    assert sample("api_rate_limited_total", kind="token") == before + 1

    settings.API_FAILED_AUTH_PER_MINUTE = 1
    guesser = Client(HTTP_AUTHORIZATION="Bearer rpt_guess", REMOTE_ADDR="10.1.2.3")
    before = sample("api_rate_limited_total", kind="failed_auth")
    assert [guesser.get("/api/v1/token").status_code for _ in range(2)] == [401, 429]
    assert sample("api_rate_limited_total", kind="failed_auth") == before + 1

    def refused(token_hash):
        raise OperationalError("connection refused")

    monkeypatch.setattr(authentication, "_token_by_hash", refused)
    before = sample("api_database_errors_total")
    assert client_for(tenant).get("/api/v1/token").status_code == 503
    assert sample("api_database_errors_total") == before + 1


def test_metrics_are_served_in_prometheus_format():
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    for name in (
        "api_requests_total",
        "api_request_duration_seconds",
        "api_database_errors_total",
        "api_redis_errors_total",
        "api_rate_limited_total",
    ):
        assert f"# TYPE {name} " in text


def test_each_request_is_logged_once_with_its_caller_never_its_token(
    client_for, tenant, make_token, caplog
):
    raw = make_token(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_REQUEST_ID="access-1")
    with caplog.at_level(logging.INFO, logger="api.access"):
        client.get("/api/v1/users?limit=2")
        Client(HTTP_X_REQUEST_ID="access-2").get("/api/v1/users")
    lines = [r for r in caplog.records if r.name == "api.access"]
    assert len(lines) == 2
    first, second = lines
    assert (first.status, first.endpoint, first.tenant) == (200, "api:user-list", "acme")
    assert first.token_prefix == raw[:12] and first.request_id == "access-1"
    assert first.path == "/api/v1/users" and first.duration_ms > 0
    assert (second.status, second.tenant, second.token_prefix) == (401, "-", "-")
    assert raw not in caplog.text and raw[12:] not in caplog.text


def test_json_log_lines_carry_the_request_and_the_caller(make_token, tenant, caplog):
    formatter = DictConfigurator(settings.LOGGING).configure_formatter(
        settings.LOGGING["formatters"]["json"]
    )
    raw = make_token(tenant)
    with caplog.at_level(logging.INFO, logger="api.access"):
        Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_REQUEST_ID="json-1").get("/api/v1/token")
    [record] = [r for r in caplog.records if r.name == "api.access"]
    line = json.loads(formatter.format(record))
    assert line["level"] == "INFO" and line["logger"] == "api.access"
    assert line["request_id"] == "json-1"
    assert (line["tenant"], line["token_prefix"]) == ("acme", raw[:12])
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/token", 200)
    assert "time" in line


def test_metrics_add_up_across_the_server_processes(tmp_path):
    env = server_env(DATABASE_URL=f"sqlite:///{tmp_path}/m.sqlite3")
    with gunicorn(env, workers=2) as base:
        for _ in range(12):
            urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
        text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
    counted = re.search(
        r'api_requests_total\{endpoint="healthz",method="GET",status="200"\} (\S+)', text
    )
    assert counted is not None and float(counted.group(1)) == 12
