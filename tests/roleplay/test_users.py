from datetime import timedelta

import pytest

from core.formats import rfc3339
from roleplay.models import Rep
from tests.factories import BASE_TIME, RepFactory, SessionFactory
from tests.helpers import invalid_parameter

pytestmark = pytest.mark.django_db
URL = "/api/v1/users"


def test_users_ordered_by_name_then_id_with_last_session(api, tenant):
    bea = RepFactory(tenant=tenant, full_name="Bea", role="manager")
    ann = RepFactory(tenant=tenant, full_name="Ann")
    SessionFactory(tenant=tenant, user=bea, started_at=BASE_TIME)
    SessionFactory(tenant=tenant, user=bea, started_at=BASE_TIME - timedelta(days=3))
    items = api.get(URL).json()["data"]
    assert [item.pop("updated_at") for item in items] == [
        rfc3339(Rep.unscoped.get(pk=rep.pk).updated_at) for rep in (ann, bea)
    ]
    assert items == [
        {"id": str(ann.id), "full_name": "Ann", "role": "rep", "last_session_at": None},
        {
            "id": str(bea.id),
            "full_name": "Bea",
            "role": "manager",
            "last_session_at": "2026-05-06T17:00:00Z",
        },
    ]


def test_role_filter(api, tenant):
    RepFactory(tenant=tenant, role="rep")
    admin = RepFactory(tenant=tenant, role="admin")
    assert [i["id"] for i in api.get(URL, {"role": "admin"}).json()["data"]] == [str(admin.id)]
    assert "role" in invalid_parameter(api.get(URL, {"role": "boss"}))["details"]


def test_email_only_when_asked_and_allowed(client_for, tenant):
    RepFactory(tenant=tenant, email="ann@acme.test")
    full = client_for(tenant, scopes=["users:read", "users:email"])
    assert "email" not in full.get(URL).json()["data"][0]
    assert full.get(URL, {"include": "email"}).json()["data"][0]["email"] == "ann@acme.test"

    without = client_for(tenant, scopes=["users:read"])
    response = without.get(URL, {"include": "email"})
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "users:email"
    assert "email" not in without.get(URL).json()["data"][0]
    assert full.get(URL, {"include": "phone"}).status_code == 400


@pytest.mark.parametrize("limit", [1, 2])
def test_cursor_walks_every_user_once(api, tenant, limit):
    for name in ["Cy", "Al", "Al", "Bo", "Al"]:
        RepFactory(tenant=tenant, full_name=name)
    everyone = api.get(URL, {"limit": 100}).json()["data"]
    walked, cursor = [], None
    while True:
        body = api.get(URL, {"limit": limit, **({"cursor": cursor} if cursor else {})}).json()
        walked += body["data"]
        if (cursor := body["next_cursor"]) is None:
            break
    assert walked == everyone and len(everyone) == 5


def test_other_tenant_never_listed_and_never_counted(api, tenant, other_tenant):
    mine = RepFactory(tenant=tenant)
    RepFactory(tenant=other_tenant)
    assert [i["id"] for i in api.get(URL).json()["data"]] == [str(mine.id)]


def test_missing_scope_is_403(client_for, tenant):
    response = client_for(tenant, scopes=["sessions:read"]).get(URL)
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "users:read"


@pytest.mark.parametrize("limit", [1, 100])
def test_constant_query_count(api, tenant, limit, django_assert_max_num_queries):
    for _ in range(105):
        SessionFactory(tenant=tenant)  # each with its own rep
    api.get(URL)
    with django_assert_max_num_queries(2):
        data = api.get(URL, {"limit": limit, "include": "email"}).json()["data"]
    assert len(data) == limit and all(item["last_session_at"] for item in data)
