"""Keeping the daily rollups and the reps' spans (analytics/models.py) exact.

``recompute`` rebuilds the rows of given (tenant, UTC day) pairs from the sessions themselves;
writers call it for every day whose sessions or scorecards they changed, before and after the
change (a session can move to another day). Rebuilding rather than incrementing makes it
idempotent: re-importing a file leaves the rollups as they were. ``recompute_spans`` does the
same for the reps whose sessions changed (a session can move to another rep, too).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from sessions_api.models import Session

from .models import RepSpan, ScenarioDay, TenantDay

DayKeys = dict[uuid.UUID, set[date]]


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# Days this close are recomputed as one range, the days between included (recomputing a day is
# exact whether or not it changed): a sparse tenant's year of days then costs a few range
# queries instead of one per day (an import of 20k sessions spent 1.3 s in 1,344 queries).
MERGE_GAP = timedelta(days=14)


def _ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Nearby days merged into inclusive ranges: few queries for a batch or a whole file."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and day - ranges[-1][1] <= MERGE_GAP:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def collect(keys: DayKeys, tenant_id: uuid.UUID, started_at: datetime | None) -> None:
    if started_at is not None:
        keys[tenant_id].add(day_of(started_at))


def new_keys() -> DayKeys:
    return defaultdict(set)


# tenant -> reps whose RepSpan may have changed.
RepKeys = dict[uuid.UUID, set[uuid.UUID]]
SPAN_CHUNK = 500  # reps per query: within SQLite's parameter limit


def recompute_spans(reps: RepKeys) -> None:
    """Rebuild the RepSpan rows of these reps from their sessions (session_user_idx)."""
    for tenant_id, users in reps.items():
        ordered = sorted(users)
        for start in range(0, len(ordered), SPAN_CHUNK):
            chunk = ordered[start : start + SPAN_CHUNK]
            RepSpan.objects.filter(tenant_id=tenant_id, user_id__in=chunk).delete()
            _insert_from(
                RepSpan,
                Session.unscoped.filter(tenant_id=tenant_id, user_id__in=chunk)
                .values("tenant_id", "user_id")
                .annotate(first_started_at=Min("started_at"), last_started_at=Max("started_at")),
            )


def recompute(keys: DayKeys) -> None:
    for tenant_id, days in keys.items():
        for first, last in _ranges(days):
            sessions = Session.unscoped.filter(
                tenant_id=tenant_id, started_at__gte=start_of(first)
            ).annotate(day=TruncDate("started_at", tzinfo=UTC))
            if last < date.max:  # the calendar's last day has no day after it to stop at
                sessions = sessions.filter(started_at__lt=start_of(last + timedelta(days=1)))
            figures = {
                "sessions": Count("id"),
                "scored": Count("scorecard__id"),
                "score_total": Coalesce(Sum("scorecard__overall_score"), 0),
            }
            TenantDay.objects.filter(tenant_id=tenant_id, day__range=(first, last)).delete()
            ScenarioDay.objects.filter(tenant_id=tenant_id, day__range=(first, last)).delete()
            _insert_from(TenantDay, sessions.values("tenant_id", "day").annotate(**figures))
            _insert_from(
                ScenarioDay,
                sessions.values("tenant_id", "scenario_id", "day").annotate(**figures),
            )


def _insert_from(model, aggregate: QuerySet) -> None:
    """INSERT ... SELECT of the aggregate: the rows never travel to Python and back (a file's
    worth of days is about as many ScenarioDay rows as sessions)."""
    query = aggregate.order_by().query
    sql, params = query.sql_with_params()
    columns = ", ".join((*query.values_select, *query.annotation_select))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({columns}) {sql}", params)


def recompute_all() -> None:
    """Rebuild every rollup from scratch (after bulk SQL, or to verify them)."""
    keys = new_keys()
    reps: RepKeys = defaultdict(set)
    for tenant_id, started_at, user_id in Session.unscoped.values_list(
        "tenant_id", "started_at", "user_id"
    ):
        collect(keys, tenant_id, started_at)
        reps[tenant_id].add(user_id)
    TenantDay.objects.all().delete()
    ScenarioDay.objects.all().delete()
    RepSpan.objects.all().delete()
    recompute(keys)
    recompute_spans(reps)
