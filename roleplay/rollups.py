"""Keeping the daily rollups and the reps' spans (TenantDay, ScenarioDay, RepSpan in
roleplay/models.py) exact.

``recompute`` rebuilds the rows of given (tenant, UTC day) pairs from the sessions themselves;
the write services (roleplay/services.py, roleplay/scoring.py) collect in a ``Touched``
every day whose sessions or scorecards they change, before and after the change (a session can
move to another day), and recompute them in the same transaction. Rebuilding rather than
incrementing makes it idempotent: re-importing a file leaves the rollups as they were.
``recompute_spans`` does the same for the reps whose sessions changed (a session can move to
another rep, too).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from .models import RepSpan, ScenarioDay, Session, TenantDay

DayKeys = dict[uuid.UUID, set[date]]
# tenant -> reps whose RepSpan may have changed.
RepKeys = dict[uuid.UUID, set[uuid.UUID]]
SPAN_CHUNK = 500  # reps per query: within SQLite's parameter limit
QUERY_CHUNK = 900


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


@dataclass
class Touched:
    """The (tenant, day) pairs and reps whose rollups a write may have changed.

    Memory is bounded by tenants × days and reps, not by the sessions written.
    """

    days: DayKeys = field(default_factory=new_keys)
    reps: RepKeys = field(default_factory=lambda: defaultdict(set))

    def add(
        self, tenant_id: uuid.UUID, started_at: datetime | None, user_id: uuid.UUID | None = None
    ) -> None:
        collect(self.days, tenant_id, started_at)
        if user_id is not None:
            self.reps[tenant_id].add(user_id)

    def add_days_of(self, session_ids: list[uuid.UUID]) -> None:
        """The days of these stored sessions (a scorecard of theirs changed)."""
        for start in range(0, len(session_ids), QUERY_CHUNK):
            chunk = session_ids[start : start + QUERY_CHUNK]
            for tenant_id, started_at in Session.unscoped.filter(id__any_of=chunk).values_list(
                "tenant_id", "started_at"
            ):
                collect(self.days, tenant_id, started_at)

    def recompute(self) -> None:
        recompute(self.days)
        recompute_spans(self.reps)


def recompute_spans(reps: RepKeys) -> None:
    """Rebuild the RepSpan rows of these reps from their sessions (session_user_idx)."""
    for tenant_id, users in reps.items():
        ordered = sorted(users)
        for start in range(0, len(ordered), SPAN_CHUNK):
            chunk = ordered[start : start + SPAN_CHUNK]
            RepSpan.unscoped.filter(tenant_id=tenant_id, user_id__in=chunk).delete()
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
            TenantDay.unscoped.filter(tenant_id=tenant_id, day__range=(first, last)).delete()
            ScenarioDay.unscoped.filter(tenant_id=tenant_id, day__range=(first, last)).delete()
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
    touched = Touched()
    for tenant_id, started_at, user_id in Session.unscoped.values_list(
        "tenant_id", "started_at", "user_id"
    ):
        touched.add(tenant_id, started_at, user_id)
    TenantDay.unscoped.all().delete()
    ScenarioDay.unscoped.all().delete()
    RepSpan.unscoped.all().delete()
    touched.recompute()
