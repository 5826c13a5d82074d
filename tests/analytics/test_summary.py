import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics.selectors import round_half_up
from analytics.shapes import summary_example
from core.examples import demo_records
from tenants.models import Tenant
from tests.factories import RepFactory, ScorecardFactory, SessionFactory
from tests.helpers import invalid_parameter

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/summary"
MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def _summary(api, query) -> dict:
    response = api.get(URL, query)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_figures_over_the_period(api, tenant):
    rep = RepFactory(tenant=tenant)
    at = datetime(2026, 5, 6, 17, tzinfo=UTC)
    for score in (80, 81):
        ScorecardFactory(
            session__tenant=tenant, session__user=rep, session__started_at=at, overall_score=score
        )
    SessionFactory(tenant=tenant, user=rep, started_at=at)  # not scored
    SessionFactory(tenant=tenant, started_at=datetime(2026, 6, 1, tzinfo=UTC))  # outside
    assert _summary(api, MAY) == {
        "from": "2026-05-01T00:00:00Z",
        "to": "2026-05-31T23:59:59.999999Z",
        "sessions": 3,
        "scored": 2,
        "avg_score": 81,  # 80.5 rounds half up
        "unique_reps": 1,
    }


def test_nothing_scored_gives_null_average(api, tenant):
    SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6, tzinfo=UTC))
    data = _summary(api, MAY)
    assert (data["sessions"], data["scored"], data["avg_score"]) == (1, 0, None)


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [(161, 2, 81), (160, 2, 80), (1, 3, 0), (2, 3, 1), (299, 3, 100)],
)
def test_round_half_up(total, count, expected):
    assert round_half_up(total, count) == expected


def test_defaults_are_the_last_30_days(api, tenant):
    SessionFactory(tenant=tenant, started_at=timezone.now() - timedelta(days=29))
    SessionFactory(tenant=tenant, started_at=timezone.now() - timedelta(days=31))
    data = _summary(api, {})
    to = datetime.fromisoformat(data["to"].replace("Z", "+00:00"))
    start = datetime.fromisoformat(data["from"].replace("Z", "+00:00"))
    assert to - start == timedelta(days=30)
    assert abs(to - timezone.now()) < timedelta(minutes=1)
    assert data["sessions"] == 1
    only_to = _summary(api, {"to": "2026-05-31"})
    assert only_to["from"] == "2026-05-01T23:59:59.999999Z"


def test_user_and_scenario_filters(api, tenant):
    session = SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6, tzinfo=UTC))
    SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6, tzinfo=UTC))
    assert _summary(api, {**MAY, "user_id": str(session.user_id)})["sessions"] == 1
    assert _summary(api, {**MAY, "scenario_id": str(session.scenario_id)})["sessions"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-06-01", "to": "2026-05-01"},
        {"from": "x"},
        {"user_id": "1"},
        {"scenario_id": "z"},
    ],
)
def test_bad_parameters_are_400(api, query):
    assert set(query) & set(invalid_parameter(api.get(URL, query))["details"])


@pytest.mark.parametrize("to", ["0001-01-05", "0000-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00"])
def test_a_to_near_the_calendar_start_defaults_from_to_the_earliest_instant(api, tenant, to):
    """30 days before such a `to` is before year 1: the period starts at the earliest instant."""
    SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6, tzinfo=UTC))
    data = _summary(api, {"to": to})
    assert data["from"] == "0001-01-01T00:00:00Z"
    assert data["sessions"] == 0


def test_a_from_after_the_default_to_is_400(api):
    assert api.get(URL, {"from": "2999-01-01"}).status_code == 400


def test_other_tenant_is_never_counted(api, tenant, other_tenant):
    ScorecardFactory(
        session__tenant=other_tenant, session__started_at=datetime(2026, 5, 6, tzinfo=UTC)
    )
    assert _summary(api, MAY)["sessions"] == 0


def test_missing_scope_is_403(client_for, tenant):
    response = client_for(tenant, scopes=["sessions:read"]).get(URL)
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "analytics:read"


def test_agrees_with_the_list_endpoints(api, tenant):
    """Page through /sessions (and each scorecard) for the period; recompute the summary."""
    reps = [RepFactory(tenant=tenant) for _ in range(4)]
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(40):
        kwargs = {
            "tenant": tenant,
            "user": reps[i % 4],
            "started_at": start + timedelta(hours=19 * i),
        }
        if i % 3:
            ScorecardFactory(
                session__tenant=tenant,
                session__user=reps[i % 4],
                session__started_at=kwargs["started_at"],
                overall_score=(i * 37) % 101,
            )
        else:
            SessionFactory(**kwargs)
    sessions, cursor = [], None
    while True:
        query = {**MAY, "limit": 7, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/sessions", query).json()
        sessions += body["data"]
        if (cursor := body["next_cursor"]) is None:
            break
    scores = [
        api.get(f"/api/v1/scorecards/{s['scorecard_id']}").json()["data"]["overall_score"]
        for s in sessions
        if s["scorecard_id"]
    ]
    expected_avg = int(sum(scores) / len(scores) + 0.5) if scores else None
    data = _summary(api, MAY)
    assert data["sessions"] == len(sessions)
    assert data["scored"] == len(scores)
    assert data["avg_score"] == expected_avg
    assert data["unique_reps"] == len({s["user_id"] for s in sessions})


def test_constant_query_count(api, tenant, django_assert_max_num_queries):
    for _ in range(50):
        ScorecardFactory(
            session__tenant=tenant, session__started_at=datetime(2026, 5, 6, tzinfo=UTC)
        )
    api.get(URL, MAY)
    # Token, partial-day edges, whole-day rollups, reps probe: the same for any data size.
    with django_assert_max_num_queries(4):
        assert _summary(api, MAY)["sessions"] == 50


def test_the_schemas_summary_example_is_what_the_api_answers_for_the_demo(client_for):
    """The example is computed from the demo file by the contract's definitions; the API, fed
    the same file, must answer exactly that for the same period."""
    call_command("import_data", "fixtures/demo.jsonl", stdout=io.StringIO())
    demo = demo_records()
    expected = summary_example(demo, demo["tenant"][0]["id"])["data"]
    api = client_for(Tenant.objects.get(id=demo["tenant"][0]["id"]))
    response = api.get(
        "/api/v1/analytics/summary", {"from": expected["from"], "to": expected["to"]}
    )
    assert response.status_code == 200
    assert response.json()["data"] == expected
    assert expected["scored"] > 0 and expected["avg_score"] is not None
