"""Keeping the daily rollups and the reps' spans (TenantDay, ScenarioDay, RepSpan and the
local ones, RepBucket with its categories, in roleplay/models.py) exact.

``recompute`` rebuilds the rows of given (tenant, UTC day) pairs from the sessions themselves;
the write services (roleplay/services.py, roleplay/scoring.py) collect in a ``Touched``
every day whose sessions or scorecards they change, before and after the change (a session can
move to another day), and recompute them in the same transaction. Rebuilding rather than
incrementing makes it idempotent: re-importing a file leaves the rollups as they were.
``recompute_spans`` does the same for the reps whose sessions changed (a session can move to
another rep, too).

TenantDay and ScenarioDay count UTC days; the local rollups count days of the tenant's time
zone (``recompute_local``). A UTC day touches the local days before, of and after it (no
zone is 24 hours off), so those three are rebuilt. Writers of a tenant's sessions hold a
shared lock on its zone while they rebuild days, a change of its zone (``recompute_tenant``, in
the transaction of that change) an exclusive one: the change waits for writers in flight and
then rebuilds every day seeing their sessions, and a writer that comes after it reads the new
zone. Writers never wait for each other (an import does not hold up an edit in admin).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    CharField,
    Count,
    DateField,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Trunc, TruncDate

from core import zones
from core.dbfunctions import json_items, xact_lock
from tenants.models import Tenant

from .models import (
    RepBucket,
    RepSpan,
    ScenarioDay,
    Scorecard,
    Session,
    TenantDay,
    Verdict,
)

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


def _ranges(days: Iterable[date], gap: timedelta = MERGE_GAP) -> list[tuple[date, date]]:
    """Nearby days merged into inclusive ranges: few queries for a batch or a whole file."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if isinstance(day, str):  # SQLite's text
            day = date.fromisoformat(day)
        if ranges and day - ranges[-1][1] <= gap:
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
    # Tenants whose time zone changed: every local day of theirs is rebuilt.
    zones: set[uuid.UUID] = field(default_factory=set)

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
        with transaction.atomic(), _without_jit():
            recompute(self.days, whole=self.zones)
            recompute_spans(self.reps)


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL's JIT off for the rest of the transaction, then as it was. The recompute's
    statements read categories as rows of JSON (``jsonb_to_recordset``, ``jsonb_array_elements``),
    which the planner guesses at a hundred rows each: a year of a tenant then looks costly enough
    to compile, and compiling took longer than running (0.7 s of a zone change's 2.7 s
    statement, 1.8 s of its 4)."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        before = cursor.fetchone()[0]
    yield
    # Not on an error: the transaction, or its savepoint, is rolled back with the setting.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', %s, true)", [before])


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


def recompute(keys: DayKeys, *, whole: set[uuid.UUID] = frozenset()) -> None:
    """Rebuild these (tenant, UTC day) pairs; every local day of the tenants in ``whole``."""
    for tenant_id in whole:
        recompute_tenant(tenant_id)
    for tenant_id, days in keys.items():
        if tenant_id not in whole:
            tz = _locked_zone(tenant_id)
            for first, last in _ranges(days):
                recompute_local(tenant_id, tz, _clamp(first, -1), _clamp(last, 1))
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


ZONE_LOCK = 0x525A4F4E  # b"RZON": the advisory lock namespace of tenants' rollup zones


def _locked_zone(tenant_id: uuid.UUID, *, shared: bool = True):
    xact_lock(connection, ZONE_LOCK, str(tenant_id), shared=shared)
    name = Tenant.objects.filter(pk=tenant_id).values_list("time_zone", flat=True).first()
    return zones.zone(name or "UTC")


LOCAL = (RepBucket,)
UNITS = ("day", "week", "month")


def recompute_tenant(tenant_id: uuid.UUID) -> None:
    """Rebuild every local rollup row of the tenant in its time zone (as it is now): called in
    the transaction that changes the zone."""
    with transaction.atomic(), _without_jit():
        tz = _locked_zone(tenant_id, shared=False)
        for model in LOCAL:
            model.unscoped.filter(tenant_id=tenant_id).delete()
        # By the days that hold sessions (a tenant's sessions could lie centuries apart), in
        # ranges as long as a year of nothing.
        days = (
            Session.unscoped.filter(tenant_id=tenant_id)
            .annotate(w_day=TruncDate("started_at", tzinfo=UTC))
            .values_list("w_day", flat=True)
            .distinct()
        )
        for first, last in _ranges(days, gap=timedelta(days=366)):
            recompute_local(tenant_id, tz, _clamp(first, -1), _clamp(last, 1), deleted=True)


def _clamp(day: date, move: int = 0) -> date:
    """``day`` moved by ``move`` days, held to the local days the rollups keep (those whose
    buckets start and end at instants: all but the calendar's first and last month)."""
    day = min(max(day, zones.FIRST_DAY), zones.LAST_DAY)
    return min(max(day + timedelta(days=move), zones.FIRST_DAY), zones.LAST_DAY)


