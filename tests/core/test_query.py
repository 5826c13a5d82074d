"""A query parameter is declared once (core/params.py): the schema documents exactly the
parameters a view's parser reads, and the parser reads exactly those."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from django.http import QueryDict
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiParameter

from analytics import views as analytics_views
from core import cursors
from core.cursors import SessionCursor, encode_opaque
from core.errors import InvalidParameter
from core.params import (
    LIMIT,
    PERIOD,
    UPDATED_SINCE,
    USER_ID,
    Choice,
    ChoiceSet,
    Cursor,
    Query,
    Timestamp,
)
from core.schema import PATH_ID, api_operation
from roleplay import views as roleplay_views
from sync import views as sync_views
from tests.helpers import invalid_parameter

VIEW_QUERIES = [
    value
    for module in (roleplay_views, sync_views, analytics_views)
    for value in vars(module).values()
    if isinstance(value, Query)
]
BAD = "!"  # malformed for every kind of parameter: number, instant, UUID, choice, cursor


def _operations() -> dict[str, set[str]]:
    """Each operation's path (an id filled in) -> the query parameters its schema declares."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    operations = {}
    for path, methods in document["paths"].items():
        url = path.replace("{id}", str(uuid.uuid4()))
        parameters = methods["get"].get("parameters", [])
        operations[url] = {p["name"] for p in parameters if p["in"] == "query"}
    return operations


