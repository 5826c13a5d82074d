import uuid

import pytest

from core.formats import rfc3339
from tests.factories import ScorecardFactory

pytestmark = pytest.mark.django_db


def test_scorecard_fields(api, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    response = api.get(f"/api/v1/scorecards/{card.id}")
    assert response.status_code == 200
    data = response.json()["data"]
    card.refresh_from_db()
    assert data.pop("updated_at") == rfc3339(card.updated_at)
    assert data == {
        "id": str(card.id),
        "session_id": str(card.session_id),
        "user_id": str(card.session.user_id),
        "scenario_id": str(card.session.scenario_id),
        "overall_score": 80,
        "verdict": "solid",
        "headline": "Good discovery, rushed close.",
        "categories": [
            {"key": "discovery", "label": "Discovery", "score": 82, "feedback": "Good."}
        ],
        "callouts": [{"kind": "strength", "text": "Reframed the objection.", "time": 2.5}],
        "created_at": (card.created_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert card.created_at.microsecond == 0


def test_session_links_to_its_scorecard(api, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    session = api.get(f"/api/v1/sessions/{card.session_id}").json()["data"]
    assert api.get(f"/api/v1/scorecards/{session['scorecard_id']}").json()["data"]["id"] == str(
        card.id
    )


def test_other_tenants_scorecard_is_404(api, other_tenant):
    theirs = ScorecardFactory(session__tenant=other_tenant)
    for path_id in (theirs.id, uuid.uuid4(), "nope", f"{uuid.uuid4()}%0A"):
        response = api.get(f"/api/v1/scorecards/{path_id}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_missing_scope_is_403(client_for, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    response = client_for(tenant, scopes=["sessions:read"]).get(f"/api/v1/scorecards/{card.id}")
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "scorecards:read"


def test_constant_query_count(api, tenant, django_assert_max_num_queries):
    card = ScorecardFactory(session__tenant=tenant)
    api.get(f"/api/v1/scorecards/{card.id}")
    with django_assert_max_num_queries(2):
        assert api.get(f"/api/v1/scorecards/{card.id}").status_code == 200
