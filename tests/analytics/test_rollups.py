"""The rollup-backed summary always equals the plain aggregate over the sessions."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.selectors import summary, summary_plain
from roleplay.models import RepSpan, TenantDay
from roleplay.rollups import recompute_all
from roleplay.services import session_delete, session_upsert
from tenants.models import Tenant
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
    TenantFactory,
)
from tests.helpers import db_property
from tests.importing.lines import run_import, scenario, scorecard, session, tenant, to_bytes, user

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=10 * 24 * 60)  # ten days, any minute


def _both(t, **kwargs):
    fast, plain = summary(tenant=t, **kwargs), summary_plain(tenant=t, **kwargs)
    assert fast == plain, kwargs
    return fast


@db_property(60)
@given(
    sessions=st.lists(
        st.tuples(minutes, st.integers(0, 2), st.integers(0, 2), st.none() | st.integers(0, 100)),
        max_size=25,
    ),
    periods=st.lists(st.tuples(minutes, minutes), min_size=1, max_size=4),
    moves=st.lists(st.tuples(st.integers(0, 24), minutes, st.integers(0, 2)), max_size=3),
)
def test_summary_equals_the_plain_aggregate(sessions, periods, moves):
    t = TenantFactory()
    reps = [RepFactory(tenant=t) for _ in range(3)]
    scenarios = [ScenarioFactory(tenant=t) for _ in range(3)]
    SessionFactory(started_at=T0)  # another tenant's session, same day: never counted
    created = []
    for offset, rep, scen, score in sessions:
        at = T0 + timedelta(minutes=offset)
        if score is None:
            created.append(
                SessionFactory(tenant=t, user=reps[rep], scenario=scenarios[scen], started_at=at)
            )
        else:
            card = ScorecardFactory(
                session__tenant=t,
                session__user=reps[rep],
                session__scenario=scenarios[scen],
                session__started_at=at,
                overall_score=score,
            )
            created.append(card.session)
    for index, offset, rep in moves:  # sessions edited to another day and rep, as in admin
        if index < len(created):
            moved = created[index]
            moved.started_at = T0 + timedelta(minutes=offset)
            moved.ended_at = None
            moved.user = reps[rep]
            session_upsert(session=moved)
    if created:
        session_delete(session=created[-1])

    for a, b in periods:
        start, end = sorted((T0 + timedelta(minutes=a), T0 + timedelta(minutes=b)))
        aligned_start = start.replace(hour=0, minute=0)
        aligned_end = end.replace(hour=23, minute=59, second=59, microsecond=999999)
        for lo, hi in ((start, end), (aligned_start, aligned_end), (aligned_start, end)):
            _both(t, started_from=lo, started_to=hi)
            _both(t, started_from=lo, started_to=hi, scenario_id=scenarios[0].id)
            _both(t, started_from=lo, started_to=hi, user_id=reps[1].id)


EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (EARLIEST, EARLIEST + timedelta(hours=1)),  # within the first day there is
        (EARLIEST + timedelta(hours=1), EARLIEST + timedelta(days=2, hours=1)),
        (EARLIEST, LATEST),
        (LATEST - timedelta(hours=1), LATEST),  # within the last day there is
        (LATEST - timedelta(days=2, hours=1), LATEST - timedelta(hours=1)),
        (EARLIEST + timedelta(hours=20), LATEST - timedelta(hours=20)),
    ],
)
def test_summary_at_the_edges_of_the_calendar(lo, hi):
    t = TenantFactory()
    for at in (EARLIEST, EARLIEST + timedelta(days=1, hours=3), T0, LATEST - timedelta(hours=5)):
        ScorecardFactory(session__tenant=t, session__started_at=at, overall_score=50)
    _both(t, started_from=lo, started_to=hi)
    _both(t, started_from=lo, started_to=hi, scenario_id=ScenarioFactory(tenant=t).id)


@pytest.mark.parametrize("batch", ["2000", "4"])  # one batch, and days spread over many
def test_import_keeps_rollups_exact_and_reimport_changes_nothing(tmp_path, batch):
    records = [tenant(), user(1), user(2), scenario(1), scenario(2)]
    for n in range(1, 30):
        at = (T0 + timedelta(hours=7 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = "scored" if n % 3 else "completed"
        pair = 1 + n % 2
        records.append(
            session(n, user_n=pair, scenario_n=pair, started_at=at, ended_at=None, status=status)
        )
        if n % 3:
            records.append(scorecard(n, overall_score=n * 3))
    path = tmp_path / "f.jsonl"

    path.write_bytes(to_bytes(records))
    run_import(str(path), "--batch-size", batch)

    acme = Tenant.objects.get(slug="acme")
    start, end = T0, T0 + timedelta(days=9, hours=5)
    first = _both(acme, started_from=start, started_to=end)
    rows = sorted(TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total"))
    run_import(str(path), "--batch-size", batch)
    assert _both(acme, started_from=start, started_to=end) == first
    assert (
        sorted(TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total")) == rows
    )
    # Moving every session by a day (and every third to the other rep) through a second import
    # keeps them exact too.
    moved = [
        {
            **r,
            "started_at": r["started_at"].replace("2026-05-0", "2026-05-1"),
            "user_id": user(2)["id"] if r["id"].endswith(("3", "6", "9")) else r["user_id"],
        }
        if r["type"] == "session"
        else r
        for r in records
    ]
    path.write_bytes(to_bytes(moved))
    run_import(str(path), "--batch-size", batch)
    _both(acme, started_from=start, started_to=end + timedelta(days=10))
    maintained = sorted(TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total"))
    spans = sorted(RepSpan.unscoped.values_list("user_id", "first_started_at", "last_started_at"))
    recompute_all()  # from scratch: what the importer maintained batch by batch must match
    rebuilt = sorted(TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total"))
    assert maintained == rebuilt and rebuilt != rows
    assert spans == sorted(
        RepSpan.unscoped.values_list("user_id", "first_started_at", "last_started_at")
    )
    assert len(spans) == 2


def test_a_session_moved_to_another_rep_leaves_no_stale_span():
    t = TenantFactory()
    a, b = RepFactory(tenant=t), RepFactory(tenant=t)
    session = SessionFactory(tenant=t, user=a, started_at=T0 + timedelta(hours=12))
    SessionFactory(tenant=t, user=b, started_at=T0 + timedelta(days=5))
    period = {"started_from": T0, "started_to": T0 + timedelta(days=1, hours=6)}
    assert _both(t, **period).unique_reps == 1
    session.user = b
    session_upsert(session=session)
    assert _both(t, **period).unique_reps == 1
    assert not RepSpan.unscoped.filter(user=a).exists()
    session_delete(session=session)
    assert _both(t, **period).unique_reps == 0
