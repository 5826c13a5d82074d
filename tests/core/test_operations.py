"""What operators and caches rely on: health probes, cache headers, the schema built once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import health
from core.schema_view import SchemaView

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database():
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "data": {"status": "alive"}}
    assert len(queries) == 0


def test_readyz_checks_the_database_and_the_store():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["data"] == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok"},
    }


def test_readyz_names_a_failing_dependency(monkeypatch):
    def broken():
        raise ConnectionError("refused")

    monkeypatch.setitem(health.CHECKS, "redis", broken)
    response = Client().get("/readyz", HTTP_X_REQUEST_ID="ready-1")
    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "error": "A dependency is unavailable.",
        "code": "unavailable",
        "details": {
            "checks": {"database": "ok", "redis": "error: ConnectionError"},
            "request_id": "ready-1",
        },
    }


def test_readyz_answers_in_bounded_time_when_a_dependency_hangs(monkeypatch):
    release = threading.Event()
    monkeypatch.setitem(health.CHECKS, "redis", lambda: release.wait(10))
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.3)
    try:
        started = time.monotonic()
        response = Client().get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert response.status_code == 503
    assert response.json()["details"]["checks"]["redis"] == "timeout"
    assert elapsed < 2


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes_in_the_envelope(path):
    response = Client().post(path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "authorized", "status"),
    [
        ("/api/v1/token", True, 200),
        ("/api/v1/users", True, 200),
        ("/api/v1/users", False, 401),
        ("/api/v1/users/nope", True, 404),
        ("/api/v1/nowhere", True, 404),
        ("/api/v1/schema", False, 200),
        ("/healthz", False, 200),
    ],
)
def test_every_api_response_forbids_caching_and_varies_on_the_token(
    make_token, tenant, path, authorized, status
):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {make_token(tenant)}"} if authorized else {}
    response = Client().get(path, **headers)
    assert response.status_code == status
    assert response["Cache-Control"] == "no-store"
    assert "Authorization" in [v.strip() for v in response["Vary"].split(",")]


@pytest.fixture
def fresh_schema(monkeypatch):
    monkeypatch.setattr(SchemaView, "_document", None)
    calls = []
    generate = SchemaView.generator_class.get_schema

    def counted(self, *args, **kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.05)  # widen the window in which concurrent first requests overlap
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(SchemaView.generator_class, "get_schema", counted)
    return calls


def test_the_schema_is_generated_once_per_process(fresh_schema):
    first = Client().get("/api/v1/schema?format=json")
    second = Client().get("/api/v1/schema?format=json")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(fresh_schema) == 1


@pytest.mark.parametrize(
    "version", ["2.0", 'a"; filename="evil.html', "%00", "\u202e", "x" * 2000, "1.0.0"]
)
def test_the_schema_is_one_document_whatever_the_query_says(fresh_schema, version):
    """Found by a review: each ?version= value was generated and kept forever, and the value
    landed in info.version and in the Content-Disposition filename (and a NUL made gunicorn
    refuse the header: a 500 outside the envelope)."""
    plain = Client().get("/api/v1/schema?format=json")
    for query in ({"version": version}, {"version": version, "format": "json"}):
        response = Client().get("/api/v1/schema", {**query, "format": "json"})
        assert response.status_code == 200
        assert response.content == plain.content
        assert response["Content-Disposition"] == plain["Content-Disposition"]
        assert response["Content-Disposition"] == 'inline; filename="Role-play reporting API.json"'
    assert response.json()["info"]["version"] == "1.0.0"
    yaml = Client().get("/api/v1/schema", {"version": version})
    assert yaml["Content-Disposition"] == 'inline; filename="Role-play reporting API.yaml"'
    assert len(fresh_schema) == 1  # one document, whatever was asked


def test_concurrent_first_requests_for_the_schema_all_succeed(fresh_schema):
    def fetch(_):
        return Client().get("/api/v1/schema?format=json").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fetch, range(8)))
    assert statuses == [200] * 8
    assert len(fresh_schema) == 1


def test_the_front_door_leads_to_the_docs_reference_schema_and_admin():
    response = Client().get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    for target in ("/api/v1/docs", "/api/v1/redoc", "/api/v1/schema", "/admin/"):
        assert f'href="{target}' in page, target
    assert "http://" not in page and "https://" not in page  # nothing from another host


def test_the_favicon_is_no_404():
    assert Client().get("/favicon.ico").status_code == 204


def test_redoc_may_load_images_from_this_host_only():
    response = Client().get("/api/v1/redoc")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "img-src 'self' data:"


def test_the_front_door_keeps_a_moved_admin_to_itself(settings):
    """Found by a review: with ADMIN_URL_PATH moved, / linked to it."""
    settings.ADMIN_URL_PATH = "ops-7f3a9/"
    page = Client().get("/").content.decode()
    assert "ops-7f3a9" not in page and "Admin</a>" not in page
    assert 'href="/api/v1/docs' in page