FIGURES = ("sessions", "scored", "score_total", *Verdict.values)


def recompute_local(
    tenant_id: uuid.UUID, tz, first: date, last: date, *, deleted: bool = False
) -> None:
    """Rebuild the tenant's local rollup rows of the days ``first`` to ``last`` (inclusive) in
    its zone ``tz``, and of the weeks and months holding them: days from the sessions, weeks
    and months from the days."""
    first, last = _clamp(first), _clamp(last)
    start = zones.day_start(first, tz)
    end = zones.day_start(last + timedelta(days=1), tz)  # exclusive
    ranges = {unit: (zones.bucket_of(first, unit), zones.bucket_of(last, unit)) for unit in UNITS}
    if not deleted:
        for model in LOCAL:
            for unit, (low, high) in ranges.items():
                model.unscoped.filter(
                    tenant_id=tenant_id, unit=unit, start__gte=low, start__lte=high
                ).delete()
    day = Value("day", output_field=CharField())
    sessions = Session.unscoped.filter(
        tenant_id=tenant_id, started_at__gte=start, started_at__lt=end
    ).annotate(unit=day, start=zones.local_trunc("started_at", "day", tz, [(start, end)]))
    verdicts = {
        verdict: Count("scorecard__id", filter=Q(scorecard__verdict=verdict))
        for verdict in Verdict.values
    }
    figures = sessions.values("tenant_id", "user_id", "unit", "start").annotate(
        sessions=Count("id"),
        scored=Count("scorecard__id"),
        score_total=Coalesce(Sum("scorecard__overall_score"), 0),
        **verdicts,
    )
    cards = (
        Scorecard.unscoped.filter(
            session__tenant_id=tenant_id,
            session__started_at__gte=start,
            session__started_at__lt=end,
        )
        .annotate(
            start=zones.local_trunc("session__started_at", "day", tz, [(start, end)]),
            w_user_id=F("session__user_id"),
        )
        .values("w_user_id", "start", "categories", "created_at")
        .order_by()
    )
    vendor = connection.vendor
    sql, params = cards.query.sql_with_params()
    items, key, label, score = json_items(vendor, "c.categories")
    newest = newest_label(vendor, at_text(vendor, "c.created_at"), label)
    per_key = (
        f"SELECT c.w_user_id AS g_user, c.start AS g_start, {key} AS key, COUNT(*) AS scored,"  # noqa: S608
        f" SUM({score}) AS total, MAX({newest}) AS newest FROM ({sql}) c{items}"
        f" WHERE {key} IS NOT NULL GROUP BY c.w_user_id, c.start, {key}"
    )
    _insert_buckets(figures, "unit", "start", (per_key, params))
    for unit in ("week", "month"):
        low, high = ranges[unit]
        days = RepBucket.unscoped.filter(
            tenant_id=tenant_id,
            unit="day",
            start__gte=low,
            start__lt=zones.next_bucket(high, unit),
        ).annotate(bucket=Trunc("start", unit, output_field=DateField()))
        named = Value(unit, output_field=CharField())
        figures = (
            days.annotate(w_unit=named)
            .values("tenant_id", "user_id", "w_unit", "bucket")
            .annotate(**{name: Sum(name) for name in FIGURES})
        )
        cells = days.filter(scored__gt=0).values("user_id", "bucket", "categories").order_by()
        sql, params = cells.query.sql_with_params()
        items, key, label, scored, total, at = stored_items(vendor, "d.categories")
        per_key = (
            f"SELECT d.user_id AS g_user, d.bucket AS g_start, {key} AS key,"  # noqa: S608
            f" CAST(SUM({scored}) AS bigint) AS scored, CAST(SUM({total}) AS bigint) AS total,"
            f" MAX({newest_label(vendor, at, label)}) AS newest"
            f" FROM ({sql}) d{items} GROUP BY d.user_id, d.bucket, {key}"
        )
        _insert_buckets(figures, "w_unit", "bucket", (per_key, params))


# -- RepBucket.categories in SQL -----------------------------------------------------------------

# The width of a label_at: "YYYY-MM-DDTHH:MM:SS.ffffffZ". Fixed, so that the text compares as
# the instants do, and a label_at followed by its label compares as the pair does.
AT_WIDTH = 27


