"""Whatever a query string holds, the parameter parsers and the cursor decoders either accept
it or say what is wrong: never another exception (a 500), and what they issue they accept."""

import base64
import uuid
from datetime import UTC
from urllib.parse import urlencode

import orjson
import pytest
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from core.cursors import KINDS, SessionCursor, decode_opaque, encode_opaque
from core.errors import InvalidParameter
from core.params import QueryParams

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
        "cursor": params.cursor("users"),
    }
    try:
        params.validate()
    except InvalidParameter as exc:
        assert exc.errors and all(isinstance(m, str) for ms in exc.errors.values() for m in ms)
        assert set(exc.errors) <= set(NAMES)
        return
    assert 1 <= values["limit"] <= 100
    raw_limit = params.raw("limit")
    assert raw_limit is None or str(values["limit"]) == raw_limit  # exactly as sent, no padding
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


kinds = st.sampled_from(sorted(KINDS))
# What a client could send as an opaque cursor: any text, or any JSON array in URL-safe base64.
json_items = st.one_of(
    st.text(max_size=20),
    st.integers(-(2**63), 2**63 - 1),
    st.none(),
    kinds,
    st.uuids().map(str),
    almost,
)
opaque_like = st.lists(json_items, max_size=4).map(
    lambda key: base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")
)


@given(
    st.one_of(st.text(max_size=60), st.binary(max_size=40).map(lambda b: b.hex()), opaque_like),
    kinds,
)
def test_any_opaque_cursor_decodes_or_is_a_value_error(text, kind):
    try:
        at, row_id = decode_opaque(text, kind)
    except ValueError:
        return
    assert at.tzinfo is UTC and isinstance(row_id, uuid.UUID)


@given(kinds, st.datetimes(timezones=st.just(UTC)), st.uuids(), kinds)
def test_opaque_cursors_round_trip_only_at_their_own_kind(kind, at, row_id, elsewhere):
    raw = encode_opaque(kind, at, row_id)
    assert decode_opaque(raw, kind) == (at, row_id)
    if elsewhere != kind:
        with pytest.raises(ValueError, match="was issued by"):
            decode_opaque(raw, elsewhere)
    with pytest.raises(ValueError, match="was issued by"):
        SessionCursor.decode(raw)  # nor is it a plain /sessions cursor


@given(st.datetimes(timezones=st.just(UTC)), st.none() | st.uuids(), kinds)
def test_a_plain_sessions_cursor_is_no_opaque_cursor(started_at, tie, kind):
    with pytest.raises(ValueError, match="was issued by /sessions"):
        decode_opaque(SessionCursor(started_at, tie).encode(), kind)
