"""CSV exports (docs/api-guide.md, CSV; core/export.py), through HTTP: every list answers every
matching row as CSV, equal row for row to walking its JSON pages, streamed in internal pages
that lose and repeat nothing, with RFC 4180 quoting and the OWASP formula prefix; errors before
the first byte are the JSON envelope; one request against the rate limit; each page after the
first read under the database guard."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core import dbguard, export
from core import shapes as f
from core.dbfunctions import RFC3339
from roleplay import selectors
from roleplay.models import Rep, Scenario, Session
from roleplay.services import rep_delete, rep_upsert, scenario_upsert, session_delete
from roleplay.shapes import SESSION_LISTED
from tests.factories import (
    BASE_TIME,
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
)
from tests.helpers import db_property, error_envelope, invalid_parameter

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: its guard, plans and watchdog"
)

FORMULA = ("=", "+", "-", "@", "\t", "\r")
# Text as people type it, and as an attacker would: separators, quotes, line breaks, formulas,
# any Unicode PostgreSQL stores (not NUL).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from([",", '"', "'", "\n", "\r", "\t", "=", "+", "-", "@", " ", "é", "—", "😀"]),
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
    ),
    min_size=1,
    max_size=12,
)


# -- helpers -----------------------------------------------------------------------------------


def body_of(response) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming and not response.has_header("ETag")
    return b"".join(response.streaming_content)


def parse(body: bytes) -> tuple[list[str], list[list[str]]]:
    header, *rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""), strict=True)
    return header, rows


def csv_of(client, url: str, params=None, **headers) -> tuple[list[str], list[list[str]]]:
    params = {"format": "csv", **(params or {})} if not headers else dict(params or {})
    return parse(body_of(client.get(url, params, **headers)))


def json_pages(client, url: str, params=None) -> list[dict]:
    """Every object of a JSON list, walking its pages to the end."""
    found, cursor = [], None
    while True:
        query = {**(params or {}), "limit": 100, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        found += body["data"]
        if (cursor := body["next_cursor"]) is None:
            return found


def cell(value) -> str:
    """What the CSV holds for a JSON value (JSON documents are compared parsed, apart)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA) else value
    return json.dumps(value)


def assert_same(header: list[str], rows: list[list[str]], objects: list[dict]) -> None:
    """The CSV is the JSON list, row for row and field for field, in the same order."""
    assert len(rows) == len(objects)
    for row, obj in zip(rows, objects, strict=True):
        assert header == list(obj), (header, list(obj))
        for name, text in zip(header, row, strict=True):
            value = obj[name]
            if isinstance(value, dict | list):
                assert json.loads(text) == value, name
            else:
                assert text == cell(value), (name, text, value)


@pytest.fixture
def tiny_pages(monkeypatch):
    """Internal pages of 3 rows, so that a handful of rows spans several."""
    monkeypatch.setattr(export, "FIRST_PAGE_ROWS", 3)
    monkeypatch.setattr(export, "MIN_PAGE_ROWS", 3)
    monkeypatch.setattr(export, "MAX_PAGE_ROWS", 3)


