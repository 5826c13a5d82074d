import uuid

import pytest

from tests.factories import ScorecardFactory, SessionFactory

pytestmark = pytest.mark.django_db

TRANSCRIPT = [
    {"role": "agent", "message": "¿Bueno? Wer ist da? 🏠 “quoted” — dash", "time": 0},
    {
        "role": "user",
        "message": "Hi — it’s Zoë from Acme.\nNew line, tab\t, emoji 👍🏽",
        "time": 2.5,
    },
    {"role": "agent", "message": "", "time": 7},
]


def test_session_with_transcript_exactly_as_stored(api, tenant):
    card = ScorecardFactory(session__tenant=tenant, session__transcript=TRANSCRIPT)
    response = api.get(f"/api/v1/sessions/{card.session.id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["transcript"] == TRANSCRIPT
    assert data["scorecard_id"] == str(card.id)
    assert set(data) == {
        "id",
        "user_id",
        "scenario_id",
        "status",
        "started_at",
        "ended_at",
        "duration_seconds",
        "created_at",
        "scorecard_id",
        "updated_at",
        "transcript",
    }
    assert response["Content-Type"] == "application/json"


def test_other_tenants_session_is_404(api, other_tenant):
    theirs = SessionFactory(tenant=other_tenant)
    unknown = api.get(f"/api/v1/sessions/{uuid.uuid4()}").json()
    response = api.get(f"/api/v1/sessions/{theirs.id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["error"] == unknown["error"]
    assert api.get("/api/v1/sessions/not-a-uuid").status_code == 404
    # A newline after the id: `$` in a pattern matches before it, uuid.UUID() does not.
    assert api.get(f"/api/v1/sessions/{theirs.id}%0A").status_code == 404


def test_missing_scope_is_403(client_for, tenant):
    session = SessionFactory(tenant=tenant)
    response = client_for(tenant, scopes=["scorecards:read"]).get(f"/api/v1/sessions/{session.id}")
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "sessions:read"


def test_constant_query_count(api, tenant, django_assert_max_num_queries):
    session = SessionFactory(tenant=tenant)
    api.get(f"/api/v1/sessions/{session.id}")
    with django_assert_max_num_queries(2):
        assert api.get(f"/api/v1/sessions/{session.id}").status_code == 200
