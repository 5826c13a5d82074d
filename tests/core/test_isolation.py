"""Property: with two tenants and random data, no id of tenant B ever reaches tenant A."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roleplay.models import Session
from roleplay.services import session_delete
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
    TenantFactory,
)
from tests.helpers import db_property

pytestmark = pytest.mark.django_db
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
T0 = datetime(2026, 5, 6, 17, tzinfo=UTC)


def _populate(tenant, draw_counts) -> dict[str, set[str]]:
    reps = [RepFactory(tenant=tenant) for _ in range(draw_counts[0] + 1)]
    scenarios = [ScenarioFactory(tenant=tenant) for _ in range(draw_counts[1] + 1)]
    ids = {str(tenant.id)} | {str(r.id) for r in reps} | {str(s.id) for s in scenarios}
    for i, offset in enumerate(draw_counts[2]):
        kwargs = {
            "tenant": tenant,
            "user": reps[i % len(reps)],
            "scenario": scenarios[i % len(scenarios)],
            "started_at": T0 - timedelta(minutes=offset),
        }
        if i % 2:
            card = ScorecardFactory(**{f"session__{k}": v for k, v in kwargs.items()})
            ids |= {str(card.id), str(card.session_id)}
        else:
            ids.add(str(SessionFactory(**kwargs).id))
    return ids


counts = st.tuples(st.integers(0, 3), st.integers(0, 3), st.lists(st.integers(0, 5), max_size=8))


@db_property(15)
@given(mine=counts, theirs=counts)
def test_no_id_of_another_tenant_reaches_any_endpoint(client_for, mine, theirs):
    a, b = TenantFactory(), TenantFactory()
    a_ids = _populate(a, mine)
    b_ids = _populate(b, theirs)
    # Tenant B's deletions too: one of its sessions (with its scorecard, if any) is deleted.
    doomed = Session.unscoped.filter(tenant=b).first()
    if doomed is not None:
        session_delete(session=doomed)
    api = client_for(a)

    urls = [
        "/api/v1/token",
        "/api/v1/sessions?limit=100",
        "/api/v1/scenarios?limit=100",
        "/api/v1/users?limit=100&include=email",
        "/api/v1/analytics/summary?from=2026-01-01",
        "/api/v1/sessions?limit=100&expand=scorecard,transcript",
        "/api/v1/sessions?limit=100&updated_since=1970-01-01&expand=scorecard",
        "/api/v1/scorecards?limit=100",
        "/api/v1/scorecards?limit=100&updated_since=1970-01-01",
        "/api/v1/scenarios?limit=100&updated_since=1970-01-01",
        "/api/v1/users?limit=100&include=email&updated_since=1970-01-01",
        "/api/v1/deletions?limit=100",
    ]
    # Every filter and every detail path, fed with the other tenant's ids too.
    for some_id in sorted(a_ids | b_ids):
        urls += [
            f"/api/v1/sessions?user_id={some_id}",
            f"/api/v1/sessions?scenario_id={some_id}",
            f"/api/v1/sessions/{some_id}",
            f"/api/v1/scorecards/{some_id}",
            f"/api/v1/scorecards?user_id={some_id}",
            f"/api/v1/scorecards?scenario_id={some_id}",
            f"/api/v1/scenarios/{some_id}",
            f"/api/v1/users/{some_id}?include=email",
            f"/api/v1/analytics/summary?from=2026-01-01&user_id={some_id}",
            f"/api/v1/analytics/summary?from=2026-01-01&scenario_id={some_id}",
        ]
    for url in urls:
        response = api.get(url)
        assert response.status_code in (200, 404), (url, response.content)
        seen = set(UUID.findall(response.content.decode()))
        assert not (seen & b_ids), url
    # And the summary counts only tenant A's sessions, whatever the filter.
    for some_id in b_ids:
        data = api.get(f"/api/v1/analytics/summary?from=2026-01-01&user_id={some_id}").json()
        assert data["data"]["sessions"] == 0
