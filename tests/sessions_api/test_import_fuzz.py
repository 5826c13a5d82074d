"""Whatever bytes arrive, the importer reports bad lines; it never crashes or half-writes."""

import io
import json
from datetime import UTC, timedelta, timezone

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_api.importing.validation import (
    _clean_callout,
    _clean_category,
    _clean_turn,
    _Fields,
    _plain_callouts,
    _plain_categories,
    _plain_turns,
)
from tests.helpers import db_property
from tests.sessions_api.importing import (
    scenario,
    scorecard,
    session,
    snapshot,
    tenant,
    user,
)

pytestmark = pytest.mark.django_db

# Any instant Python can hold, in any offset, and the calendar's edges, where arithmetic on
# dates overflows (a session on 9999-12-31 once crashed the import's rollups).
timestamps = st.one_of(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]
        )
    ).map(lambda at: at.isoformat()),
    st.sampled_from(
        [
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:30:00-01:00",
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | timestamps,
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


@db_property(300)
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
    st.text(" \t\u00a0\u2003x", max_size=3),  # blank and not quite blank
    st.sampled_from(["agent", "user", "robot", "strength", "improvement", "a\x00b", ""]),
    st.text(min_size=60, max_size=70),  # around the 64-character key limit
)


# Each limit of the rules, on both sides: where a fast check could disagree with them.
BOUNDARIES = [
    *(-1, -0.5, 0, 0.5, 100, 101, 2**31 - 1, 2**31, 1e300, float("inf"), float("nan"), True),
    *(None, "", " ", "\u2003", "a\x00b", "agent", "robot", "strength", "improvement"),
    *("x" * 64, "x" * 65, "y" * 200, "y" * 201, "m" * 100_000, "m" * 100_001),
]
edge_values = st.one_of(st.sampled_from(BOUNDARIES), turn_values)


def _items_of(valid):
    """Lists of items that are valid, or valid but for one field changed, dropped or added:
    where a fast check could disagree with the rules."""

    def vary(draw_item):
        item, change, key, value = draw_item
        item = dict(item)
        if change == "set":
            item[key] = value
        elif change == "drop":
            item.pop(key, None)
        return item

    item = st.tuples(
        st.fixed_dictionaries(valid),
        st.sampled_from(["keep", "set", "set", "set", "drop"]),
        st.sampled_from([*valid, "extra"]),
        edge_values,
    ).map(vary)
    return st.lists(st.one_of(item, json_values), max_size=3)


def _agrees(items, plain, clean, fields):
    """The fast check accepts a list exactly when the detailed rules find no problem and would
    store every item as it came: the contract's fields, nothing defaulted or dropped."""
    parent = _Fields({})
    cleaned = [clean(parent, i, item) for i, item in enumerate(items)]
    exact = all(isinstance(item, dict) and len(item) == fields for item in items)
    unchanged = not parent.problems and exact and cleaned == items
    assert plain(items) == unchanged, (items, parent.problems)


@settings(max_examples=500, deadline=None)
@given(
    _items_of(
        {
            "role": st.sampled_from(["agent", "user"]),
            "message": st.text(),
            "time": st.integers(0, 9) | st.floats(0, 9),
        }
    )
)
def test_fast_transcript_check_agrees_with_the_detailed_rules(turns):
    _agrees(turns, _plain_turns, _clean_turn, 3)


@settings(max_examples=500, deadline=None)
@given(
    _items_of(
        {
            "key": st.just("k"),
            "label": st.just("Label"),
            "score": st.integers(0, 100),
            "feedback": st.text(max_size=3),
        }
    )
)
def test_fast_category_check_agrees_with_the_detailed_rules(categories):
    _agrees(categories, _plain_categories, _clean_category, 4)


@settings(max_examples=500, deadline=None)
@given(
    _items_of(
        {
            "kind": st.sampled_from(["strength", "improvement"]),
            "text": st.just("t"),
            "time": st.integers(0, 9),
        }
    )
)
def test_fast_callout_check_agrees_with_the_detailed_rules(callouts):
    _agrees(callouts, _plain_callouts, _clean_callout, 3)


VALID_ITEMS = {
    "transcript": ({"role": "agent", "message": "Hi", "time": 1.5}, _plain_turns, _clean_turn),
    "categories": (
        {"key": "k", "label": "Label", "score": 80, "feedback": "Good."},
        _plain_categories,
        _clean_category,
    ),
    "callouts": ({"kind": "strength", "text": "t", "time": 3}, _plain_callouts, _clean_callout),
}


@pytest.mark.parametrize("name", VALID_ITEMS)
def test_fast_checks_agree_at_every_boundary_of_every_field(name):
    """Every field of a valid item set to every boundary value, dropped, or joined by another:
    deterministic, where random generation may miss one."""
    valid, plain, clean = VALID_ITEMS[name]
    variants = [valid, {**valid, "extra": 1}]
    for key in valid:
        variants.append({k: v for k, v in valid.items() if k != key})
        variants += [{**valid, key: value} for value in BOUNDARIES]
    for item in variants:
        _agrees([valid, item], plain, clean, len(valid))
