"""GET /analytics/breakdown (docs/api-guide.md, Answers): every group equals the contract's
definition (analytics/reference.py) computed from the rows themselves, in any zone and period,
whichever way the figures are read (rollups of the tenant's zone, or the sessions)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from analytics.breakdown import By, Period, breakdown
from analytics.reference import breakdown_reference
from analytics.selectors import round_half_up
from analytics.shapes import GROUP, breakdown_example, group_objects, render_groups
from core import zones
from core.cursors import dump_opaque
from core.examples import demo_records
from core.formats import rfc3339
from roleplay.models import RepBucket, Session
from roleplay.rollups import LOCAL, recompute_all
from roleplay.services import session_delete, session_upsert, tenant_save
from tenants.models import Tenant
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
    TenantFactory,
)
from tests.helpers import db_property, invalid_parameter

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/breakdown"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
# The property's span holds DST changes in Europe (03-29) and in the south (04-05).
TP = datetime(2026, 3, 20, tzinfo=UTC)
# Whole-hour, half-hour and 45-minute offsets; DST north and south; a zone that skips midnight.
ZONES = [
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Europe/London",
    "Pacific/Kiritimati",
    "America/St_Johns",
]
BYS = [
    ("user",),
    ("scenario",),
    ("day",),
    ("week",),
    ("month",),
    ("user", "week"),
    ("week", "user"),
    ("scenario", "month"),
    ("user", "scenario"),
    ("scenario", "day"),
]


def local_rollups(tenant) -> dict[str, list]:
    """Every local rollup row of the tenant (roleplay/rollups.py LOCAL), ids left out."""
    return {
        model.__name__: sorted(
            tuple(str(v) for v in row)
            for row in model.unscoped.filter(tenant=tenant).values_list(
                *(f.attname for f in model._meta.fields if f.name != "id")
            )
        )
        for model in LOCAL
    }


def _records(tenant) -> list[dict]:
    out = []
    for s in Session.objects.for_tenant(tenant).select_related("scorecard"):
        card = getattr(s, "scorecard", None)
        out.append(
            {
                "user_id": s.user_id,
                "scenario_id": s.scenario_id,
                "started_at": s.started_at,
                "scorecard": None
                if card is None
                else {
                    "overall_score": card.overall_score,
                    "verdict": card.verdict,
                    "categories": card.categories,
                    "created_at": card.created_at,
                },
            }
        )
    return out


def _wire(groups: list[dict]) -> list[dict]:
    """Reference groups as the API renders them (ids and dates as text)."""
    out = []
    for group in groups:
        rendered = {}
        for name, value in group.items():
            if isinstance(value, date):
                rendered[name] = value.isoformat()
            elif name in ("user_id", "scenario_id"):
                rendered[name] = str(value)
            else:
                rendered[name] = value
        out.append(rendered)
    return out


def _all_pages(api, query: dict) -> list[dict]:
    groups, cursor = [], None
    while True:
        response = api.get(URL, {**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        groups += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return groups


def _category(key: str, score: int, label: str | None = None) -> dict:
    return {"key": key, "label": label or key.title(), "score": score, "feedback": ""}


SPAN = 16 * 24 * 60  # minutes: enough for partial and whole days, weeks and a month's end
sessions_strategy = st.lists(
    st.tuples(
        st.integers(0, SPAN),  # a minute of the span
        st.integers(0, 2),  # rep
        st.integers(0, 1),  # scenario
        st.none()
        | st.tuples(
            st.integers(0, 100),
            st.lists(
                st.tuples(
                    st.sampled_from(["discovery", "closing", "rapport"]), st.integers(0, 100)
                ),
                max_size=3,
                unique_by=lambda item: item[0],
            ),
            st.sampled_from(["A", "B"]),  # the label, so the newest one must win
        ),
    ),
    max_size=30,
)


@db_property(80)
@given(
    sessions=sessions_strategy,
    tenant_zone=st.sampled_from(ZONES),
    asked_zone=st.none() | st.sampled_from(ZONES),
    by=st.sampled_from(BYS),
    period=st.tuples(st.integers(0, SPAN), st.integers(0, SPAN)),
    dates_alone=st.booleans(),
    only=st.sampled_from([None, "user", "scenario"]),
    limit=st.sampled_from([1, 2, 1000]),
)
def test_every_group_equals_the_definition(
    client_for, sessions, tenant_zone, asked_zone, by, period, dates_alone, only, limit
):
    t = TenantFactory(time_zone=tenant_zone)
    reps = [RepFactory(tenant=t) for _ in range(3)]
    scenarios = [ScenarioFactory(tenant=t) for _ in range(2)]
    SessionFactory(started_at=TP + timedelta(days=3))  # another tenant's: never counted
    for minute, rep, scenario, scoring in sessions:
        at = TP + timedelta(minutes=minute)
        if scoring is None:
            SessionFactory(tenant=t, user=reps[rep], scenario=scenarios[scenario], started_at=at)
            continue
        score, items, label = scoring
        ScorecardFactory(
            session__tenant=t,
            session__user=reps[rep],
            session__scenario=scenarios[scenario],
            session__started_at=at,
            overall_score=score,
            categories=[_category(k, v, f"{k} {label}") for k, v in items],
            created_at=TP + timedelta(days=minute // (4 * 24 * 60)),  # labels tie often
        )
    tz_name = asked_zone or tenant_zone
    tz = zones.zone(tz_name)
    a, b = sorted(period)
    query = {"by": ",".join(by), "limit": limit}
    if asked_zone:
        query["tz"] = asked_zone
    if dates_alone:
        first = (TP + timedelta(minutes=a)).astimezone(tz).date()
        last = (TP + timedelta(minutes=b)).astimezone(tz).date()
        query.update({"from": first.isoformat(), "to": last.isoformat()})
        start = zones.day_start(first, tz)
        end = zones.day_start(last + timedelta(days=1), tz) - timedelta(microseconds=1)
    else:
        start, end = TP + timedelta(minutes=a), TP + timedelta(minutes=b, seconds=59)
        query.update({"from": rfc3339(start), "to": rfc3339(end)})
    filters = {}
    if only == "user":
        filters["user_id"] = reps[0].id
    elif only == "scenario":
        filters["scenario_id"] = scenarios[1].id
    query.update({k: str(v) for k, v in filters.items()})

    expected = breakdown_reference(
        _records(t), by=by, tz=tz, started_from=start, started_to=end, **filters
    )
    api = client_for(t, scopes=["analytics:read"])
    assert _all_pages(api, query) == _wire(expected)


@st.composite
def spread(draw) -> tuple[list, tuple[int, int]]:
    """Sessions over 5 or 75 days, and a period from inside the first day to inside one of
    the last: whole days, weeks and months between partial ends."""
    days = draw(st.sampled_from([5, 75]))
    minute = st.integers(0, days * 24 * 60)
    sessions = draw(
        st.lists(
            st.tuples(minute, st.integers(0, 1), st.integers(0, 1), st.none()),
            min_size=3,
            max_size=25,
        )
    )
    period = (
        draw(st.integers(0, 24 * 60)),
        draw(st.integers((days - 2) * 24 * 60, days * 24 * 60)),
    )
    return sessions, period


@db_property(60)
@given(
    data=spread(),
    tenant_zone=st.sampled_from(ZONES),
    by=st.sampled_from([by for by in BYS if "scenario" not in by]),
)
def test_rollups_and_partial_ends_together_equal_the_definition(client_for, data, tenant_zone, by):
    """Periods that start and end inside a day, in the tenant's zone: every answer adds
    monthly, weekly and daily rollups and the sessions of the partial days, and a rep seen in
    several of them counts once."""
    sessions, period = data
    test_every_group_equals_the_definition.hypothesis.inner_test(
        client_for, sessions, tenant_zone, None, by, period, False, None, 1000
    )


def test_a_rep_seen_in_whole_and_partial_days_counts_once(api, tenant):
    """Whole days come from the rollups, the partial ends from the sessions: a rep in both is
    one rep of the group."""
    rep, scenario = RepFactory(tenant=tenant), ScenarioFactory(tenant=tenant)
    for hour in (2, 30, 50):
        SessionFactory(
            tenant=tenant, user=rep, scenario=scenario, started_at=T0 + timedelta(hours=hour)
        )
    start, end = T0 + timedelta(hours=1), T0 + timedelta(days=2, hours=5)
    for by in ("scenario", "month", "scenario,month"):
        (group,) = _all_pages(api, {"by": by, "from": rfc3339(start), "to": rfc3339(end)})
        assert (group["sessions"], group["unique_reps"]) == (3, 1)


def test_groups_add_up_to_the_summary(api, tenant):
    reps = [RepFactory(tenant=tenant) for _ in range(3)]
    for i in range(30):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=reps[i % 3],
            session__started_at=T0 + timedelta(hours=13 * i),
            overall_score=(i * 29) % 101,
        )
    SessionFactory(tenant=tenant, user=reps[0], started_at=T0 + timedelta(days=2))
    period = {"from": "2026-03-02T05:00:00Z", "to": "2026-03-12T17:30:00Z"}
    summary = api.get("/api/v1/analytics/summary", period).json()["data"]
    for by in BYS:
        groups = _all_pages(api, {**period, "by": ",".join(by), "tz": "Asia/Kathmandu"})
        assert sum(g["sessions"] for g in groups) == summary["sessions"]
        assert sum(g["scored"] for g in groups) == summary["scored"]
        assert summary["sessions"] > 0


def test_a_week_in_new_york_across_the_dst_change(api, tenant):
    """Sessions on both sides of the 23-hour day 2026-03-08 fall in the local days and ISO
    weeks of New York, not of UTC."""
    tenant.time_zone = "America/New_York"
    tenant_save(tenant=tenant)
    rep = RepFactory(tenant=tenant)
    # Sunday 2026-03-08 23:30 local (EDT, -4) is Monday 03:30 UTC: still Sunday's week.
    SessionFactory(tenant=tenant, user=rep, started_at=datetime(2026, 3, 9, 3, 30, tzinfo=UTC))
    # Monday 2026-03-09 00:30 local is 04:30 UTC: the next week.
    SessionFactory(tenant=tenant, user=rep, started_at=datetime(2026, 3, 9, 4, 30, tzinfo=UTC))
    query = {"by": "week", "from": "2026-03-02", "to": "2026-03-15"}
    weeks = [(g["week"], g["sessions"]) for g in _all_pages(api, query)]
    assert weeks == [("2026-03-02", 1), ("2026-03-09", 1)]
    days = _all_pages(api, {**query, "by": "day", "from": "2026-03-08", "to": "2026-03-09"})
    assert [(g["day"], g["sessions"]) for g in days] == [("2026-03-08", 1), ("2026-03-09", 1)]
    utc = _all_pages(api, {**query, "tz": "UTC"})
    assert [(g["week"], g["sessions"]) for g in utc] == [("2026-03-02", 0), ("2026-03-09", 2)]


def test_a_time_zone_change_keeps_the_rollups_exact(api, tenant):
    rep = RepFactory(tenant=tenant)
    for hour in range(0, 72, 5):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=rep,
            session__started_at=T0 + timedelta(hours=hour),
        )
    before = list(RepBucket.objects.for_tenant(tenant).values_list("unit", "start", "sessions"))
    tenant.time_zone = "Pacific/Chatham"
    tenant_save(tenant=tenant)
    after = sorted(RepBucket.objects.for_tenant(tenant).values_list("unit", "start", "sessions"))
    assert after != sorted(before)
    found = local_rollups(tenant)
    assert all(found.values())
    recompute_all()
    assert local_rollups(tenant) == found
    query = {"by": "day", "from": "2026-03-01", "to": "2026-03-04"}
    expected = breakdown_reference(
        _records(tenant),
        by=("day",),
        tz=zones.zone("Pacific/Chatham"),
        started_from=zones.day_start(date(2026, 3, 1), zones.zone("Pacific/Chatham")),
        started_to=zones.day_start(date(2026, 3, 5), zones.zone("Pacific/Chatham"))
        - timedelta(microseconds=1),
    )
    assert _all_pages(api, query) == _wire(expected)


def test_edits_and_deletes_keep_the_rollups_exact(api, tenant):
    tenant.time_zone = "Asia/Kolkata"
    tenant_save(tenant=tenant)
    cards = [
        ScorecardFactory(session__tenant=tenant, session__started_at=T0 + timedelta(hours=7 * i))
        for i in range(10)
    ]
    moved = cards[0].session
    moved.started_at = T0 + timedelta(days=20, hours=20)
    moved.ended_at = None
    session_upsert(session=moved)
    session_delete(session=cards[1].session)
    found = local_rollups(tenant)
    recompute_all()
    assert local_rollups(tenant) == found


def test_time_alone_lists_every_bucket_with_zeros(api, tenant):
    SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 13, 12, tzinfo=UTC))
    groups = _all_pages(api, {"by": "day", "from": "2026-05-11", "to": "2026-05-15"})
    assert [g["day"] for g in groups] == [f"2026-05-{d}" for d in range(11, 16)]
    assert [g["sessions"] for g in groups] == [0, 0, 1, 0, 0]
    empty = groups[0]
    assert empty["avg_score"] is None and empty["unique_reps"] == 0 and empty["categories"] == []
    assert empty["verdicts"] == {"crushed_it": 0, "solid": 0, "needs_work": 0, "missed_the_mark": 0}
    months = _all_pages(api, {"by": "month", "from": "2026-01-31", "to": "2026-03-01"})
    assert [g["month"] for g in months] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    weeks = _all_pages(api, {"by": "week", "from": "2026-05-13", "to": "2026-05-13"})
    assert [g["week"] for g in weeks] == ["2026-05-11"]  # the ISO week holding it, Monday


def test_a_group_in_full(api, tenant):
    rep = RepFactory(tenant=tenant)
    at = datetime(2026, 5, 5, 10, tzinfo=UTC)
    for score, verdict, label in ((70, "solid", "Old"), (91, "crushed_it", "New")):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=rep,
            session__started_at=at,
            overall_score=score,
            verdict=verdict,
            categories=[_category("discovery", score - 1, label), _category("closing", 50)],
            created_at=at + timedelta(minutes=score),
        )
    SessionFactory(tenant=tenant, user=rep, started_at=at)
    (group,) = _all_pages(api, {"by": "user,week", "from": "2026-05-01", "to": "2026-05-31"})
    assert group == {
        "user_id": str(rep.id),
        "week": "2026-05-04",
        "sessions": 3,
        "scored": 2,
        "avg_score": 81,  # 80.5, halves up
        "unique_reps": 1,
        "verdicts": {"crushed_it": 1, "solid": 1, "needs_work": 0, "missed_the_mark": 0},
        "categories": [
            {"key": "closing", "label": "Closing", "scored": 2, "avg_score": 50},
            {"key": "discovery", "label": "New", "scored": 2, "avg_score": 80},
        ],
    }


def test_other_tenants_rows_are_never_counted(api, tenant, other_tenant):
    ScorecardFactory(
        session__tenant=other_tenant, session__started_at=datetime(2026, 5, 6, tzinfo=UTC)
    )
    theirs = ScorecardFactory(
        session__tenant=other_tenant, session__started_at=datetime(2026, 5, 7, tzinfo=UTC)
    )
    may = {"from": "2026-05-01", "to": "2026-05-31"}
    assert _all_pages(api, {**may, "by": "user"}) == []
    assert _all_pages(api, {**may, "by": "scenario", "user_id": str(theirs.session.user_id)}) == []
    assert sum(g["sessions"] for g in _all_pages(api, {**may, "by": "week"})) == 0


@pytest.mark.parametrize("by", BYS)
def test_the_fast_rendering_is_the_shapes(tenant, by):
    """The view renders groups without GROUP.from_values' walk: same objects, same order."""
    rep = RepFactory(tenant=tenant)
    ScorecardFactory(session__tenant=tenant, session__user=rep, session__started_at=T0)
    SessionFactory(tenant=tenant, user=rep, started_at=T0 - timedelta(days=40))
    period = Period(T0 - timedelta(days=45), T0, zones.zone("UTC"), "UTC")
    groups, _ = breakdown(tenant=tenant, by=By(by), period=period)
    assert groups
    fast = render_groups(groups)
    plain = [GROUP.from_values(g, include=by) for g in groups]
    assert fast == plain
    assert [list(g) for g in fast] == [list(g) for g in plain]