@pytest.fixture
def world(tenant, other_tenant):
    """Every kind of record, with ties in each list's sort key, text that needs quoting or a
    formula prefix, and another tenant's records that must never show."""
    names = ['Zoë "Z" O’Neill, Jr.', "=HYPERLINK(1)", "Al", "Al", "-5", "@me", "multi\nline"]
    reps = [
        RepFactory(tenant=tenant, full_name=name, role=("rep", "manager", "admin")[i % 3])
        for i, name in enumerate(names)
    ]
    scenarios = [
        ScenarioFactory(tenant=tenant, name=name, status=status)
        for name, status in [
            ("Cold call", "active"),
            ("Cold call", "active"),
            ("+Listing, price", "archived"),
            ("Door\tknock", "active"),
        ]
    ]
    sessions = []
    for i in range(20):
        started = BASE_TIME - timedelta(minutes=0 if i < 5 else i)  # five share an instant
        session = SessionFactory(
            tenant=tenant,
            user=reps[i % len(reps)],
            scenario=scenarios[i % len(scenarios)],
            started_at=started,
            transcript=[{"role": "agent", "message": f'Say "{i}",\nthen = go', "time": 1.5}],
        )
        sessions.append(session)
    for i, session in enumerate(sessions[::2]):
        ScorecardFactory(
            session=session,
            tenant=tenant,
            headline=["=1+1", 'Fine, "really"', "@cmd", "ok"][i % 4],
            verdict=["solid", "needs_work"][i % 2],
        )
    for i in (2, 3, 4, 6, 8):  # five sessions and four scorecards deleted
        session_delete(session=Session.objects.for_tenant(tenant).get(pk=sessions[i].pk))
    for _ in range(3):
        ScorecardFactory(session__tenant=other_tenant)
    other = SessionFactory(tenant=other_tenant)
    session_delete(session=Session.objects.for_tenant(other_tenant).get(pk=other.pk))
    return {"reps": reps, "scenarios": scenarios, "sessions": sessions}


LISTS = [
    ("/api/v1/sessions", {}),
    ("/api/v1/sessions", {"expand": "scorecard,transcript"}),
    ("/api/v1/sessions", {"status": "scored", "expand": "scorecard"}),
    ("/api/v1/sessions", {"from": "2026-05-06T16:55:00Z", "to": "2026-05-06T17:00:00Z"}),
    ("/api/v1/sessions", {"updated_since": "1970-01-01", "expand": "transcript"}),
    ("/api/v1/scorecards", {}),
    ("/api/v1/scorecards", {"verdict": "solid"}),
    ("/api/v1/scorecards", {"updated_since": "1970-01-01"}),
    ("/api/v1/scenarios", {}),
    ("/api/v1/scenarios", {"updated_since": "1970-01-01"}),
    ("/api/v1/users", {}),
    ("/api/v1/users", {"include": "email", "role": "rep"}),
    ("/api/v1/users", {"updated_since": "1970-01-01", "include": "email"}),
    ("/api/v1/deletions", {}),
    ("/api/v1/deletions", {"object": "scorecard"}),
]


# -- every list, as its JSON pages -------------------------------------------------------------


@pytest.mark.parametrize(("url", "params"), LISTS)
def test_every_list_in_csv_is_its_json_pages_row_for_row(api, world, tiny_pages, url, params):
    """Spanning several internal pages of 3, ties in the sort key across their edges: no row
    lost or repeated, in the list's order, only this tenant's."""
    objects = json_pages(api, url, params)
    assert objects
    header, rows = csv_of(api, url, params)
    assert_same(header, rows, objects)
    assert len({tuple(row) for row in rows}) == len(rows)


@pytest.mark.parametrize(("url", "params"), LISTS[:1] + LISTS[5:6] + LISTS[8:9] + LISTS[10:11])
def test_accept_text_csv_asks_for_csv_too(api, world, url, params):
    header, rows = csv_of(api, url, params, HTTP_ACCEPT="text/csv")
    assert_same(header, rows, json_pages(api, url, params))
    for accept in ("text/csv;q=0.5, application/json", "application/json, text/csv", "*/*"):
        response = api.get(url, params, HTTP_ACCEPT=accept)
        assert response["Content-Type"] == "application/json" and response.json()["ok"]
    # format= wins over Accept, both ways.
    assert api.get(url, {**params, "format": "json"}, HTTP_ACCEPT="text/csv").json()["ok"]
    assert body_of(api.get(url, {**params, "format": "csv"}, HTTP_ACCEPT="application/json"))


def test_a_detail_ignores_format_and_answers_json(api, world):
    session = world["sessions"][0]
    response = api.get(f"/api/v1/sessions/{session.pk}", {"format": "csv"})
    assert response["Content-Type"] == "application/json" and response.json()["ok"]


