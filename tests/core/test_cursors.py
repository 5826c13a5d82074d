"""Every list's cursor names the list (and kind of list) that issued it, is a 400 anywhere else,
and carries no text of the data: only ids and timestamps (docs/api-guide.md, Paging; found by
a review: a /deletions cursor was accepted by /scorecards and by the updated_since lists, a
/scorecards cursor at /deletions was a 410 ``resync_required``, and the /users and /scenarios
cursors held the last row's name in base64, copied into every access log)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from core.cursors import KINDS, STALE
from core.formats import UUID_RE, parse_timestamp
from roleplay.models import Rep, Scenario
from roleplay.services import (
    rep_delete,
    rep_upsert,
    scenario_delete,
    scenario_upsert,
    session_delete,
)
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    TenantFactory,
)
from tests.helpers import db_property, invalid_parameter

pytestmark = pytest.mark.django_db
EPOCH = "1970-01-01T00:00:00Z"
# Long before the deletions' retention: a /scorecards cursor of these sessions' start is the
# position /deletions used to read as "older than what is kept", a 410.
LONG_AGO = datetime(2020, 1, 6, 12, 0, tzinfo=UTC)
SECRET_NAMES = ["Quixotic Zanzibar-Ümlaut", "Quixotic Zanzibar-Ümlaut", "Yolanda Secretary"]
SECRET_SCENARIOS = ["Merger Pitch: Project Nightjar", "Merger Pitch: Project Nightjar", "Ωmega"]
SECRET_WORDS = ["Quixotic", "Zanzibar", "Yolanda", "Secretary", "Merger", "Nightjar", "mega"]

# Each kind of list: (path, the parameters that make it that kind). "sessions~" is the plain
# /sessions cursor in its tie-break form (<instant>~<id>).
LISTS = {
    "sessions": ("sessions", {}),
    "sessions~": ("sessions", {}),
    "sessions.updated": ("sessions", {"updated_since": EPOCH}),
    "scorecards": ("scorecards", {}),
    "scorecards.updated": ("scorecards", {"updated_since": EPOCH}),
    "scenarios": ("scenarios", {}),
    "scenarios.updated": ("scenarios", {"updated_since": EPOCH}),
    "users": ("users", {}),
    "users.updated": ("users", {"updated_since": EPOCH}),
    "deletions": ("deletions", {}),
}


def _decoded(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


@pytest.fixture
def issued(api, tenant) -> dict[str, str]:
    """A next_cursor of every kind of list, of one tenant's data."""
    reps = [RepFactory(tenant=tenant, full_name=name) for name in SECRET_NAMES]
    scenarios = [ScenarioFactory(tenant=tenant, name=name) for name in SECRET_SCENARIOS]
    # Two sessions share an instant (the tie-break form), a third is earlier.
    for n, started_at in enumerate([LONG_AGO, LONG_AGO, LONG_AGO - timedelta(minutes=1)]):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=reps[n],
            session__scenario=scenarios[n],
            session__started_at=started_at,
        )
    gone = ScorecardFactory(session__tenant=tenant, session__started_at=LONG_AGO)
    session_delete(session=gone.session)  # two deletions: the session and its scorecard
    cursors = {}
    for kind, (path, params) in LISTS.items():
        limit = 2 if kind == "sessions" else 1
        body = api.get(f"/api/v1/{path}", {**params, "limit": limit}).json()
        assert body["next_cursor"], (kind, body)
        cursors[kind] = body["next_cursor"]
    assert "~" in cursors["sessions~"] and "~" not in cursors["sessions"]
    return cursors


@pytest.mark.parametrize("receiver", list(LISTS))
def test_a_cursor_is_a_400_at_every_other_list(api, issued, receiver):
    path, params = LISTS[receiver]
    plain = {"sessions", "sessions~"}  # the two forms of the plain /sessions cursor
    same = plain if receiver in plain else {receiver}
    for sender, cursor in issued.items():
        response = api.get(f"/api/v1/{path}", {**params, "cursor": cursor})
        if sender in same:
            assert response.status_code == 200, (sender, response.content)
            continue
        body = invalid_parameter(response)
        assert set(body["details"]) == {"cursor", "request_id"}, (sender, body)