def at_text(vendor: str, column: str) -> str:
    """SQL: a timestamp column as a label_at (UTC, microseconds, fixed width). SQLite holds
    timestamps as UTC text, ``YYYY-MM-DD HH:MM:SS`` and ``.ffffff`` when not zero."""
    if vendor == "postgresql":
        return f"""to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return (
        f"replace(CASE WHEN length({column}) = 19 THEN {column} || '.000000'"
        f" ELSE substr({column} || '000000', 1, 26) END, ' ', 'T') || 'Z'"
    )


def newest_label(vendor: str, at: str, label: str) -> str:
    """SQL whose greatest value (``MAX``) over a key's entries is that of the newest label
    (ties: the greater label), code point by code point: the label_at, then the label."""
    if vendor == "postgresql":
        return f'(({at}) || ({label})) COLLATE "C"'
    return f"({at}) || ({label})"


def stored_items(vendor: str, column: str) -> tuple[str, str, str, str, str, str]:
    """SQL to read a RepBucket.categories column as rows: the FROM clause to append after the
    table, and the key, label, scored, score_total and label_at expressions."""
    if vendor == "postgresql":
        return (
            f" CROSS JOIN LATERAL jsonb_array_elements({column}) AS e(v)",
            "(e.v->>0)",
            "(e.v->>1)",
            "(e.v->2)::bigint",
            "(e.v->3)::bigint",
            "(e.v->>4)",
        )
    return (
        f", json_each({column}) AS e",
        *(f"json_extract(e.value, '$[{i}]')" for i in range(5)),
    )


def category_entry(vendor: str, key: str, label: str, scored: str, total: str) -> str:
    """SQL: one key's entry of a group's wire ``categories`` as compact JSON text,
    ``{"key":...,"label":...,"scored":...,"avg_score":...}`` (the mean halves up)."""
    quote = "to_json(({}))::text" if vendor == "postgresql" else "json_quote({})"
    return (
        f"""'{{"key":' || {quote.format(key)} || ',"label":' || {quote.format(label)}"""
        f""" || ',"scored":' || ({scored}) || ',"avg_score":'"""
        f" || ((2 * ({total}) + ({scored})) / (2 * ({scored}))) || '}}'"
    )


def category_lists(vendor: str, per_key: str) -> str:
    """SQL: per (``g_user``, ``g_start``) of the rows of ``per_key`` (columns g_user, g_start,
    key, scored, total, newest: a key's entry, newest the greatest of :func:`newest_label`),
    the bucket's RepBucket.categories (``cats``) and categories_text (``text``), in key
    order."""
    label, at = f"substr(newest, {AT_WIDTH + 1})", f"substr(newest, 1, {AT_WIDTH})"
    entry = category_entry(vendor, "key", label, "scored", "total")
    if vendor == "postgresql":
        ordered = 'ORDER BY key COLLATE "C"'
        return (
            "SELECT g_user, g_start, jsonb_agg(jsonb_build_array(key, "  # noqa: S608
            f"{label}, scored, total, {at}) {ordered}) AS cats,"
            f" '[' || string_agg({entry}, ',' {ordered}) || ']' AS text"
            f" FROM ({per_key}) k GROUP BY g_user, g_start"
        )
    # No ORDER BY in SQLite's aggregates before 3.44: a window's is kept.
    window = "PARTITION BY g_user, g_start ORDER BY key"
    whole = f"OVER ({window} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
    return (
        "SELECT g_user, g_start, cats, '[' || text || ']' AS text FROM (SELECT g_user, g_start,"  # noqa: S608
        f" json_group_array(json_array(key, {label}, scored, total, {at})) {whole} AS cats,"
        f" group_concat({entry}, ',') {whole} AS text,"
        f" row_number() OVER ({window}) AS n FROM ({per_key}) k) w WHERE n = 1"
    )


def _insert_buckets(
    figures: QuerySet, unit: str, start: str, per_key: tuple[str, Sequence[Any]]
) -> None:
    """INSERT ... SELECT of RepBucket rows: ``figures`` (tenant_id, user_id, the bucket's
    ``unit`` and ``start`` as named there, and FIGURES) with the categories of ``per_key`` (see
    :func:`category_lists`)."""
    vendor = connection.vendor
    sql, params = figures.order_by().query.sql_with_params()
    empty = "'[]'::jsonb" if vendor == "postgresql" else "'[]'"
    keyed = ", ".join(f"f.{name}" for name in ("tenant_id", "user_id", unit, start, *FIGURES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RepBucket._meta.db_table} (tenant_id, user_id, unit, start,"  # noqa: S608
            f" {', '.join(FIGURES)}, categories, categories_text)"
            f" SELECT {keyed}, COALESCE(l.cats, {empty}), COALESCE(l.text, '[]')"
            f" FROM ({sql}) f LEFT JOIN ({category_lists(vendor, per_key[0])}) l"
            f" ON l.g_user = f.user_id AND l.g_start = f.{start}",
            (*params, *per_key[1]),
        )


def _insert_from(model, aggregate: QuerySet, columns: str | None = None) -> None:
    """INSERT ... SELECT of the aggregate: the rows never travel to Python and back (a file's
    worth of days is about as many ScenarioDay rows as sessions). ``columns``: the table's
    columns the aggregate's fill, in order, when their names differ."""
    query = aggregate.order_by().query
    sql, params = query.sql_with_params()
    if columns is None:
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
    for model in LOCAL:
        model.unscoped.all().delete()
    touched.zones.update(touched.days)
    touched.recompute()