# Labels and keys JSON must escape, and ones that sort apart by code point but not by locale.
ODD = ['quote " and \\ backslash', "line\nbreak\ttab\u0001", "é accent", "Z upper", "a lower", "😀"]


def _odd_tenant(tenant) -> None:
    """Sessions over five weeks of London, some on partial days of the period below: labels
    of every kind, a key twice on one scorecard, labels tied on created_at."""
    tenant.time_zone = "Europe/London"
    tenant_save(tenant=tenant)
    reps = [RepFactory(tenant=tenant) for _ in range(3)]
    scenarios = [ScenarioFactory(tenant=tenant) for _ in range(2)]
    for i in range(60):
        at = T0 + timedelta(hours=14 * i + 3)
        if i % 7 == 3:
            SessionFactory(
                tenant=tenant, user=reps[i % 3], scenario=scenarios[i % 2], started_at=at
            )
            continue
        label = ODD[i % len(ODD)]
        items = [_category(ODD[(i + 1) % len(ODD)], (i * 37) % 101, label)]
        items += [_category("discovery", (i * 11) % 101, label), _category("Closing", i, "C")]
        if i % 5 == 0:
            items.append(_category("discovery", 100 - i, f"{label} again"))
        ScorecardFactory(
            session__tenant=tenant,
            session__user=reps[i % 3],
            session__scenario=scenarios[i % 2],
            session__started_at=at,
            overall_score=(i * 29) % 101,
            categories=items,
            created_at=T0 + timedelta(days=i // 6),  # ties between labels
        )


@pytest.mark.parametrize("by", BYS)
def test_the_databases_rendering_is_pythons_and_the_definitions(tenant, by):
    """The groups the database renders (PostgreSQL: one statement, a whole week's group read
    from its rollup row) are, as the answer splices them, what the Python merge gives through
    the shapes, field order included, and the definition."""
    _odd_tenant(tenant)
    tz = zones.zone("Europe/London")
    start, end = T0 + timedelta(days=2, hours=5), T0 + timedelta(days=31, hours=7)
    period = Period(start, end, tz, "Europe/London")
    rendered, last = breakdown(tenant=tenant, by=By(by), period=period, rendered=True)
    merged, last_merged = breakdown(tenant=tenant, by=By(by), period=period, in_sql=False)
    assert rendered and last is None and last_merged is None
    answered = orjson.loads(orjson.dumps(render_groups(rendered)))
    plain = [GROUP.from_values(g, include=by) for g in merged]
    assert answered == plain
    assert [list(g) for g in answered] == [list(g) for g in plain]
    assert group_objects(rendered) == plain
    assert any(g["categories"] for g in plain)
    expected = breakdown_reference(
        _records(tenant), by=by, tz=tz, started_from=start, started_to=end
    )
    assert plain == _wire(expected)
    # Pages: a cursor after each group gives the rest.
    for i in range(0, len(merged), 7):
        after = tuple(merged[i][By(by).field(name)] for name in by)
        page, _ = breakdown(tenant=tenant, by=By(by), period=period, after=after, limit=3)
        assert page == merged[i + 1 : i + 4]


def test_each_bucket_holds_its_categories_merged_and_rendered(tenant):
    """RepBucket.categories: by key (code points), the newest label (ties: the greater),
    label_at in UTC at a fixed width; categories_text: the same as a group shows them."""
    _odd_tenant(tenant)
    rows = RepBucket.objects.for_tenant(tenant).values_list("categories", "categories_text")
    assert any(categories for categories, _ in rows)
    for categories, text in rows:
        assert [entry[0] for entry in categories] == sorted(entry[0] for entry in categories)
        assert all(len(entry[4]) == 27 and entry[4].endswith("Z") for entry in categories)
        assert orjson.loads(text) == [
            {"key": key, "label": label, "scored": n, "avg_score": round_half_up(total, n)}
            for key, label, n, total, _at in categories
        ]
    weeks = RepBucket.objects.for_tenant(tenant).filter(unit="week", scored__gt=0)
    for week in weeks:
        days = RepBucket.objects.for_tenant(tenant).filter(
            unit="day", user_id=week.user_id, start__gte=week.start,
            start__lt=week.start + timedelta(days=7),
        )  # fmt: skip
        found: dict = {}
        for day in days:
            for key, label, n, total, at in day.categories:
                entry = found.setdefault(key, [0, 0, "", ""])
                entry[0], entry[1] = entry[0] + n, entry[1] + total
                if (at, label) > (entry[2], entry[3]):
                    entry[2], entry[3] = at, label
        assert week.categories == [[k, e[3], e[0], e[1], e[2]] for k, e in sorted(found.items())]


def test_missing_scope_is_403(client_for, tenant):
    response = client_for(tenant, scopes=["sessions:read"]).get(URL, {"by": "week"})
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "analytics:read"


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ({}, "by"),
        ({"by": ""}, "by"),
        ({"by": "week,month"}, "by"),
        ({"by": "user,user"}, "by"),
        ({"by": "user,scenario,week"}, "by"),
        ({"by": "rep"}, "by"),
        ({"by": "User"}, "by"),
        ({"by": "week", "tz": "Mars/Olympus"}, "tz"),
        ({"by": "week", "tz": "america/new_york"}, "tz"),
        ({"by": "week", "tz": "../../etc/passwd"}, "tz"),
        ({"by": "week", "from": "2026-06-01", "to": "2026-05-01"}, "from"),
        ({"by": "week", "from": "x"}, "from"),
        ({"by": "week", "limit": "0"}, "limit"),
        ({"by": "week", "limit": "1001"}, "limit"),
        ({"by": "week", "user_id": "1"}, "user_id"),
        ({"by": "week", "cursor": "nope"}, "cursor"),
    ],
)
def test_bad_parameters_are_400(api, query, bad):
    assert bad in invalid_parameter(api.get(URL, query))["details"]