def test_the_answer_is_an_attachment_streamed_without_etag(api, world):
    response = api.get("/api/v1/scorecards", {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="scorecards.csv"'
    assert response["Cache-Control"] == "no-store" and "Authorization" in response["Vary"]
    assert response.has_header("X-Request-ID") and response.has_header("X-RateLimit-Remaining")
    assert not response.has_header("ETag") and not response.has_header("Content-Length")
    body_of(response)
    # An If-None-Match cannot turn it into a 304: there is no ETag to match.
    response = api.get("/api/v1/scorecards", {"format": "csv"}, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 200 and body_of(response)


def test_head_answers_the_headers_without_a_body(api, world):
    response = api.head("/api/v1/sessions", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content) == b""


def test_an_empty_list_is_its_header_alone(api, tenant):
    response = api.get("/api/v1/deletions", {"format": "csv"})
    assert body_of(response) == b"object,id,deleted_at\r\n"


# -- RFC 4180 and the formula prefix -----------------------------------------------------------


def test_rfc4180_quoting_line_breaks_and_non_ascii(api, tenant):
    RepFactory(tenant=tenant, full_name='Zoë "Z", O’Neill\nJr. 😀', email="")
    header = "id,full_name,role,last_session_at,updated_at,email"
    body = body_of(api.get("/api/v1/users", {"format": "csv", "include": "email"}))
    assert body.startswith(header.encode() + b"\r\n") and body.endswith(b"\r\n")
    assert body.count(b"\r\n") == 2  # the header and the row; the \n inside stays quoted
    line = body.decode("utf-8").split("\r\n")[1]
    # Text quoted, quotes doubled, the line break and UTF-8 kept; null last_session_at empty
    # and unquoted; an email that is empty... is absent (null on the wire): empty too.
    assert ',"Zoë ""Z"", O’Neill\nJr. 😀",rep,,' in line
    _, rows = parse(body)
    assert rows[0][1] == 'Zoë "Z", O’Neill\nJr. 😀'


def test_an_empty_text_is_quoted_and_so_told_from_null(api, tenant):
    session = SessionFactory(tenant=tenant, scenario__call_type="")
    ScorecardFactory(session=session, tenant=tenant, headline="")
    body = body_of(api.get("/api/v1/scorecards", {"format": "csv"}))
    assert ',solid,"",' in body.decode()
    body = body_of(api.get("/api/v1/scenarios", {"format": "csv"}))
    assert ',"",active,' in body.decode()  # call_type ""


@pytest.mark.parametrize("start", FORMULA)
def test_a_text_a_spreadsheet_would_run_starts_with_a_quote(api, tenant, start):
    RepFactory(tenant=tenant, full_name=f"{start}SUM(A1:A9)")
    RepFactory(tenant=tenant, full_name="Ann = Bob - Cy")  # not at the start: kept as is
    _, rows = csv_of(api, "/api/v1/users")
    names = sorted(row[1] for row in rows)
    assert sorted(["'" + start + "SUM(A1:A9)", "Ann = Bob - Cy"]) == names
    # The JSON is the text itself.
    assert {u["full_name"] for u in api.get("/api/v1/users").json()["data"]} == {
        f"{start}SUM(A1:A9)",
        "Ann = Bob - Cy",
    }


def test_ids_instants_numbers_and_plain_choices_are_never_quoted(api, tenant):
    session = SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6, 17, 0, 0, 250000, UTC))
    ScorecardFactory(session=session, tenant=tenant)
    line = body_of(api.get("/api/v1/sessions", {"format": "csv"})).decode().split("\r\n")[1]
    assert line.startswith(f"{session.pk},{session.user_id},{session.scenario_id},scored,")
    assert ",2026-05-06T17:00:00.25Z,2026-05-06T17:07:00.25Z,420," in line
    assert '"' not in line


# -- any text, as a property -------------------------------------------------------------------


@db_property(max_examples=25)
@given(names=st.lists(TEXT, min_size=1, max_size=4), headline=TEXT, message=TEXT, name=TEXT)
def test_any_text_comes_back_as_the_json_has_it(
    api, tenant, tiny_pages, names, headline, message, name
):
    reps = [RepFactory(tenant=tenant, full_name=n) for n in names]
    scenario = ScenarioFactory(tenant=tenant, name=name, call_type=message)
    session = SessionFactory(
        tenant=tenant,
        user=reps[0],
        scenario=scenario,
        transcript=[{"role": "user", "message": message, "time": 0}],
    )
    ScorecardFactory(session=session, tenant=tenant, headline=headline)
    for url, params in [
        ("/api/v1/users", {}),
        ("/api/v1/scenarios", {}),
        ("/api/v1/scorecards", {}),
        ("/api/v1/sessions", {"expand": "transcript,scorecard", "user_id": str(reps[0].pk)}),
    ]:
        header, rows = csv_of(api, url, params)
        assert_same(header, rows, json_pages(api, url, params))


def test_instants_render_as_the_json_renders_them(tenant):
    """The export's faster rendering of instants (core.export.Instant) is RFC3339's, to the
    microsecond, early years included."""
    instants = [
        datetime(2026, 5, 6, 17, 0, tzinfo=UTC),
        datetime(2026, 5, 6, 17, 0, 0, 500000, UTC),
        datetime(2026, 5, 6, 17, 0, 0, 1, UTC),
        datetime(2026, 5, 6, 17, 0, 0, 123456, UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, UTC),
        datetime(999, 1, 2, 3, 4, 5, 60, UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
    ]
    for at in instants:
        SessionFactory(tenant=tenant, started_at=at, ended_at=None, duration_seconds=None)
    rows = Session.objects.for_tenant(tenant).values_list(
        export.Instant("started_at"), RFC3339("started_at"), F("started_at")
    )
    assert len(rows) == len(instants)
    for fast, reference, at in rows:
        assert fast == reference, (fast, reference, at)


# -- the Python table, for reports built in Python ---------------------------------------------


def test_objects_built_in_python_are_the_same_csv(api, world):
    """core.export.ObjectsCSV (a report's rows, built in Python) writes what the database
    writes for the same objects: the same header, the same cells once parsed."""
    params = {"expand": "scorecard,transcript"}
    objects = json_pages(api, "/api/v1/sessions", params)
    include = frozenset({"scorecard", "transcript"})
    table = export.ObjectsCSV(SESSION_LISTED)
    written = table.header(include).encode() + table.lines(objects, include)
    header, rows = parse(written)
    assert_same(header, rows, objects)
    # Cell for cell what the database wrote, but for the spacing inside JSON documents
    # (PostgreSQL's json_build_object writes `"key" : value`).
    theirs_header, theirs = csv_of(api, "/api/v1/sessions", params)
    assert header == theirs_header and len(rows) == len(theirs)
    for ours_row, their_row in zip(rows, theirs, strict=True):
        for ours_cell, their_cell in zip(ours_row, their_row, strict=True):
            if ours_cell[:1] in ("[", "{"):
                assert json.loads(ours_cell) == json.loads(their_cell)
            else:
                assert ours_cell == their_cell
    # Numbers and plain values unquoted, text quoted, as the database writes them.
    line = table.lines([{"id": "x", "status": "scored", "duration_seconds": -5}], frozenset())
    assert line == b"x,,,scored,,,-5,,,\r\n"


# -- errors before the first byte --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"format": "xml"}, {"format"}),
        ({"format": "CSV"}, {"format"}),
        ({"format": "csv", "status": "bogus"}, {"status"}),
        ({"format": "csv", "from": "2026-05-07", "to": "2026-05-01"}, {"from"}),
        ({"format": "csv", "expand": "everything", "limit": "0"}, {"limit", "expand"}),
        ({"format": "csv", "cursor": "not-a-cursor"}, {"cursor"}),
        ({"format": ["csv", "json"]}, {"format"}),
    ],
)
def test_bad_input_is_a_400_envelope_before_any_byte(api, world, params, named):
    body = invalid_parameter(api.get("/api/v1/sessions", params))
    assert set(body["details"]) - {"request_id"} == named


