"""Whatever a query string holds, the parameter parsers and the cursor decoders either accept
it or say what is wrong: never another exception (a 500), and what they issue they accept."""

import uuid
from datetime import UTC
from urllib.parse import urlencode

from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from api.cursors import SessionCursor, decode_opaque, encode_opaque
from api.errors import InvalidParameter
from api.params import QueryParams

NAMES = ["limit", "from", "to", "user_id", "scenario_id", "status", "cursor", "role", "x"]
# Text that looks almost right as often as not: digits, dates, UUID pieces, padding, unicode.
almost = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789-:TZ+. \n\x85", max_size=30),
    st.integers(-5, 10**7).map(str),
    st.uuids().map(str).flatmap(lambda u: st.sampled_from([u, u.upper(), u + "\n", " " + u])),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
)


@given(st.lists(st.tuples(st.sampled_from(NAMES), almost), max_size=8))
def test_query_parameters_parse_or_are_named_as_bad(pairs):
    params = QueryParams(QueryDict(urlencode(pairs)))
    values = {
        "limit": params.limit(),
        "period": params.period(),
        "user_id": params.uuid("user_id"),
        "status": params.choice("status", ("scored", "completed")),
        "cursor": params.opaque_cursor(size=2),
    }
    try:
        params.validate()
    except InvalidParameter as exc:
        assert exc.errors and all(isinstance(m, str) for ms in exc.errors.values() for m in ms)
        assert set(exc.errors) <= set(NAMES)
        return
    assert 1 <= values["limit"] <= 100
    start, end = values["period"]
    assert start is None or end is None or start <= end
    assert values["user_id"] is None or isinstance(values["user_id"], uuid.UUID)


@given(almost)
def test_any_session_cursor_decodes_or_is_a_value_error(text):
    try:
        cursor = SessionCursor.decode(text)
    except ValueError:
        return
    assert cursor.started_at.tzinfo is UTC
    assert SessionCursor.decode(cursor.encode()) == cursor


@given(st.datetimes(timezones=st.just(UTC)), st.none() | st.uuids())
def test_session_cursors_round_trip(started_at, tie):
    cursor = SessionCursor(started_at, tie)
    assert SessionCursor.decode(cursor.encode()) == cursor


@given(
    st.one_of(st.text(max_size=60), st.binary(max_size=40).map(lambda b: b.hex())),
    st.integers(1, 4),
)
def test_any_opaque_cursor_decodes_or_is_a_value_error(text, size):
    try:
        key = decode_opaque(text, size)
    except ValueError:
        return
    assert len(key) == size and isinstance(key[-1], uuid.UUID)


@given(st.lists(st.text(max_size=20).filter(lambda s: "\x00" not in s), max_size=3), st.uuids())
def test_opaque_cursors_round_trip(parts, row_id):
    raw = encode_opaque([*parts, str(row_id)])
    assert decode_opaque(raw, len(parts) + 1) == (*parts, row_id)
