"""Conditional requests and the IETF rate-limit headers (docs/api-guide.md, Answers): every 200
JSON GET carries a strong ETag; If-None-Match that names it is a 304 with no body that the rate
limit does not count; every authenticated answer has RateLimit and RateLimit-Policy."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.viewsets import etag, matches
from roleplay.models import Session
from roleplay.services import session_upsert
from tests.factories import ScorecardFactory, SessionFactory

pytestmark = pytest.mark.django_db

GETS = [
    "/api/v1/token",
    "/api/v1/sessions",
    "/api/v1/scorecards",
    "/api/v1/scenarios",
    "/api/v1/users",
    "/api/v1/deletions",
    # Without `to` the summary answers as of now, and says so (`to` in its body): each answer
    # is a new one. With its period fixed it is the same answer while the data is.
    "/api/v1/analytics/summary?from=2020-01-01&to=2030-01-01",
]


@pytest.fixture(autouse=True)
def _not_at_a_window_edge():
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


@pytest.fixture
def data(tenant):
    return [ScorecardFactory(session__tenant=tenant) for _ in range(3)]


@pytest.mark.parametrize("path", GETS)
def test_every_200_get_has_a_strong_etag_and_a_matching_request_is_a_304(api, data, path):
    first = api.get(path)
    assert first.status_code == 200
    tag = first["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert tag == etag(first.content)
    again = api.get(path)
    assert again["ETag"] == tag  # unchanged data, the same validator
    not_modified = api.get(path, HTTP_IF_NONE_MATCH=tag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == tag
    for listed in (f'"nope", {tag}', f"W/{tag}", "*"):
        assert api.get(path, HTTP_IF_NONE_MATCH=listed).status_code == 304
    assert api.get(path, HTTP_IF_NONE_MATCH='"0123"').status_code == 200


def test_a_detail_has_an_etag_and_errors_have_none(api, data, other_tenant):
    card = data[0]
    detail = api.get(f"/api/v1/sessions/{card.session_id}")
    assert detail.status_code == 200 and detail["ETag"]
    theirs = SessionFactory(tenant=other_tenant)
    # Another tenant's object: the same 404 as a missing one, with no validator to compare.
    missing = api.get(f"/api/v1/sessions/{theirs.id}", HTTP_IF_NONE_MATCH="*")
    assert missing.status_code == 404 and "ETag" not in missing
    bad = api.get("/api/v1/sessions", {"limit": "0"}, HTTP_IF_NONE_MATCH="*")
    assert bad.status_code == 400 and "ETag" not in bad


def test_a_change_of_data_changes_the_etag(api, data):
    before = api.get("/api/v1/sessions")["ETag"]
    summary = api.get(GETS[-1])["ETag"]
    session = Session.unscoped.get(pk=data[0].session_id)
    session.duration_seconds = (session.duration_seconds or 0) + 1
    session_upsert(session=session)
    changed = api.get("/api/v1/sessions", HTTP_IF_NONE_MATCH=before)
    assert changed.status_code == 200 and changed["ETag"] != before
    SessionFactory(tenant=session.tenant)
    assert api.get(GETS[-1], HTTP_IF_NONE_MATCH=summary).status_code == 200


def test_a_304_is_not_counted_against_the_rate_limit(client_for, tenant, data, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    api = client_for(tenant)
    first = api.get("/api/v1/sessions")
    tag = first["ETag"]
    assert first["X-RateLimit-Remaining"] == "2"
    for _ in range(10):
        cached = api.get("/api/v1/sessions", HTTP_IF_NONE_MATCH=tag)
        assert cached.status_code == 304
        assert cached["X-RateLimit-Remaining"] == "2"
        assert cached["RateLimit"].startswith('"default";r=2;')
    assert [api.get("/api/v1/sessions").status_code for _ in range(3)] == [200, 200, 429]


def test_the_ietf_headers_beside_the_x_ratelimit_ones(client_for, tenant, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 5
    api = client_for(tenant)
    for remaining in (4, 3):
        response = api.get("/api/v1/token")
        assert response["RateLimit-Policy"] == '"default";q=5;w=60'
        match = re.fullmatch(r'"default";r=(\d+);t=(\d+)', response["RateLimit"])
        assert match and int(match[1]) == remaining == int(response["X-RateLimit-Remaining"])
        assert 0 <= int(match[2]) <= 60
        assert int(match[2]) == pytest.approx(
            int(response["X-RateLimit-Reset"]) - time.time(), abs=2
        )
    refused = api.get("/api/v1/sessions", {"limit": "x"})
    assert refused.status_code == 400 and refused["RateLimit"].startswith('"default";r=2;')
    for _ in range(3):
        response = api.get("/api/v1/token")
    assert response.status_code == 429 and response["RateLimit"].startswith('"default";r=0;')


def test_unauthenticated_answers_carry_no_rate_limit_headers(client):
    response = client.get("/api/v1/sessions")
    assert response.status_code == 401
    assert "RateLimit" not in response and "ETag" not in response


def test_a_token_without_the_scope_gets_no_etag(client_for, tenant, data):
    api = client_for(tenant, scopes=["users:read"])
    response = api.get("/api/v1/sessions", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 403 and "ETag" not in response


@hsettings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64), st.binary(max_size=64))
def test_the_etag_is_equal_exactly_when_the_bodies_are(a, b):
    assert (etag(a) == etag(b)) == (a == b)


@given(st.text(max_size=80))
def test_any_if_none_match_is_read_without_error(header):
    tag = etag(b"x")
    result = matches(header, tag)
    assert (
        result
        == any(c.strip() == "*" or c.strip().removeprefix("W/") == tag for c in header.split(","))
        if header
        else result is False
    )
