"""A change of a tenant's zone while a session of it is being written, made to happen on
PostgreSQL: the write has rebuilt its day in the old zone and not committed yet when the zone
changes. Without the zone lock (roleplay/rollups.py) the change would rebuild every day without
that session, and the write would then commit its day as the old zone counts it: a rollup no
recompute would give. With it, the change waits, then rebuilds seeing the session."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from roleplay.models import RepBucket
from roleplay.rollups import recompute_all
from roleplay.services import tenant_save
from tenants.models import Tenant
from tests.analytics.test_breakdown import local_rollups
from tests.factories import RepFactory, ScenarioFactory, ScorecardFactory, TenantFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL"),
]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_zone_change_waits_for_a_write_in_flight_and_counts_its_session():
    tenant = TenantFactory(time_zone="UTC")
    rep, scenario = RepFactory(tenant=tenant), ScenarioFactory(tenant=tenant)
    for hour in range(0, 48, 7):
        ScorecardFactory(
            session__tenant=tenant,
            session__user=rep,
            session__scenario=scenario,
            session__started_at=T0 + timedelta(hours=hour),
        )
    written, release, errors = threading.Event(), threading.Event(), []

    def write() -> None:
        try:
            with transaction.atomic():
                # 23:30 UTC: 2026-03-01 in UTC, 2026-03-02 in Chatham (+13:45).
                ScorecardFactory(
                    session__tenant=tenant,
                    session__user=rep,
                    session__scenario=scenario,
                    session__started_at=T0 + timedelta(hours=23, minutes=30),
                )
                written.set()
                assert release.wait(30)
        except Exception as exc:  # reported by the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    def change_zone() -> None:
        try:
            moved = Tenant.objects.get(pk=tenant.pk)
            moved.time_zone = "Pacific/Chatham"
            tenant_save(tenant=moved)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(30)
    changer = threading.Thread(target=change_zone)
    changer.start()
    time.sleep(1)
    waited = changer.is_alive()  # the change waits for the write in flight
    release.set()
    writer.join(30)
    changer.join(30)
    assert not errors, errors
    assert waited
    assert Tenant.objects.get(pk=tenant.pk).time_zone == "Pacific/Chatham"
    found = local_rollups(tenant)
    recompute_all()
    assert local_rollups(tenant) == found
    days = RepBucket.unscoped.filter(tenant=tenant, unit="day")
    assert sum(days.values_list("sessions", flat=True)) == 8