def test_bad_input_with_accept_text_csv_is_still_json(api, world):
    response = api.get("/api/v1/users", {"role": "boss"}, HTTP_ACCEPT="text/csv")
    assert set(invalid_parameter(response)["details"]) == {"role", "request_id"}


@pytest.mark.parametrize(
    ("url", "params", "scopes", "required"),
    [
        ("/api/v1/sessions", {}, ["users:read"], "sessions:read"),
        ("/api/v1/sessions", {"expand": "scorecard"}, ["sessions:read"], "scorecards:read"),
        ("/api/v1/scorecards", {}, ["sessions:read"], "scorecards:read"),
        ("/api/v1/users", {"include": "email"}, ["users:read"], "users:email"),
        ("/api/v1/scenarios", {}, ["users:read"], "scenarios:read"),
        ("/api/v1/deletions", {"object": "user"}, ["sessions:read"], "users:read"),
    ],
)
def test_a_token_without_the_scope_is_a_403_envelope(
    client_for, tenant, world, url, params, scopes, required
):
    response = client_for(tenant, scopes=scopes).get(url, {**params, "format": "csv"})
    body = error_envelope(response, 403, "insufficient_scope")
    assert body["details"]["required_scope"] == required


def test_without_a_token_is_a_401_envelope(world):
    response = APIClient().get("/api/v1/sessions", {"format": "csv"})
    error_envelope(response, 401, "not_authenticated")


