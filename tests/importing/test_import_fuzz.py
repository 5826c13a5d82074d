"""Whatever bytes arrive, the importer reports bad lines; it never crashes or half-writes. And
whatever record arrives, the declared rules (``importing.validation``, generated code) accept it
with the row a plain reading of the format gives, or refuse it with that reading's messages."""

import io
import json
import math
import re
import uuid
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.validators import validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from importing.validation import CLEANERS, Invalid
from roleplay.scorecard_rules import scorecard_item_problems
from tenants.models import Tenant, is_time_zone, validate_time_zone
from tests.helpers import db_property
from tests.importing.lines import scenario, scorecard, session, snapshot, tenant, user

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
TEMPLATES = [tenant(time_zone="America/New_York"), user(), scenario(), session(), scorecard()]


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


# -- the rules, read plainly ----------------------------------------------------------------------
# An oracle written straight from docs/import-format.md, one check after another, with no
# concern for speed: the generated checker must agree with it on every record, row and messages.

RFC = "must be an RFC 3339 timestamp such as 2026-05-06T17:00:00Z"
# The IANA names of this host's data ("localtime" is the host's own zone, not one of them).
IANA = zoneinfo.available_timezones() - {"localtime"}


def iana_time_zone(name):
    """UTC, or a listed name that zoneinfo loads."""
    if name == "UTC":
        return True
    try:
        return name in IANA and zoneinfo.ZoneInfo(name) is not None
    except Exception:
        return False


UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class Reference:
    def __init__(self, record, prefix=""):
        self.record, self.prefix, self.problems = record, prefix, []

    def fail(self, name, message):
        self.problems.append(f"{self.prefix}{name}: {message}")

    def get(self, name, required=True, default=None):
        value = self.record.get(name)
        if value is None and required:
            self.fail(name, "is required")
        return value, default

    def uuid(self, name):
        value, _ = self.get(name)
        if value is None:
            return None
        if isinstance(value, str) and UUID_TEXT.fullmatch(value):
            return uuid.UUID(value)
        return self.fail(name, "must be a UUID such as 30000000-0000-0000-0000-000000000001")

    def text(self, name, max_length=200, blank=False, required=True, default=None):
        value, default = self.get(name, required, default)
        if value is None:
            return default
        if not isinstance(value, str):
            return self.fail(name, "must be a string") or default
        if not blank and value.strip() == "":
            return self.fail(name, "must not be blank") or default
        if len(value) > max_length:
            return self.fail(name, f"must be at most {max_length} characters") or default
        if "\x00" in value:
            return self.fail(name, "must not contain NUL characters") or default
        return value

    def choice(self, name, choices):
        value, _ = self.get(name)
        if value is not None and value not in choices:
            return self.fail(name, f"must be one of {', '.join(choices)}")
        return value

    def integer(self, name, low, high, required=True):
        value, _ = self.get(name, required)
        if value is None:
            return None
        if type(value) is not int:
            return self.fail(name, "must be an integer")
        if not low <= value <= high:
            return self.fail(name, f"must be between {low} and {high}")
        return value

    def seconds(self, name, required=True):
        value, _ = self.get(name, required)
        if value is None:
            return None
        if type(value) not in (int, float) or not (
            math.isfinite(value) and 0 <= value <= 2**31 - 1
        ):
            return self.fail(name, "must be a number of seconds, zero or more")
        return value

    def timestamp(self, name, required=False):
        value, _ = self.get(name, required)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or len(value) > 64:
            return self.fail(name, RFC)
        if parsed.tzinfo is None:
            return self.fail(name, "must carry a UTC offset or Z, e.g. 2026-05-06T17:00:00Z")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            return self.fail(name, "must fall between years 0001 and 9999 in UTC")

    def items(self, name, item):
        value, _ = self.get(name, required=False)
        if value is None:
            return []
        if not isinstance(value, list):
            return self.fail(name, "must be a list") or []
        if len(value) > 10_000:
            return self.fail(name, "must have at most 10000 items") or []
        rows = []
        for index, each in enumerate(value):
            if not isinstance(each, dict):
                self.fail(f"{name}[{index}]", "must be an object")
                rows.append(None)
                continue
            nested = Reference(each, f"{self.prefix}{name}[{index}].")
            rows.append(item(nested))
            self.problems += nested.problems
        return rows


def turn(f):
    return {
        "role": f.choice("role", ("agent", "user")),
        "message": f.text("message", 100_000, blank=True),
        "time": f.seconds("time"),
    }


def category(f):
    return {
        "key": f.text("key", 64),
        "label": f.text("label"),
        "score": f.integer("score", 0, 100),
        "feedback": f.text("feedback", 100_000, blank=True, required=False, default=""),
    }


def callout(f):
    return {
        "kind": f.choice("kind", ("strength", "improvement")),
        "text": f.text("text", 100_000),
        "time": f.seconds("time", required=False),
    }


