"""The OpenAPI schema: served, valid, committed, and describing what the endpoints return."""

import io
import json
import re
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from analytics.shapes import SUMMARY
from core import schema as s
from core.examples import example
from roleplay import shapes
from roleplay.shapes import (
    SCENARIO,
    SCORECARD,
    SESSION,
    SESSION_DETAIL,
    TURN,
    USER,
    scorecard_example,
)
from tenants.models import Tenant
from tenants.shapes import TOKEN_INFO
from tests.factories import ScorecardFactory, SessionFactory
from tests.importing.lines import run_import

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    ("/api/v1/sessions", "list_sessions", "sessions:read"),
    ("/api/v1/sessions/{id}", "get_session", "sessions:read"),
    ("/api/v1/scorecards", "list_scorecards", "scorecards:read"),
    ("/api/v1/scorecards/{id}", "get_scorecard", "scorecards:read"),
    ("/api/v1/scenarios", "list_scenarios", "scenarios:read"),
    ("/api/v1/scenarios/{id}", "get_scenario", "scenarios:read"),
    ("/api/v1/users", "list_users", "users:read"),
    ("/api/v1/users/{id}", "get_user", "users:read"),
    (
        "/api/v1/deletions",
        "list_deletions",
        "sessions:read | scorecards:read | scenarios:read | users:read",
    ),
    ("/api/v1/analytics/summary", "get_analytics_summary", "analytics:read"),
    ("/api/v1/analytics/breakdown", "get_analytics_breakdown", "analytics:read"),
    ("/api/v1/token", "get_token", None),
}


def _generated() -> str:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return out.getvalue()


def test_committed_schema_is_up_to_date():
    committed = (ROOT / "openapi.yaml").read_text()
    assert _generated() == committed, (
        "openapi.yaml is stale: run python manage.py spectacular --file openapi.yaml"
    )


def test_every_operation_has_envelope_errors_security_and_scope():
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    seen = set()
    for path, operations in document["paths"].items():
        op = operations["get"]
        seen.add((path, op["operationId"], op["x-required-scope"]))
        assert set(operations) == {"get"}
        assert op["security"] == [{"bearerAuth": []}]
        assert {"200", "401", "429", "500", "503"} <= set(op["responses"])
        assert "304" in op["responses"]  # conditional requests (ETag)
        assert "content" not in op["responses"]["304"]
        for status, response in op["responses"].items():
            if status == "304":
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error") == (status != "200")
        if op["x-required-scope"]:
            assert "403" in op["responses"]
            assert f"`{op['x-required-scope']}`" in op["description"]
    assert seen == OPERATIONS
    error = document["components"]["schemas"]["Error"]
    code_ref = error["properties"]["code"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][code_ref]["enum"] == s.ERROR_CODES
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"


