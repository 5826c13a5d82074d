"""Whatever bytes arrive, the importer reports bad lines; it never crashes or half-writes."""

import io
import json

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sessions_api.importing import (
    scenario,
    scorecard,
    session,
    snapshot,
    tenant,
    user,
)

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
TEMPLATES = [tenant(), user(), scenario(), session(), scorecard()]


@st.composite
def mutated_record(draw) -> bytes:
    """A valid-looking record with some fields replaced, dropped or added."""
    record = dict(draw(st.sampled_from(TEMPLATES)))
    for key in draw(st.lists(st.sampled_from(sorted({k for t in TEMPLATES for k in t})))):
        action = draw(st.sampled_from(["replace", "drop"]))
        if action == "drop":
            record.pop(key, None)
        else:
            record[key] = draw(json_values)
    # The stdlib encoder, unlike orjson, writes huge integers, NaN and lone surrogates: all inputs
    # the importer must survive.
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")


lines = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\n" not in b),
    mutated_record(),
    st.sampled_from([orjson.dumps(t) for t in TEMPLATES]),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(lines, max_size=8))
def test_arbitrary_lines_are_reported_never_raised(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_bytes(b"\n".join(data) + b"\n")
    before = snapshot()
    try:
        call_command("import_data", str(path), "--batch-size", "3", stdout=io.StringIO())
    except CommandError as exc:
        assert "line " in str(exc)
        assert snapshot() == before


turn_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**31 + 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["agent", "user", "robot", "a\x00b", ""]),
)
turns = st.one_of(
    st.dictionaries(st.sampled_from(["role", "message", "time", "extra"]), turn_values),
    json_values,
)


@settings(max_examples=500, deadline=None)
@given(turns)
def test_fast_turn_check_agrees_with_the_detailed_rules(turn):
    """The fast path of transcript validation never accepts what the full rules refuse."""
    from sessions_api.importing.validation import _clean_turn, _Fields, _valid_turn

    parent = _Fields({})
    _clean_turn(parent, 0, turn)
    assert _valid_turn(turn) == (not parent.problems)