def test_a_resync_is_a_410_envelope(api, world):
    response = api.get("/api/v1/deletions", {"format": "csv", "since": "2000-01-01"})
    error_envelope(response, 410, "resync_required")


def test_another_tenants_rows_are_absent(client_for, other_tenant, world):
    other = client_for(other_tenant)
    mine = {str(s.pk) for s in world["sessions"]} | {str(r.pk) for r in world["reps"]}
    for url in ("/api/v1/sessions", "/api/v1/users", "/api/v1/scorecards", "/api/v1/deletions"):
        _, rows = csv_of(other, url, {"expand": "scorecard"} if "sessions" in url else {})
        assert rows and not mine & {cell for row in rows for cell in row}
        assert len(rows) == len(json_pages(other, url))


# -- one request, flat, constant queries per page ----------------------------------------------


def test_an_export_of_many_pages_counts_once_against_the_rate_limit(api, world, tiny_pages):
    first = api.get("/api/v1/sessions")
    used = int(first["X-RateLimit-Limit"]) - int(first["X-RateLimit-Remaining"])
    response = api.get("/api/v1/sessions", {"format": "csv", "expand": "transcript"})
    assert int(response["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1
    _, rows = parse(body_of(response))
    assert len(rows) >= 12  # four internal pages and more
    after = api.get("/api/v1/sessions")
    assert int(after["X-RateLimit-Limit"]) - int(after["X-RateLimit-Remaining"]) == used + 2


def test_over_the_rate_limit_is_a_429_envelope(client_for, tenant, world, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    client = client_for(tenant)
    body_of(client.get("/api/v1/sessions", {"format": "csv"}))
    error_envelope(client.get("/api/v1/sessions", {"format": "csv"}), 429, "rate_limited")


def _queries(client, url, params) -> tuple[int, int]:
    """Queries of a whole export, read to its end; and its rows."""
    with CaptureQueriesContext(connection) as captured:
        body = body_of(client.get(url, {**params, "format": "csv"}))
    return len(captured.captured_queries), len(parse(body)[1])


@pytest.mark.parametrize(
    ("url", "params", "make"),
    [
        ("/api/v1/sessions", {"expand": "scorecard,transcript"}, "session"),
        ("/api/v1/sessions", {"updated_since": "1970-01-01", "expand": "scorecard"}, "session"),
        ("/api/v1/scorecards", {}, "scorecard"),
        ("/api/v1/users", {"include": "email"}, "rep"),
        ("/api/v1/scenarios", {}, "scenario"),
        ("/api/v1/deletions", {}, "deletion"),
    ],
)
def test_each_internal_page_costs_the_same_queries(api, tenant, tiny_pages, url, params, make):
    """Three more pages cost three times one page's few queries, whatever the page holds: no
    query per row (an expanded scorecard, a user's last session)."""

    def add(n: int) -> None:
        for i in range(n):
            if make == "session":
                (
                    ScorecardFactory(session__tenant=tenant)
                    if i % 2
                    else SessionFactory(tenant=tenant)
                )
            elif make == "scorecard":
                ScorecardFactory(session__tenant=tenant)
            elif make == "rep":
                SessionFactory(tenant=tenant, user=RepFactory(tenant=tenant))
            elif make == "scenario":
                ScenarioFactory(tenant=tenant)
            else:
                session_delete(session=SessionFactory(tenant=tenant))

    add(6)  # two pages of 3
    api.get("/api/v1/token")  # the token's first use writes last_used_at: not a page's
    counts = []
    for _ in range(3):
        counts.append(_queries(api, url, params))
        add(9)  # three pages more
    (q1, r1), (q2, r2), (q3, r3) = counts
    assert (r1, r2, r3) == (6, 15, 24)
    assert q2 - q1 == q3 - q2, counts  # linear in the pages
    per_page = (q2 - q1) / 3
    # The page's query; with updated_since the sync horizon's; in a transaction's savepoint on
    # PostgreSQL with its SET LOCAL (core.export.one_backend): a few, never one per row.
    assert per_page == int(per_page) and 1 <= per_page <= 6, counts


# -- edits while an export runs ----------------------------------------------------------------


def _stream(client, url, params):
    response = client.get(url, {**params, "format": "csv"})
    assert response.status_code == 200
    chunks = iter(response.streaming_content)
    header = next(chunks)
    return header, chunks


def test_a_user_renamed_or_deleted_mid_export_does_not_end_it(api, tenant, tiny_pages):
    reps = [RepFactory(tenant=tenant, full_name=name) for name in "ABCDEFGHI"]
    header, chunks = _stream(api, "/api/v1/users", {})
    first = parse(header + next(chunks))[1]
    assert [row[1] for row in first] == ["A", "B", "C"]
    # The last row sent is renamed past the end, and the one before it deleted: a cursor that
    # looks its row up again would have lost its place (a 400 for a JSON client).
    last = Rep.objects.for_tenant(tenant).get(pk=reps[2].pk)
    last.full_name = "Z"
    rep_upsert(rep=last)
    rep_delete(rep=Rep.objects.for_tenant(tenant).get(pk=reps[1].pk))
    rest = parse(header + b"".join(chunks))[1]
    assert [row[1] for row in rest] == ["D", "E", "F", "G", "H", "I", "Z"]


def test_a_scenario_edited_mid_export_does_not_end_it(api, tenant, tiny_pages):
    scenarios = [ScenarioFactory(tenant=tenant, name=f"S{i}") for i in range(7)]
    header, chunks = _stream(api, "/api/v1/scenarios", {})
    assert [row[1] for row in parse(header + next(chunks))[1]] == ["S0", "S1", "S2"]
    edited = Scenario.objects.for_tenant(tenant).get(pk=scenarios[2].pk)
    edited.status = "archived"  # moves it after every active one
    scenario_upsert(scenario=edited)
    rest = parse(header + b"".join(chunks))[1]
    assert [row[1] for row in rest] == ["S3", "S4", "S5", "S6", "S2"]


def test_sessions_imported_mid_export_neither_shift_nor_repeat_it(api, tenant, tiny_pages):
    for i in range(9):
        SessionFactory(tenant=tenant, started_at=BASE_TIME - timedelta(minutes=i))
    header, chunks = _stream(api, "/api/v1/sessions", {})
    first = parse(header + next(chunks))[1]
    SessionFactory(tenant=tenant, started_at=BASE_TIME + timedelta(minutes=1))  # newer
    rest = parse(header + b"".join(chunks))[1]
    ids = [row[0] for row in first + rest]
    assert len(ids) == len(set(ids)) == 9


# -- the database guard, page by page ----------------------------------------------------------


def test_every_page_after_the_first_is_read_inside_the_guard(api, world, tiny_pages, monkeypatch):
    """The request's guard (core/dbguard.py) ends when the view returns; each later page is read
    inside one of its own (on SQLite, whose guard does nothing, the structure still holds)."""
    inside = []
    entered = dbguard.guarded
    depth = [0]

    @contextmanager
    def counting():
        depth[0] += 1
        try:
            with entered():
                yield
        finally:
            depth[0] -= 1

    real = selectors.session_list

    def recording(**kwargs):
        inside.append(depth[0] > 0)
        return real(**kwargs)

    monkeypatch.setattr(dbguard, "guarded", counting)
    monkeypatch.setattr(selectors, "session_list", recording)
    response = api.get("/api/v1/sessions", {"format": "csv"})
    assert inside == [True]  # the first page: in the view, inside the request's guard
    _, rows = parse(body_of(response))
    assert len(inside) == -(-len(rows) // 3) >= 4
    assert all(inside), inside


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_page_that_hangs_mid_export_is_cut_at_the_deadline(
    client_for, tenant, tiny_pages, settings, monkeypatch, caplog
):
    """A real hang: the third page's query waits 5 s on PostgreSQL; the watchdog cuts it after
    the deadline, the export ends there (logged, the connection cut without the body's end)
    rather than holding the thread."""
    for i in range(12):
        SessionFactory(tenant=tenant, started_at=BASE_TIME - timedelta(minutes=i))
    api = client_for(tenant)
    settings.API_DB_CALL_DEADLINE_SECONDS = 1
    calls = [0]
    real = selectors.session_list

    def hanging(**kwargs):
        calls[0] += 1
        if calls[0] == 3:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(5)")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "session_list", hanging)
    response = api.get("/api/v1/sessions", {"format": "csv"})
    chunks = iter(response.streaming_content)
    sent = next(chunks) + next(chunks) + next(chunks)  # the header, two pages
    assert len(parse(sent)[1]) == 6
    started = time.monotonic()
    with (
        caplog.at_level(logging.ERROR, logger="api.export"),
        pytest.raises(export.ExportCut) as cut,
    ):
        next(chunks)
    assert time.monotonic() - started < 4
    assert isinstance(cut.value.__cause__, dbguard.DatabaseCallCut)
    assert "CSV export cut after 6 rows" in caplog.text
    dbguard.breaker.reset()


@postgres_only
def test_an_open_breaker_mid_export_ends_it_without_asking_the_database(
    api, world, tiny_pages, settings
):
    settings.API_DB_BREAKER_FAILURES = 1
    response = api.get("/api/v1/sessions", {"format": "csv"})
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)
    try:
        dbguard.breaker.failed()  # as a cut call would: open for API_DB_BREAKER_OPEN_SECONDS
        with CaptureQueriesContext(connection) as captured, pytest.raises(export.ExportCut) as cut:
            next(chunks)
        assert isinstance(cut.value.__cause__, dbguard.DatabaseUnavailable)
        assert not [q for q in captured.captured_queries if "sessions_api_session" in q["sql"]]
    finally:
        dbguard.breaker.reset()


# -- the plan of a whole scorecard export ------------------------------------------------------


@postgres_only
def test_a_scorecard_page_past_a_cursor_is_bounded_on_the_session_index(api, tenant):
    """Ordered by the session's started_at, a page deep in the list names the session's tenant
    and bounds its started_at, so that PostgreSQL can walk session_list_idx from the cursor and
    stop after the page rather than join and sort every scorecard of the tenant for each page
    (on 80,000 scorecards: 400 ms an export's page of 5,000 before, 75 ms after; the plan
    there is an index scan, a nested loop and an incremental sort; tiny tables plan otherwise,
    so this asserts only that the bound is an index condition)."""
    for i in range(4):
        ScorecardFactory(session__tenant=tenant, session__started_at=BASE_TIME - timedelta(i))
    cursor = api.get("/api/v1/scorecards", {"limit": 1}).json()["next_cursor"]
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/scorecards", {"limit": 1, "cursor": cursor}).status_code == 200
    page_sql = next(
        q["sql"] for q in reversed(queries.captured_queries) if "scorecards_scorecard" in q["sql"]
    )
    with connection.cursor() as c:
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in c.fetchall())
    conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("tenant_id =" in c and "started_at <=" in c for c in conditions), plan


def test_the_export_is_the_list_with_unique_ids(api, tenant, tiny_pages):
    """Sessions sharing one instant, more than a page of them: each once, by id descending."""
    ids = sorted(
        (uuid.UUID(int=i) for i in range(1, 11)),
        reverse=True,
    )
    for i in ids:
        SessionFactory(tenant=tenant, id=i, started_at=BASE_TIME)
    _, rows = csv_of(api, "/api/v1/sessions")
    assert [row[0] for row in rows] == [str(i) for i in ids]


def test_a_report_built_in_python_streams_through_the_same_mechanism(rf, tiny_pages):
    """core.export as a computed report uses it (ObjectsCSV, keyset=False): pages of wire
    objects from any fetch, the optional columns asked for, the same cells; its pages planned
    freely but for parallel workers (on PostgreSQL)."""
    row = f.Shape(
        "Row",
        f.uuid("user_id", null=True),
        f.text("label"),
        f.integer("sessions", null=True),
        f.choice_list("kinds", ["strength", "improvement"]),
        f.email("email", only_with="email"),
    )
    objects = [
        {
            "user_id": str(uuid.UUID(int=i)),
            "label": ["=1+1", 'a "b", c', "plain", "-x", "\nnew"][i % 5],
            "sessions": None if i == 3 else i - 2,
            "kinds": ["strength"] * (i % 3),
            "email": f"u{i}@x.test",
        }
        for i in range(8)
    ]
    settings_seen = []

    def fetch(after, limit):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('enable_hashjoin')")
                hashjoin = cursor.fetchone()[0]
                cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
                settings_seen.append((hashjoin, cursor.fetchone()[0]))
        start = after or 0
        page = objects[start : start + limit]
        return page, (start + limit if start + limit < len(objects) else None)

    response = export.csv_response(
        rf.get("/report"),
        filename="report",
        table=export.ObjectsCSV(row),
        fetch=fetch,
        include=frozenset(),
        keyset=False,
    )
    assert response["Content-Disposition"] == 'attachment; filename="report.csv"'
    header, rows = parse(body_of(response))
    expected = [{k: v for k, v in o.items() if k != "email"} for o in objects]
    assert_same(header, rows, expected)
    assert header == ["user_id", "label", "sessions", "kinds"]
    assert settings_seen in ([], [("on", "0")] * 3)
    if connection.vendor == "postgresql":
        with export.one_backend(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('enable_hashjoin')")
            assert cursor.fetchone()[0] == "off"  # keyset pages: index walks only