@pytest.mark.django_db
def test_schema_yaml_and_json_and_docs_pages_need_no_token():
    client = APIClient()
    yaml_response = client.get("/api/v1/schema")
    assert yaml_response.status_code == 200
    assert yaml.safe_load(yaml_response.content)["openapi"].startswith("3.")
    json_response = client.get("/api/v1/schema?format=json")
    assert json_response.status_code == 200
    assert json.loads(json_response.content)["info"]["title"] == "Role-play reporting API"
    for page in ("/api/v1/docs", "/api/v1/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "cdn." not in html and "unpkg" not in html  # no internet needed
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', html), page  # nor any other host


@pytest.mark.django_db
def test_documented_shapes_match_the_responses(api, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    session = api.get("/api/v1/sessions").json()["data"][0]
    assert set(session) == set(SESSION.serializer().fields)
    detail = api.get(f"/api/v1/sessions/{card.session_id}").json()["data"]
    assert set(detail) == set(SESSION_DETAIL.serializer().fields)
    assert set(detail["transcript"][0]) == set(TURN.serializer().fields)
    scorecard = api.get(f"/api/v1/scorecards/{card.id}").json()["data"]
    assert set(scorecard) == set(SCORECARD.serializer().fields)
    scenario = api.get("/api/v1/scenarios").json()["data"][0]
    assert set(scenario) == set(SCENARIO.serializer().fields)
    user = api.get("/api/v1/users?include=email").json()["data"][0]
    assert set(user) == set(USER.serializer().fields)
    summary = api.get("/api/v1/analytics/summary").json()["data"]
    assert set(summary) == set(SUMMARY.serializer().fields)
    token = api.get("/api/v1/token").json()["data"]
    assert set(token) == set(TOKEN_INFO.serializer().fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("session_page", "/api/v1/sessions?limit=2"),
        ("session", None),
        ("scorecard", None),
        ("scenario_page", None),
        ("user_page", None),
    ],
)
def test_schema_examples_are_real_responses_for_the_demo_data(client_for, kind, url):

    build = {
        "session_page": shapes.session_page_example,
        "session": shapes.session_example,
        "scorecard": scorecard_example,
        "scenario_page": shapes.scenario_page_example,
        "user_page": shapes.user_page_example,
    }[kind]
    run_import(str(ROOT / "fixtures" / "demo.jsonl"))
    api = client_for(Tenant.objects.get(slug="acme"))
    value = json.loads(json.dumps(example(build)[0].value))  # a copy: the example is cached
    if kind == "session":
        url = f"/api/v1/sessions/{value['data']['id']}"
        real = api.get(url).json()
        real["data"]["transcript"] = real["data"]["transcript"][:4]
    elif kind == "scorecard":
        real = api.get(f"/api/v1/scorecards/{value['data']['id']}").json()
    elif kind == "scenario_page":
        real = api.get("/api/v1/scenarios?limit=100").json()
        real["data"] = real["data"][:2]
    elif kind == "user_page":
        real = api.get("/api/v1/users?limit=100").json()
        real["data"] = real["data"][:2]
    else:
        real = api.get(url).json()
    # updated_at is when this test's import ran: the example shows a plausible instant.
    for real_item, example_item in zip(_objects(real), _objects(value), strict=True):
        assert RFC3339_RE.match(real_item.pop("updated_at"))
        example_item.pop("updated_at")
    assert real == value


RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _objects(body):
    data = body["data"]
    return data if isinstance(data, list) else [data]


@pytest.mark.django_db
def test_every_documented_response_header_is_sent(api, client_for, tenant, settings):
    """Each status of an operation, provoked for real, carries the headers the schema lists."""
    document = APIClient().get("/api/v1/schema?format=json").json()
    detail = document["paths"]["/api/v1/sessions/{id}"]["get"]["responses"]
    listing = document["paths"]["/api/v1/sessions"]["get"]["responses"]
    session = SessionFactory(tenant=tenant)
    url = f"/api/v1/sessions/{session.id}"
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    no_scope = client_for(tenant, scopes=["users:read"])
    provoked = {
        "200": api.get(url),
        "400": api.get("/api/v1/sessions", {"limit": "0"}),  # the list: the detail has none
        "401": APIClient().get(url),
        "403": no_scope.get(url),
        "404": api.get(f"/api/v1/sessions/{uuid.uuid4()}"),
    }
    provoked["429"] = api.get(url)  # the fourth request of this token this minute
    for status, response in provoked.items():
        assert str(response.status_code) == status
        documented = set((listing if status == "400" else detail)[status]["headers"])
        assert "X-Request-ID" in documented
        missing = {name for name in documented if not response.has_header(name)}
        assert not missing, (status, missing)
        if "X-RateLimit-Limit" not in documented:  # and nothing undocumented of that kind
            assert not response.has_header("X-RateLimit-Limit"), status


def test_try_it_out_sends_no_value_the_visitor_did_not_choose():
    """Swagger UI fills a parameter's example into "Try it out": a cursor there would make the
    first page start in the past (newest first would look broken). A required parameter's
    example is the value the visitor must choose anyway (``by=user,week``)."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    schema = parameter.get("schema", {})
                    assert "example" not in schema and "example" not in parameter, (
                        path,
                        parameter["name"],
                    )


def test_tags_come_in_the_order_a_newcomer_needs():
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    names = [tag["name"] for tag in document["tags"]]
    assert names == [
        "token",
        "sessions",
        "scorecards",
        "scenarios",
        "users",
        "analytics",
        "deletions",
    ]
    used = {tag for ops in document["paths"].values() for op in ops.values() for tag in op["tags"]}
    assert used == set(names)
