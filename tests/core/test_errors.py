"""Every error is the contract's JSON envelope, with the request id, whatever DEBUG says."""

import logging
import os
import uuid

import pytest
from rest_framework.test import APIClient

from core.request_id import RequestIdLogFilter
from tests.factories import SessionFactory
from tests.helpers import error_envelope
from tests.live import ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]
ID = "40000000-0000-0000-0000-000000000001"


def _without_request_id(body: dict) -> dict:
    return {**body, "details": {k: v for k, v in body["details"].items() if k != "request_id"}}


def test_not_a_uuid_unknown_and_other_tenants_ids_are_the_same_404(api, tenant, other_tenant):
    theirs = SessionFactory(tenant=other_tenant)
    mine = SessionFactory(tenant=tenant)
    assert api.get(f"/probe/sessions/{mine.id}").status_code == 200
    assert api.get(f"/probe/sessions/{str(mine.id).upper()}").status_code == 200
    bodies = [
        error_envelope(api.get(f"/probe/sessions/{path_id}"), 404, "not_found")
        for path_id in ["not-a-uuid", uuid.uuid4(), theirs.id, mine.id.hex, f"{{{mine.id}}}"]
    ]
    assert all(_without_request_id(b) == _without_request_id(bodies[0]) for b in bodies)


def test_other_tenants_rows_never_reach_a_list(api, tenant, other_tenant):
    mine = SessionFactory(tenant=tenant)
    SessionFactory(tenant=other_tenant)
    assert api.get("/probe/sessions").json()["data"] == [str(mine.id)]


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_url_is_a_json_404(api, settings, debug):
    settings.DEBUG = debug
    error_envelope(api.get("/api/v1/nope"), 404, "not_found")
    error_envelope(APIClient().get("/api/v2/sessions"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ["/api/v1/token", "/api/v1/sessions", f"/api/v1/scorecards/{ID}"])
def test_write_methods_are_405_with_allow(api, method, path):
    response = getattr(api, method)(path, data={"x": 1}, format="json")
    error_envelope(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_write_method_is_405_before_the_token_or_scope_is_checked(client_for, tenant, method):
    """Whoever asks: no token, a bad one, or one without the scope of the GET."""
    no_scope = client_for(tenant, scopes=["users:read"])
    for client, path in (
        (APIClient(), "/api/v1/sessions"),
        (no_scope, f"/api/v1/scorecards/{ID}"),
    ):
        error_envelope(getattr(client, method)(path), 405, "method_not_allowed")
    bad = APIClient(HTTP_AUTHORIZATION="Bearer rpt_nope")
    error_envelope(bad.delete("/api/v1/sessions"), 405, "method_not_allowed")


def test_too_many_query_parameters_is_a_400_not_a_bug(api, settings, caplog):
    """Django refuses over DATA_UPLOAD_MAX_NUMBER_FIELDS parameters when the view reads them."""
    query = {"limit": "1", **{f"x{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)}}
    with caplog.at_level(logging.ERROR, logger="api"):
        body = error_envelope(api.get("/api/v1/sessions", query), 400, "invalid_parameter")
    assert "at most 1000" in body["details"]["query"][0]
    assert not caplog.records  # not logged as an unhandled error


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_host_is_a_400error_envelope(api, settings, debug):
    settings.DEBUG = debug
    error_envelope(api.get("/api/v1/token", HTTP_HOST="evil.example"), 400, "bad_request")


def test_options_of_the_schema_is_a_405error_envelope(api):
    error_envelope(api.options("/api/v1/schema"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ({"format": "csv"}, "application/json"),
        ({"format": "json"}, "application/json"),
        ({}, "text/html"),
        ({}, "application/xml"),
    ],
)
def test_the_answer_is_json_whatever_accept_or_format_ask_for(api, tenant, query, accept):
    """Unknown query parameters are ignored; the API never answers in another format."""
    response = api.get("/api/v1/token", query, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["ok"] is True
    anonymous = APIClient().get("/api/v1/sessions", query, HTTP_ACCEPT=accept)
    error_envelope(anonymous, 401, "not_authenticated")


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_a_500_envelope_logged_with_the_request_id(api, settings, caplog, debug):
    settings.DEBUG = debug
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.ERROR):
        response = api.get("/probe/boom", HTTP_X_REQUEST_ID="trace-42")
    body = error_envelope(response, 500, "server_error")
    assert response["X-Request-ID"] == "trace-42"
    text = response.content.decode()
    assert "boom" not in text and "Traceback" not in text and "<html" not in text.lower()
    logged = [r for r in caplog.records if r.exc_info and "boom" in str(r.exc_info[1])]
    assert logged and all(r.request_id == "trace-42" for r in logged)
    assert body["details"] == {"request_id": "trace-42"}


def test_unreachable_database_is_503_with_retry_after(api):
    response = api.get("/probe/db-down")
    error_envelope(response, 503, "unavailable")
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_request_id_is_echoed_only_when_sane(api, sent, echoed):
    response = api.get("/api/v1/token", HTTP_X_REQUEST_ID=sent)
    assert (response["X-Request-ID"] == sent) is echoed
    assert 1 <= len(response["X-Request-ID"]) <= 128


def test_every_response_has_a_request_id(api):
    for response in (api.get("/api/v1/token"), APIClient().get("/api/v1/token")):
        assert len(response["X-Request-ID"]) == 32


def test_an_unknown_host_is_not_logged_as_an_error():
    """A scanner's everyday probe: answered 400, with no traceback in the log. In a fresh
    process, because pytest hangs its capture handlers on every logger."""
    import subprocess
    import sys

    script = (
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/api/v1/token', HTTP_HOST='evil.example').status_code)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.stdout.strip() == "400", run.stderr
    assert "evil.example" not in run.stderr and "Traceback" not in run.stderr