def reference(record):
    f = Reference(record)
    kind = record["type"]
    row = {"id": f.uuid("id")}
    if kind != "tenant":
        row["tenant_id"] = f.uuid("tenant_id")
    if kind == "tenant":
        row["slug"] = f.text("slug", 64)
        if row["slug"] is not None and not re.fullmatch(r"[-a-zA-Z0-9_]+", row["slug"]):
            f.fail("slug", "may contain only letters, digits, hyphens and underscores")
        row["name"] = f.text("name")
        row["time_zone"] = f.text("time_zone", 64, required=False, default="UTC")
        if not iana_time_zone(row["time_zone"]):
            f.fail("time_zone", "must be an IANA time zone name such as America/New_York or UTC")
    elif kind == "user":
        row["full_name"] = f.text("full_name")
        row["email"] = f.text("email", 254, blank=True, required=False, default="")
        if row["email"]:
            try:
                validate_email(row["email"])
            except ValidationError:
                f.fail("email", "must be a valid email address")
        row["role"] = f.choice("role", ("rep", "manager", "admin"))
    elif kind == "scenario":
        row |= {
            "name": f.text("name"),
            "call_type": f.text("call_type", 64),
            "status": f.choice("status", ("active", "archived")),
            "created_at": f.timestamp("created_at"),
        }
    elif kind == "session":
        statuses = ("in_progress", "completed", "scored", "abandoned", "failed")
        row |= {
            "user_id": f.uuid("user_id"),
            "scenario_id": f.uuid("scenario_id"),
            "status": f.choice("status", statuses),
            "started_at": f.timestamp("started_at", required=True),
            "ended_at": f.timestamp("ended_at"),
            "duration_seconds": f.integer("duration_seconds", 0, 2**31 - 1, required=False),
            "created_at": f.timestamp("created_at"),
            "transcript": f.items("transcript", turn),
        }
        if row["started_at"] and row["ended_at"] and row["ended_at"] < row["started_at"]:
            f.fail("ended_at", "must not be before started_at")
        row["created_at"] = row["created_at"] or row["started_at"]
    else:
        verdicts = ("crushed_it", "solid", "needs_work", "missed_the_mark")
        row |= {
            "session_id": f.uuid("session_id"),
            "overall_score": f.integer("overall_score", 0, 100),
            "verdict": f.choice("verdict", verdicts),
            "headline": f.text("headline", 1000),
            "categories": f.items("categories", category),
            "callouts": f.items("callouts", callout),
            "created_at": f.timestamp("created_at"),
        }
    return row, f.problems


def assert_agrees(record):
    """Accepted with the reference's row, or refused with exactly its messages, in its order."""
    expected, problems = reference(record)
    try:
        row = CLEANERS[record["type"]](record)
    except Invalid as exc:
        assert exc.problems == problems, record
        assert problems
    else:
        assert not problems, (record, problems)
        assert row == expected, record
        # Stored items hold the declared fields and no others, whatever else came in.
        for name, item in {"transcript": turn, "categories": category, "callouts": callout}.items():
            for stored in row.get(name, []):
                assert set(stored) == set(item(Reference({}))), record


turn_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**31 + 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.text(" \t\u00a0\u2003\x1cx", max_size=3),  # blank and not quite blank
    st.sampled_from(["agent", "user", "robot", "strength", "improvement", "a\x00b", ""]),
    st.text(min_size=60, max_size=70),  # around the 64-character key limit
)

# Each limit of the rules, on both sides: where generated code could disagree with them.
BOUNDARIES = [
    *(-1, -0.5, 0, 0.5, 100, 101, 2**31 - 1, 2**31 - 0.5, 2**31, 1e300, float("inf"), True),
    float("nan"),
    *(None, "", " ", "\u2003", "\x1c", "a\x00b", "agent", "robot", "strength", "improvement"),
    *("x" * 64, "x" * 65, "y" * 200, "y" * 201, "m" * 100_000, "m" * 100_001, [], {}),
    *("a-b_C9", "a b", "x@example.com", "not-an-email", "2026-05-06T17:00:00Z"),
    *("2026-05-06T17:00:00", "0001-01-01T00:30:00+01:00", "10000000-0000-0000-0000-00000000000a"),
    *("10000000-0000-0000-0000-00000000000a\n", "2026-05-06T16:00:00Z", "t" * 65),
    *("UTC", "America/New_York", "america/new_york", "Etc/GMT+5", "localtime", "posixrules"),
    *("right/UTC", "America", "Etc/../UTC", "/etc/localtime", "UTC ", "zone.tab", "Factory"),
]
edge_values = st.one_of(st.sampled_from(BOUNDARIES), turn_values, json_values)