def test_a_scorecards_cursor_at_deletions_is_a_400_not_a_410(api, issued):
    """Its instant (a session's start in 2020) is older than the deletions kept: it used to be
    read as a deletions position, and answered "copy everything again"."""
    response = api.get("/api/v1/deletions", {"cursor": issued["scorecards"]})
    body = invalid_parameter(response)
    assert "/scorecards" in body["details"]["cursor"][0]


def test_the_message_names_the_issuer(api, issued):
    response = api.get("/api/v1/scorecards", {"cursor": issued["deletions"]})
    [message] = invalid_parameter(response)["details"]["cursor"]
    assert message.startswith("was issued by /deletions")
    response = api.get("/api/v1/users", {"cursor": issued["sessions"]})
    [message] = invalid_parameter(response)["details"]["cursor"]
    assert message.startswith("was issued by /sessions")


def test_opaque_cursors_hold_a_kind_an_instant_and_an_id_only(issued):
    for kind, cursor in issued.items():
        if kind.startswith("sessions") and kind != "sessions.updated":
            continue  # the contract's plain form: <started_at>[~<id>]
        issuer, at, row_id = orjson.loads(_decoded(cursor))
        assert issuer == kind and issuer in KINDS
        assert parse_timestamp(at) and UUID_RE.match(row_id), (kind, at, row_id)


@pytest.mark.parametrize("path", ["users", "scenarios"])
@pytest.mark.parametrize("params", [{}, {"updated_since": EPOCH}])
def test_no_cursor_carries_a_name(api, tenant, path, params):
    for name in SECRET_NAMES:
        RepFactory(tenant=tenant, full_name=name)
    for name in SECRET_SCENARIOS:
        ScenarioFactory(tenant=tenant, name=name)
    cursors, cursor = [], None
    while True:
        query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = api.get(f"/api/v1/{path}", query).json()
        if (cursor := body["next_cursor"]) is None:
            break
        cursors.append(cursor)
    assert len(cursors) == 2
    for cursor in cursors:
        seen = [cursor, _decoded(cursor).decode("utf-8", "replace")]
        for word in SECRET_WORDS:
            assert not any(word.lower() in text.lower() for text in seen), (word, seen)


# -- the name-ordered lists: an id-only position ---------------------------------------------


