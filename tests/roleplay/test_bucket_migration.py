"""roleplay 0004 (a RepBucket holds its categories; RepBucketCategory goes) on a database
filled before it, on each backend: the rollups it leaves are exactly what the code that keeps
them rebuilds, and it can be reversed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from roleplay.models import RepBucket
from roleplay.rollups import recompute_all
from tenants.models import Tenant
from tests.analytics.test_breakdown import local_rollups

BEFORE = [("roleplay", "0003_breakdown_rollups")]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_0004_fills_every_tenants_buckets_with_their_categories():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("roleplay")
    try:
        _migrate(BEFORE)
        loader = MigrationExecutor(connection).loader
        others = [node for node in loader.graph.leaf_nodes() if node[0] != "roleplay"]
        old = loader.project_state(others + BEFORE).apps
        model = {name: old.get_model("roleplay", name) for name in ("Rep", "Scenario", "Session")}
        tenant = old.get_model("tenants", "Tenant").objects.create(
            slug="before", name="Before", time_zone="Asia/Kolkata"
        )
        rep = model["Rep"].unscoped.create(tenant=tenant, full_name="R", updated_at=T0)
        scenario = model["Scenario"].unscoped.create(
            tenant=tenant, name="S", call_type="cold_call", created_at=T0, updated_at=T0
        )
        for i in range(12):
            at = T0 + timedelta(hours=31 * i)
            session = model["Session"].unscoped.create(
                tenant=tenant, user=rep, scenario=scenario, status="scored", started_at=at,
                created_at=at, updated_at=at,
            )  # fmt: skip
            old.get_model("roleplay", "Scorecard").unscoped.create(
                tenant=tenant, session=session, overall_score=7 * i, verdict="solid",
                headline="h", created_at=at, updated_at=at,
                categories=[{"key": "discovery", "label": f"D{i % 3}", "score": 8 * i}],
            )  # fmt: skip
        _migrate(latest)
        filled = Tenant.objects.get(slug="before")
        found = local_rollups(filled)
        assert found["RepBucket"]
        weeks = RepBucket.objects.for_tenant(filled).filter(unit="week")
        assert sum(w.categories[0][2] for w in weeks) == 12
        recompute_all()
        assert local_rollups(filled) == found
        _migrate(BEFORE)  # and back
    finally:
        _migrate(latest)