def test_a_cursor_is_for_its_own_by(api, tenant):
    for i in range(3):
        SessionFactory(tenant=tenant, started_at=datetime(2026, 5, 6 + i, tzinfo=UTC))
    may = {"from": "2026-05-01", "to": "2026-05-31", "limit": 1}
    cursor = api.get(URL, {**may, "by": "user"}).json()["next_cursor"]
    assert cursor
    details = invalid_parameter(api.get(URL, {**may, "by": "scenario", "cursor": cursor}))
    assert "by=user" in details["details"]["cursor"][0]
    sessions_cursor = api.get("/api/v1/users", {"limit": 1}).json()["next_cursor"]
    assert (
        "cursor"
        in invalid_parameter(api.get(URL, {**may, "by": "user", "cursor": sessions_cursor}))[
            "details"
        ]
    )


@pytest.mark.parametrize("by", ["user,week", "scenario", "week", "week,user"])
def test_constant_query_count(api, tenant, by, django_assert_max_num_queries):
    tenant.time_zone = "Europe/London"
    tenant_save(tenant=tenant)
    reps = [RepFactory(tenant=tenant) for _ in range(4)]
    for i in range(40):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=reps[i % 4],
            session__started_at=T0 + timedelta(hours=11 * i),
        )
    query = {"by": by, "from": "2026-03-01T06:00:00Z", "to": "2026-03-19T13:00:00Z"}
    api.get(URL, query)
    # Token; per part (rollups, sessions): groups and categories; the reps both parts saw.
    with django_assert_max_num_queries(7):
        assert api.get(URL, query).status_code == 200


