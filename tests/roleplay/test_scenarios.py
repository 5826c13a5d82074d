import base64

import orjson
import pytest

from tests.factories import ScenarioFactory
from tests.helpers import invalid_parameter

pytestmark = pytest.mark.django_db
URL = "/api/v1/scenarios"


def _walk(api, limit: int) -> list[dict]:
    items, cursor = [], None
    while True:
        body = api.get(URL, {"limit": limit, **({"cursor": cursor} if cursor else {})}).json()
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_active_first_then_archived_by_name_then_id(api, tenant):
    ScenarioFactory(tenant=tenant, name="Zebra", status="active")
    ScenarioFactory(tenant=tenant, name="Alpha", status="archived")
    ScenarioFactory(tenant=tenant, name="Mango", status="active")
    twins = [ScenarioFactory(tenant=tenant, name="Mango", status="active") for _ in range(2)]
    items = api.get(URL).json()["data"]
    assert [(i["status"], i["name"]) for i in items] == [
        ("active", "Mango"),
        ("active", "Mango"),
        ("active", "Mango"),
        ("active", "Zebra"),
        ("archived", "Alpha"),
    ]
    mango_ids = [i["id"] for i in items[:3]]
    assert mango_ids == sorted(mango_ids)
    assert {str(t.id) for t in twins} <= set(mango_ids)
    assert set(items[0]) == {"id", "name", "call_type", "status", "created_at", "updated_at"}
    assert items[0]["created_at"] == "2026-01-05T09:00:00Z"


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_opaque_cursor_walks_every_scenario_once(api, tenant, limit):
    for i in range(7):
        ScenarioFactory(tenant=tenant, name=f"S{i % 3}", status=("active", "archived")[i % 2])
    assert _walk(api, limit) == api.get(URL, {"limit": 100}).json()["data"]


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJhIiwiYiJd", "!!!"])
def test_malformed_cursor_is_400(api, cursor):
    body = invalid_parameter(api.get(URL, {"cursor": cursor}))
    assert "cursor" in body["details"]


def test_limit_is_validated(api):
    assert invalid_parameter(api.get(URL, {"limit": "500"}))["details"]["limit"]


def test_other_tenant_never_listed(api, tenant, other_tenant):
    mine = ScenarioFactory(tenant=tenant)
    ScenarioFactory(tenant=other_tenant)
    assert [i["id"] for i in api.get(URL).json()["data"]] == [str(mine.id)]


def test_missing_scope_is_403(client_for, tenant):
    response = client_for(tenant, scopes=["sessions:read"]).get(URL)
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "scenarios:read"


@pytest.mark.parametrize("limit", [1, 100])
def test_constant_query_count(api, tenant, limit, django_assert_max_num_queries):
    for _ in range(110):
        ScenarioFactory(tenant=tenant)
    api.get(URL)
    with django_assert_max_num_queries(2):
        assert len(api.get(URL, {"limit": limit}).json()["data"]) == limit


@pytest.mark.parametrize(
    "key",
    [
        ["active", "a\x00b", "10000000-0000-0000-0000-000000000001"],  # the old, named form
        ["scenarios", "2026-05-06T17:00:00Z\x00", "10000000-0000-0000-0000-000000000001"],
        ["scenarios", "2026-05-06T17:00:00Z", "10000000-0000-0000-0000-00000000000\x00"],
    ],
)
def test_cursor_with_a_nul_character_is_400_not_500(api, key):
    cursor = base64.urlsafe_b64encode(orjson.dumps(key)).decode()
    invalid_parameter(api.get(URL, {"cursor": cursor}))


def test_a_parameter_given_twice_is_400(api):
    response = api.get(URL + "?limit=1&limit=2")
    assert response.status_code == 400
    assert response.json()["details"]["limit"] == ["must be given at most once"]