VALID_ITEMS = {
    "transcript": {"role": "agent", "message": "Hi", "time": 1.5},
    "categories": {"key": "k", "label": "Label", "score": 80, "feedback": "Good."},
    "callouts": {"kind": "strength", "text": "t", "time": 3},
}


def _vary(valid):
    """``valid`` with one field changed, dropped or joined by another: where rules disagree."""

    def change(drawn):
        item, action, key, value = drawn
        item = dict(item)
        if action == "set":
            item[key] = value
        elif action == "drop":
            item.pop(key, None)
        return item

    return st.tuples(
        st.just(valid),
        st.sampled_from(["keep", "set", "set", "set", "drop"]),
        st.sampled_from([*valid, "extra"]),
        edge_values,
    ).map(change)


@st.composite
def records(draw):
    """A valid record (of each type, items included) with fields and items varied."""
    record = dict(draw(st.sampled_from(TEMPLATES)))
    for name, valid in VALID_ITEMS.items():
        if name in record or (name == "categories" and record["type"] == "scorecard"):
            record[name] = draw(st.lists(st.one_of(_vary(valid), json_values), max_size=3))
    return {**draw(_vary(record)), "type": record["type"]}  # the importer reads type first


@settings(max_examples=1500, deadline=None)
@given(records())
def test_every_record_is_accepted_as_the_rules_read_or_refused_with_their_messages(record):
    assert_agrees(record)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["type"] for t in TEMPLATES])
def test_the_rules_agree_at_every_boundary_of_every_field(template):
    """Every field of a valid record, and of each of its items, set to every boundary value,
    dropped, or joined by another: deterministic, where random generation may miss one."""
    variants = [template, {**template, "extra": 1}]
    for key in template:
        if key != "type":
            variants.append({k: v for k, v in template.items() if k != key})
            variants += [{**template, key: value} for value in BOUNDARIES]
    for name, valid in VALID_ITEMS.items():
        if name not in template and (name, template["type"]) != ("categories", "scorecard"):
            continue
        items = [valid, {**valid, "extra": 1}, 7]
        for key in valid:
            items.append({k: v for k, v in valid.items() if k != key})
            items += [{**valid, key: value} for value in BOUNDARIES]
        variants += [{**template, name: [valid, item]} for item in items]
    assert len(variants) > 50
    for record in variants:
        assert_agrees(record)


def test_admin_gets_the_imports_item_rules_by_field():
    """Scorecard.clean() shows the import's messages on the field they belong to."""
    problems = scorecard_item_problems(
        {"categories": [{"key": "k", "label": " ", "score": 5}, 3], "callouts": "no"}
    )
    assert problems == {
        "categories": [
            "categories[0].label: must not be blank",
            "categories[1]: must be an object",
        ],
        "callouts": ["callouts: must be a list"],
    }
    assert scorecard_item_problems({"categories": [], "callouts": None}) == {}


# -- a tenant's time zone: any string is a zone zoneinfo loads, or refused -----------------------

zone_like = st.one_of(
    st.text(max_size=70),
    st.sampled_from(sorted(IANA)),
    st.sampled_from(sorted(IANA)).map(str.lower),
    st.sampled_from(sorted(IANA)).map(lambda name: f"{name}/../{name}"),
    st.from_regex(r"[A-Za-z_+\-]{1,14}(/[A-Za-z_+\-0-9]{1,14}){0,2}", fullmatch=True),
)


@settings(max_examples=1500, deadline=None)
@given(zone_like)
@example("UTC")
@example("localtime")
@example("right/UTC")
@example("a" * 5000)
def test_any_string_is_a_time_zone_zoneinfo_loads_or_is_refused(value):
    line = {**tenant(), "time_zone": value}
    if is_time_zone(value):
        assert zoneinfo.ZoneInfo(value).key == value
        validate_time_zone(value)
        assert CLEANERS["tenant"](line)["time_zone"] == value
    else:
        with pytest.raises(ValidationError):
            validate_time_zone(value)
        with pytest.raises(Invalid) as refused:
            CLEANERS["tenant"](line)
        assert [p for p in refused.value.problems if p.startswith("time_zone: ")]


@db_property(200)
@given(st.lists(zone_like, min_size=1, max_size=3))
def test_arbitrary_time_zones_in_a_file_are_imported_or_reported(tmp_path_factory, values):
    """Never an exception other than the command's report: all written, or nothing."""
    path = tmp_path_factory.mktemp("zones") / "f.jsonl"
    path.write_bytes(b"".join(orjson.dumps({**tenant(), "time_zone": v}) + b"\n" for v in values))
    before = snapshot()
    try:
        call_command("import_data", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        assert not all(is_time_zone(v) for v in values)
        assert "time_zone: " in str(exc)
        assert snapshot() == before
    else:
        assert all(is_time_zone(v) for v in values)
        assert Tenant.objects.get().time_zone == values[-1]  # the last line wins