def _required() -> dict[str, dict[str, str]]:
    """Each operation's path -> its required query parameters, each with its schema's example
    (sent along, so that every other parameter is read on its own)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path.replace("{id}", "x"): {
            p["name"]: p["schema"]["example"]
            for p in methods["get"].get("parameters", [])
            if p["in"] == "query" and p.get("required")
        }
        for path, methods in document["paths"].items()
    }


def _named(response) -> set[str]:
    return set(invalid_parameter(response)["details"]) - {"request_id"}


@pytest.mark.django_db
def test_every_operation_reads_exactly_the_query_parameters_its_schema_declares(api):
    operations = _operations()
    required = _required()
    assert len(operations) == 12
    every_name = set().union(*operations.values())
    undeclared = {"x", "offset", "page", "sort", "since_id"}
    for url, declared in operations.items():
        # Every name any operation declares, and a few none does, all malformed at once: the
        # 400 names exactly this operation's own.
        response = api.get(url, {name: BAD for name in every_name | undeclared})
        if declared:
            assert _named(response) == declared, url
        else:
            assert response.status_code in (200, 404), (url, response.content)
        base = next(r for path, r in required.items() if re.fullmatch(path.replace("x", ".*"), url))
        for name in sorted(declared):  # each one alone is read, and named
            assert _named(api.get(url, {**base, name: BAD})) == {name}, (url, name)
        if base:  # and a required one left out is named
            assert _named(api.get(url, {})) == set(base), url
        for name in sorted(every_name - declared):  # another operation's: ignored
            query = {**base, name: BAD}
            assert api.get(url, query).status_code in (200, 404), (url, name)


class Recorder(QueryDict):
    """A query string that records which parameters were looked up."""

    def __init__(self, query: str = ""):
        self.asked: set[str] = set()
        super().__init__(query)
        self.asked.clear()  # what building it looked up

    def __contains__(self, name):
        self.asked.add(name)
        return super().__contains__(name)

    def getlist(self, name, default=None):
        self.asked.add(name)
        return super().getlist(name, default)

    def get(self, name, default=None):
        self.asked.add(name)
        return super().get(name, default)


@pytest.mark.parametrize("query", VIEW_QUERIES, ids=repr)
@pytest.mark.parametrize("given", ["", "updated_since=2026-05-01"])
def test_a_views_query_reads_the_names_it_documents_and_no_other(query, given):
    assert len(VIEW_QUERIES) == 8
    names = [documented.name for documented in query.documented]
    assert set(names) == query.names and len(names) == len(query.names)
    required = [f"{d.name}={d.schema['example']}" for d in query.documented if d.required]
    recorder = Recorder("&".join([given] * ("updated_since" in query.names) + required))
    query.parse(recorder)
    assert recorder.asked == query.names


def test_the_schema_states_each_query_parameter_as_its_view_declares_it():
    document = SchemaGenerator().get_schema(request=None, public=True)
    declared = [
        {d.name: {"schema": d.schema, "description": d.description} for d in query.documented}
        for query in VIEW_QUERIES
    ]
    for path, methods in document["paths"].items():
        stated = {
            p["name"]: {"schema": p["schema"], "description": p["description"]}
            for p in methods["get"].get("parameters", [])
            if p["in"] == "query"
        }
        assert not stated or stated in declared, path


def test_an_operation_takes_query_parameters_only_from_its_query():
    with pytest.raises(TypeError, match="declare it in query="):
        api_operation(
            operation_id="x",
            summary="x",
            response=None,
            parameters=[PATH_ID, OpenApiParameter("limit", int, OpenApiParameter.QUERY)],
        )
    assert [(d.name, d.schema) for d in Query(LIMIT, PERIOD, USER_ID).documented] == [
        ("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
        ("from", {"type": "string", "format": "date-time"}),
        ("to", {"type": "string", "format": "date-time"}),
        ("user_id", {"type": "string", "format": "uuid"}),
    ]


def test_a_query_declares_each_parameter_once():
    with pytest.raises(ValueError, match="parameter declared twice: limit"):
        Query(LIMIT, LIMIT)
    with pytest.raises(ValueError, match="parameter declared twice: from"):
        Query(PERIOD, Timestamp("from", "again"))
    with pytest.raises(ValueError, match="'items' is a dict attribute"):
        Query(Choice("items", ("a",), "."))
    with pytest.raises(ValueError, match="must follow an updated_since"):
        Query(Cursor("c", cursors.USERS, changes_kind=cursors.USERS_UPDATED), UPDATED_SINCE)


def test_parse_reads_values_and_names_every_bad_parameter_at_once_in_declared_order():
    query = Query(
        LIMIT,
        PERIOD,
        Choice("status", ("a", "b"), "."),
        ChoiceSet("expand", ("x", "y"), "."),
        UPDATED_SINCE,
    )
    values = query.parse(QueryDict("limit=7&from=2026-05-01&status=b&expand=y, x&other=1"))
    assert values == {
        "limit": 7,
        "period": (datetime(2026, 5, 1, tzinfo=UTC), None),
        "status": "b",
        "expand": frozenset({"x", "y"}),
        "updated_since": None,
    }
    assert values.limit == 7 and values.expand == {"x", "y"}
    with pytest.raises(AttributeError):
        values.other  # noqa: B018

    with pytest.raises(InvalidParameter) as raised:
        query.parse(QueryDict("updated_since=no&expand=z&limit=0&limit=1&status=c&to=x"))
    timestamp = "must be an ISO 8601 timestamp such as 2026-05-06T17:00:00Z or a date 2026-05-06"
    assert raised.value.errors == {
        "limit": ["must be given at most once"],
        "to": [timestamp],
        "status": ["must be one of a, b"],
        "expand": ["must be a comma-separated list of x, y"],
        "updated_since": [timestamp],
    }
    assert list(raised.value.errors) == ["limit", "to", "status", "expand", "updated_since"]

    with pytest.raises(InvalidParameter) as raised:
        query.parse(QueryDict("from=2026-05-02&to=2026-05-01"))
    assert raised.value.errors == {"from": ["must not be later than to"]}


def test_a_cursor_is_of_the_lists_kind_or_of_its_changes_with_updated_since():
    at, row = datetime(2026, 5, 1, tzinfo=UTC), uuid.uuid4()
    plain = encode_opaque(cursors.USERS, at, row)
    changes = encode_opaque(cursors.USERS_UPDATED, at, row)
    users = Query(UPDATED_SINCE, Cursor("c", cursors.USERS, changes_kind=cursors.USERS_UPDATED))
    assert users.parse(QueryDict(f"cursor={plain}")).cursor == (at, row)
    assert users.parse(QueryDict(f"cursor={changes}&updated_since=2026-05-01")).cursor == (at, row)
    for wrong in (f"cursor={changes}", f"cursor={plain}&updated_since=2026-05-01"):
        with pytest.raises(InvalidParameter) as raised:
            users.parse(QueryDict(wrong))
        assert list(raised.value.errors) == ["cursor"]
        (message,) = raised.value.errors["cursor"]
        assert message.endswith("; pass the next_cursor of the previous page")

    sessions = Query(
        UPDATED_SINCE, Cursor("c", cursors.SESSIONS, changes_kind=cursors.SESSIONS_UPDATED)
    )
    assert sessions.parse(QueryDict("cursor=2026-05-01")).cursor == SessionCursor(at)
    session_changes = encode_opaque(cursors.SESSIONS_UPDATED, at, row)
    found = sessions.parse(QueryDict(f"cursor={session_changes}&updated_since=2026-05-01"))
    assert found.cursor == (at, row)
    # A malformed updated_since reads the cursor as the plain list's, as the view always did.
    with pytest.raises(InvalidParameter) as raised:
        sessions.parse(QueryDict("cursor=2026-05-01&updated_since=no"))
    assert list(raised.value.errors) == ["updated_since"]

    deletions = Query(Cursor("c", cursors.DELETIONS))
    with pytest.raises(InvalidParameter, match="was issued by"):
        deletions.parse(QueryDict(f"cursor={plain}"))
