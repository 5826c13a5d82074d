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