def _walk(api, path: str, limit: int, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = api.get(f"/api/v1/{path}", query)
        assert response.status_code == 200, response.content
        items += response.json()["data"]
        if (cursor := response.json()["next_cursor"]) is None:
            return items


@db_property(30)
@given(
    people=st.lists(
        st.tuples(st.sampled_from(["Al", "Bo", "al", "Al Bo"]), st.sampled_from(Rep.Role.values)),
        max_size=9,
    ),
    things=st.lists(
        st.tuples(st.sampled_from(["S", "T", "S "]), st.sampled_from(Scenario.Status.values)),
        max_size=9,
    ),
    limit=st.integers(1, 4),
)
def test_every_user_and_scenario_exactly_once_with_tied_names(client_for, people, things, limit):
    tenant = TenantFactory()
    for name, role in people:
        RepFactory(tenant=tenant, full_name=name, role=role)
    for name, status in things:
        ScenarioFactory(tenant=tenant, name=name, status=status)
    api = client_for(tenant)
    for path, params in [("users", {}), ("users", {"role": "rep"}), ("scenarios", {})]:
        everything = api.get(f"/api/v1/{path}", {**params, "limit": 100}).json()["data"]
        walked = _walk(api, path, limit, **params)
        assert walked == everything
        assert len({i["id"] for i in walked}) == len(walked)


@pytest.mark.parametrize("path", ["users", "scenarios"])
def test_other_rows_changing_keep_the_position(api, tenant, path):
    """Rows added, renamed or deleted around the cursor's row do not move it."""
    factory, field = (RepFactory, "full_name") if path == "users" else (ScenarioFactory, "name")
    rows = {name: factory(tenant=tenant, **{field: name}) for name in ["B", "C", "D", "E"]}
    first = api.get(f"/api/v1/{path}", {"limit": 2}).json()
    assert [i[field] for i in first["data"]] == ["B", "C"]
    factory(tenant=tenant, **{field: "A"})  # before the cursor: not seen, not shifting
    factory(tenant=tenant, **{field: "F"})
    renamed = rows["D"]
    setattr(renamed, field, "Z")
    (rep_upsert(rep=renamed) if path == "users" else scenario_upsert(scenario=renamed))
    rest = _walk(api, path, 2, cursor=first["next_cursor"])
    assert [i[field] for i in rest] == ["E", "F", "Z"]


@pytest.mark.parametrize("path", ["users", "scenarios"])
@pytest.mark.parametrize("change", ["renamed", "deleted"])
def test_a_cursor_whose_row_changed_is_a_400_saying_start_again(api, tenant, path, change):
    """Its place in the order cannot be known without its old name, which the cursor does not
    hold: the client is told to list again, never silently given a page from elsewhere."""
    factory, field = (RepFactory, "full_name") if path == "users" else (ScenarioFactory, "name")
    rows = [factory(tenant=tenant, **{field: name}) for name in ["B", "C", "D"]]
    cursor = api.get(f"/api/v1/{path}", {"limit": 1}).json()["next_cursor"]
    if change == "renamed":
        setattr(rows[0], field, "A")
        (rep_upsert(rep=rows[0]) if path == "users" else scenario_upsert(scenario=rows[0]))
    else:
        (rep_delete(rep=rows[0]) if path == "users" else scenario_delete(scenario=rows[0]))
    response = api.get(f"/api/v1/{path}", {"limit": 1, "cursor": cursor})
    body = invalid_parameter(response)
    assert body["details"]["cursor"] == [STALE]


@pytest.mark.parametrize("path", ["users", "scenarios"])
def test_another_tenants_cursor_is_no_position_here(api, tenant, other_tenant, client_for, path):
    factory = RepFactory if path == "users" else ScenarioFactory
    for _ in range(2):
        factory(tenant=tenant)
        factory(tenant=other_tenant)
    theirs = client_for(other_tenant).get(f"/api/v1/{path}", {"limit": 1}).json()["next_cursor"]
    invalid_parameter(api.get(f"/api/v1/{path}", {"limit": 1, "cursor": theirs}))


@pytest.mark.parametrize("path", ["users", "scenarios"])
def test_a_deep_page_costs_the_queries_of_the_first(api, tenant, path):
    factory = RepFactory if path == "users" else ScenarioFactory
    for _ in range(30):
        factory(tenant=tenant)
    api.get(f"/api/v1/{path}", {"limit": 10})  # first use writes last_used_at
    with CaptureQueriesContext(connection) as page_one:
        first = api.get(f"/api/v1/{path}", {"limit": 10}).json()
    with CaptureQueriesContext(connection) as page_two:
        second = api.get(f"/api/v1/{path}", {"limit": 10, "cursor": first["next_cursor"]})
    assert second.status_code == 200 and len(second.json()["data"]) == 10
    assert len(page_two.captured_queries) == len(page_one.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
@pytest.mark.parametrize(
    ("path", "order"), [("users", ["full_name", "id"]), ("scenarios", ["status", "name", "id"])]
)
def test_the_id_only_position_is_an_index_bound(api, tenant, path, order):
    """The cursor's row is read once (an InitPlan), and the row comparison with its sort key
    bounds the list index, as a (name, id) > (x, y) of constants would."""
    factory = RepFactory if path == "users" else ScenarioFactory
    for _ in range(3):
        factory(tenant=tenant)
    cursor = api.get(f"/api/v1/{path}", {"limit": 1}).json()["next_cursor"]
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/api/v1/{path}", {"limit": 1, "cursor": cursor}).status_code == 200
    page_sql = queries.captured_queries[-1]["sql"]
    with connection.cursor() as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("EXPLAIN " + page_sql)
        plan = "\n".join(r[0] for r in c.fetchall())
    row = ", ".join(rf"\(?{column}\)?(::text)?" for column in order)
    assert "InitPlan" in plan and re.search(rf"Index Cond: .*ROW\({row}\) > ROW\(", plan), plan
