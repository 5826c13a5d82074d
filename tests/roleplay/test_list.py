"""GET /api/v1/sessions: shape, order, filters, keyset pagination, 400s, isolation, queries."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from core.formats import rfc3339
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
    TenantFactory,
)
from tests.helpers import db_property, invalid_parameter

pytestmark = pytest.mark.django_db
URL = "/api/v1/sessions"
T0 = datetime(2026, 5, 6, 17, 0, tzinfo=UTC)
SESSION_KEYS = {
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
}


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


def _walk(api, params: dict, limit: int) -> list[str]:
    """Follow next_cursor to the end; return every id seen, in order."""
    seen, cursor = [], None
    for _ in range(10_000):
        query = {**params, "limit": limit}
        if cursor is not None:
            query["cursor"] = cursor
        body = api.get(URL, query).json()
        assert body["ok"] is True, body
        seen += [item["id"] for item in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_happy_path_fields_and_types(api, tenant):
    card = ScorecardFactory(session__tenant=tenant, session__started_at=T0)
    open_session = SessionFactory(
        tenant=tenant,
        status="in_progress",
        started_at=T0 - timedelta(hours=1),
        ended_at=None,
        duration_seconds=None,
    )
    response = api.get(URL)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"ok", "data", "next_cursor"} and body["next_cursor"] is None
    first, second = body["data"]
    assert set(first) == SESSION_KEYS
    card.session.refresh_from_db()
    assert first.pop("updated_at") == rfc3339(card.session.updated_at)
    assert first == {
        "id": str(card.session.id),
        "user_id": str(card.session.user_id),
        "scenario_id": str(card.session.scenario_id),
        "status": "scored",
        "started_at": "2026-05-06T17:00:00Z",
        "ended_at": "2026-05-06T17:07:00Z",
        "duration_seconds": 420,
        "created_at": "2026-05-06T17:00:00Z",
        "scorecard_id": str(card.id),
    }
    assert second["id"] == str(open_session.id)
    assert second["ended_at"] is None and second["duration_seconds"] is None
    assert second["scorecard_id"] is None


def test_fractional_seconds_only_when_non_zero(api, tenant):
    SessionFactory(tenant=tenant, started_at=T0.replace(microsecond=250000))
    assert api.get(URL).json()["data"][0]["started_at"] == "2026-05-06T17:00:00.25Z"


def test_newest_first_ties_by_id_descending(api, tenant):
    sessions = [SessionFactory(tenant=tenant, started_at=T0) for _ in range(3)]
    older = SessionFactory(tenant=tenant, started_at=T0 - timedelta(seconds=1))
    newer = SessionFactory(tenant=tenant, started_at=T0 + timedelta(seconds=1))
    tied = sorted((str(s.id) for s in sessions), reverse=True)
    assert _ids(api.get(URL)) == [str(newer.id), *tied, str(older.id)]


def test_filters(api, tenant):
    rep, scenario = RepFactory(tenant=tenant), ScenarioFactory(tenant=tenant)
    mine = SessionFactory(tenant=tenant, user=rep, started_at=T0, status="failed")
    in_scenario = SessionFactory(
        tenant=tenant, scenario=scenario, started_at=T0 - timedelta(days=2)
    )
    early = SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    late = SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC))
    SessionFactory(tenant=tenant, started_at=datetime(2026, 6, 1, tzinfo=UTC))
    SessionFactory(tenant=tenant, started_at=datetime(2026, 4, 30, 23, 59, 59, tzinfo=UTC))

    assert _ids(api.get(URL, {"user_id": str(rep.id)})) == [str(mine.id)]
    assert _ids(api.get(URL, {"scenario_id": str(scenario.id)})) == [str(in_scenario.id)]
    assert _ids(api.get(URL, {"status": "failed"})) == [str(mine.id)]
    may = _ids(api.get(URL, {"from": "2026-05-01", "to": "2026-05-31"}))
    assert may == [str(late.id), str(mine.id), str(in_scenario.id), str(early.id)]
    assert _ids(api.get(URL, {"user_id": str(uuid.uuid4())})) == []
    # Inclusive bounds, to the microsecond.
    assert _ids(api.get(URL, {"from": "2026-05-06T17:00:00Z", "to": "2026-05-06T17:00:00Z"})) == [
        str(mine.id)
    ]


def test_plain_timestamp_cursor_means_strictly_before(api, tenant):
    at = SessionFactory(tenant=tenant, started_at=T0)
    before = SessionFactory(tenant=tenant, started_at=T0 - timedelta(microseconds=1))
    assert _ids(api.get(URL, {"cursor": "2026-05-06T17:00:00Z"})) == [str(before.id)]
    assert str(at.id) in _ids(api.get(URL, {"cursor": "2026-05-06T17:00:00.000001Z"}))


def test_next_cursor_is_the_last_started_at_and_tie_break_only_on_a_tie(api, tenant):
    a = SessionFactory(tenant=tenant, started_at=T0)
    SessionFactory(tenant=tenant, started_at=T0 - timedelta(minutes=1))
    SessionFactory(tenant=tenant, started_at=T0 - timedelta(minutes=1))
    first = api.get(URL, {"limit": 1}).json()
    assert first["data"][0]["id"] == str(a.id)
    assert first["next_cursor"] == "2026-05-06T17:00:00Z"
    second = api.get(URL, {"limit": 1, "cursor": first["next_cursor"]}).json()
    last = second["data"][0]["id"]
    assert second["next_cursor"] == f"2026-05-06T16:59:00Z~{last}"


@db_property(40)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=14),
    limit=st.integers(min_value=1, max_value=5),
)
def test_every_session_exactly_once_with_heavy_ties(client_for, offsets, limit):
    tenant = TenantFactory()
    rep, scenario = RepFactory(tenant=tenant), ScenarioFactory(tenant=tenant)
    created = [
        SessionFactory(
            tenant=tenant, user=rep, scenario=scenario, started_at=T0 - timedelta(seconds=s)
        )
        for s in offsets
    ]
    expected = [
        str(s.id) for s in sorted(created, key=lambda s: (s.started_at, s.id), reverse=True)
    ]
    assert _walk(client_for(tenant), {}, limit) == expected


def test_more_than_a_page_sharing_one_instant_with_limit_1(api, tenant):
    tied = {str(SessionFactory(tenant=tenant, started_at=T0).id) for _ in range(7)}
    seen = _walk(api, {}, 1)
    assert len(seen) == 7 and set(seen) == tied


def test_traversal_is_stable_while_sessions_are_imported(api, tenant):
    originals = [
        SessionFactory(tenant=tenant, started_at=T0 - timedelta(minutes=i)) for i in range(9)
    ]
    expected = [str(s.id) for s in originals]
    seen, cursor, inserted = [], None, []
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get(URL, query).json()
        seen += [item["id"] for item in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # Newer sessions, and one at the exact instant of the page boundary, arrive meanwhile.
        inserted.append(SessionFactory(tenant=tenant, started_at=T0 + timedelta(hours=1)))
        inserted.append(SessionFactory(tenant=tenant, started_at=body_last_started(body)))
    new_ids = {str(s.id) for s in inserted}
    assert [i for i in seen if i not in new_ids] == expected
    assert len(seen) == len(set(seen))  # nothing twice


def body_last_started(body) -> datetime:
    return datetime.fromisoformat(body["data"][-1]["started_at"].replace("Z", "+00:00"))


def test_cursor_from_a_filtered_list_with_the_same_filters(api, tenant):
    rep = RepFactory(tenant=tenant)
    wanted = [
        SessionFactory(
            tenant=tenant, user=rep, started_at=T0 - timedelta(minutes=i), status="scored"
        )
        for i in range(5)
    ]
    for i in range(5):
        SessionFactory(tenant=tenant, started_at=T0 - timedelta(minutes=i))
    seen = _walk(api, {"user_id": str(rep.id), "status": "scored"}, 2)
    assert seen == [str(s.id) for s in wanted]


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ({"limit": "0"}, ["limit"]),
        ({"limit": "101"}, ["limit"]),
        ({"limit": "ten"}, ["limit"]),
        ({"limit": "-1"}, ["limit"]),
        ({"limit": "1.5"}, ["limit"]),
        ({"limit": ""}, ["limit"]),
        # What surrounds a value is not part of it: an integer, UUID or timestamp is exact.
        ({"limit": "8\x85"}, ["limit"]),
        ({"limit": " 8"}, ["limit"]),
        # Found by a review: integers are parsed without padding or sign (SECURITY.md).
        ({"limit": "000100"}, ["limit"]),
        ({"limit": "05"}, ["limit"]),
        ({"limit": "+5"}, ["limit"]),
        ({"user_id": "30000000-0000-0000-0000-000000000001\n"}, ["user_id"]),
        ({"scenario_id": " 30000000-0000-0000-0000-000000000001"}, ["scenario_id"]),
        ({"from": "2026-05-01\n"}, ["from"]),
        ({"to": " 2026-05-01"}, ["to"]),
        ({"from": "yesterday"}, ["from"]),
        ({"to": "2026-02-30"}, ["to"]),
        ({"from": "2026-06-01", "to": "2026-05-01"}, ["from"]),
        ({"user_id": "42"}, ["user_id"]),
        ({"scenario_id": "not-a-uuid"}, ["scenario_id"]),
        ({"status": "paused"}, ["status"]),
        ({"cursor": "garbage"}, ["cursor"]),
        ({"cursor": "2026-05-06T17:00:00Z~nope"}, ["cursor"]),
        ({"limit": "0", "status": "x", "from": "y"}, ["limit", "status", "from"]),
    ],
)
def test_malformed_parameters_are_400_naming_each(api, query, bad):
    body = invalid_parameter(api.get(URL, query))  # the envelope, each message a string
    assert {k for k in body["details"] if k != "request_id"} == set(bad)


def test_unknown_parameters_are_ignored(api, tenant):
    SessionFactory(tenant=tenant)
    assert len(_ids(api.get(URL, {"colour": "blue", "page": "7"}))) == 1


def test_other_tenants_sessions_never_listed(api, tenant, other_tenant):
    theirs = SessionFactory(tenant=other_tenant)
    mine = SessionFactory(tenant=tenant)
    assert _ids(api.get(URL)) == [str(mine.id)]
    assert _ids(api.get(URL, {"user_id": str(theirs.user_id)})) == []
    assert _ids(api.get(URL, {"scenario_id": str(theirs.scenario_id)})) == []


def test_missing_scope_is_403(client_for, tenant):
    response = client_for(tenant, scopes=["users:read"]).get(URL)
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "sessions:read"


@pytest.mark.parametrize("limit", [1, 100])
def test_constant_query_count(api, tenant, limit, django_assert_max_num_queries):
    for _ in range(120):
        ScorecardFactory(session__tenant=tenant)
    api.get(URL)  # first use writes last_used_at; measure the steady state
    with django_assert_max_num_queries(2):  # token lookup + the page
        body = api.get(URL, {"limit": limit}).json()
    assert len(body["data"]) == limit and body["next_cursor"]


def test_unencoded_plus_in_an_offset_is_read_as_plus(api, tenant):
    session = SessionFactory(tenant=tenant, started_at=T0)
    # "+02:00" sent unencoded arrives as " 02:00": 19:00+02:00 is 17:00Z.
    response = api.get(URL + "?from=2026-05-06T19:00:00+02:00&to=2026-05-06T19:00:00+02:00")
    assert _ids(response) == [str(session.id)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_a_tie_cursor_is_an_index_bound_not_a_filter(api, tenant):
    """However deep, a page starts where the index says: (started_at, id) < (x, y) is a bound
    of the list index; the OR form would filter every row before the cursor."""
    for _ in range(3):
        SessionFactory(tenant=tenant, started_at=T0)
    cursor = api.get(URL, {"limit": 1}).json()["next_cursor"]
    assert "~" in cursor
    with CaptureQueriesContext(connection) as queries:
        assert api.get(URL, {"limit": 1, "cursor": cursor}).status_code == 200
    page_sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in c.fetchall())
    assert "Index Cond" in plan and "ROW(started_at, id) <" in plan, plan
    assert "Filter" not in plan, plan