def test_the_schemas_example_is_what_the_api_answers_for_the_demo(client_for):
    call_command("import_data", "fixtures/demo.jsonl", stdout=io.StringIO())
    demo = demo_records()
    expected = breakdown_example(demo, demo["tenant"][0]["id"])
    api = client_for(Tenant.objects.get(id=demo["tenant"][0]["id"]))
    started = sorted(
        s["started_at"] for s in demo["session"] if s["tenant_id"] == demo["tenant"][0]["id"]
    )
    body = api.get(
        URL, {"by": "user,week", "from": started[0], "to": started[-1], "limit": 2}
    ).json()
    assert body == expected
    assert expected["data"][0]["categories"]


def test_csv_is_every_group_of_the_json_pages(api, tenant):
    """?format=csv: every group (not a page), the JSON's rows and order, nested values as JSON
    text, errors before the first byte in the envelope."""
    import csv
    import io as text_io

    import orjson

    reps = [RepFactory(tenant=tenant, full_name=f"=cmd{i}") for i in range(3)]
    for i in range(24):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=reps[i % 3],
            session__started_at=T0 + timedelta(hours=17 * i),
            categories=[_category("discovery", 40 + i, "=SUM(A1)")],
        )
    query = {"by": "user,week", "from": "2026-02-20", "to": "2026-03-31", "limit": 2}
    groups = _all_pages(api, query)
    response = api.get(URL, {**query, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="breakdown.csv"'
    rows = list(csv.DictReader(text_io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["user_id"] for r in rows] == [g["user_id"] for g in groups]
    assert len(rows) == len(groups) > 2  # every group, though limit=2
    for row, group in zip(rows, groups, strict=True):
        assert list(row) == list(group)
        assert int(row["sessions"]) == group["sessions"] and row["week"] == group["week"]
        assert orjson.loads(row["verdicts"]) == group["verdicts"]
        assert orjson.loads(row["categories"]) == group["categories"]
    by_accept = api.get(URL, query, HTTP_ACCEPT="text/csv")
    assert b"".join(by_accept.streaming_content) == b"".join(
        api.get(URL, {**query, "format": "csv"}).streaming_content
    )
    assert "by" in invalid_parameter(api.get(URL, {"format": "csv"}))["details"]
    assert "format" in invalid_parameter(api.get(URL, {**query, "format": "xml"}))["details"]


def _crafted_cursor(names: str, key: list[str]) -> str:
    return dump_opaque(["breakdown", names, key])


edge_dates = st.sampled_from(
    ["0001-01-01", "0001-01-31", "0001-02-01", "9999-11-30", "9999-12-01", "9999-12-31",
     "2026-03-08", "2026-13-01", "x"]
)  # fmt: skip
edge_instants = st.sampled_from(
    ["0001-01-01", "0000-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31",
     "9999-12-31T23:59:59.999999Z", "9999-12-31T23:00:00-05:00", "2026-03-08T02:30:00",
     "2026-03-08", "not a date"]
)  # fmt: skip


@db_property(150)
@given(
    by=st.sampled_from(["user", "week", "day", "month", "user,week", "scenario", "week,user"]),
    tz=st.none() | st.sampled_from(["Pacific/Kiritimati", "Etc/GMT+12", "America/Santiago", "?"]),
    start=st.none() | edge_instants,
    end=st.none() | edge_instants,
    cursor=st.none()
    | st.builds(lambda d: _crafted_cursor("week", [d]), edge_dates)
    | st.builds(lambda d: _crafted_cursor("day", [d]), edge_dates)
    | st.builds(lambda d: _crafted_cursor("user,week", [str(uuid.uuid4()), d]), edge_dates)
    | st.text(max_size=30),
    limit=st.sampled_from([None, "1", "3", "1000"]),
    csv_format=st.booleans(),
)
def test_any_query_is_an_answer_or_a_400_never_a_500(
    api, tenant, by, tz, start, end, cursor, limit, csv_format
):
    if not SessionFactory._meta.model.objects.for_tenant(tenant).exists():
        SessionFactory(tenant=tenant, started_at=datetime(1, 1, 1, 3, tzinfo=UTC))
        SessionFactory(tenant=tenant, started_at=datetime(9999, 12, 31, 20, tzinfo=UTC))
        ScorecardFactory(session__tenant=tenant, session__started_at=T0)
    query = {"by": by, "tz": tz, "from": start, "to": end, "cursor": cursor, "limit": limit}
    query = {k: v for k, v in query.items() if v is not None}
    if csv_format:
        query["format"] = "csv"
    response = api.get(URL, query)
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        invalid_parameter(response)
    elif csv_format:
        b"".join(response.streaming_content)


def test_a_time_zone_changed_in_admin_rebuilds_the_rollups(client, tenant):
    from django.contrib.auth.models import User

    rep = RepFactory(tenant=tenant)
    for hour in range(0, 60, 7):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=rep,
            session__started_at=T0 + timedelta(hours=hour),
        )
    before = local_rollups(tenant)
    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    response = client.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        {
            "slug": tenant.slug,
            "name": tenant.name,
            "time_zone": "Asia/Kathmandu",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content[:500]
    tenant.refresh_from_db()
    assert tenant.time_zone == "Asia/Kathmandu"
    found = local_rollups(tenant)
    assert found != before
    recompute_all()
    assert local_rollups(tenant) == found


def test_set_time_zone_changes_the_zone_and_rebuilds_the_rollups(tenant):
    from django.core.management.base import CommandError

    for hour in range(0, 60, 7):
        ScorecardFactory(session__tenant=tenant, session__started_at=T0 + timedelta(hours=hour))
    before = local_rollups(tenant)
    out = io.StringIO()
    call_command("set_time_zone", tenant.slug, "Australia/Lord_Howe", stdout=out)
    assert "time zone Australia/Lord_Howe" in out.getvalue()
    tenant.refresh_from_db()
    assert tenant.time_zone == "Australia/Lord_Howe"
    found = local_rollups(tenant)
    assert found != before
    recompute_all()
    assert local_rollups(tenant) == found
    with pytest.raises(CommandError, match="Unknown time zone"):
        call_command("set_time_zone", tenant.slug, "Mars/Olympus")
    with pytest.raises(CommandError, match="no tenant"):
        call_command("set_time_zone", "nobody", "UTC")
    tenant.refresh_from_db()
    assert tenant.time_zone == "Australia/Lord_Howe" and local_rollups(tenant) == found
