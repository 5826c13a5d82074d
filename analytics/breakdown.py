"""GET /analytics/breakdown: the summary's figures per rep, scenario and calendar bucket of a
time zone (docs/api-guide.md, Answers).

Each group adds up cells. In the tenant's own zone, when no scenario is asked for, whole local
months, weeks and days come from the reps' rollups (RepBucket and RepBucketCategory in
roleplay/models.py, kept exact by every write and rebuilt when the zone changes): a year by
week is a year of weekly rows, not of sessions. The partial days at the ends of the period,
and everything by scenario or in another zone, come from the sessions themselves, with the
zone's offsets applied in SQL (core/zones.py). Each part is grouped by the database and the
parts are added here; distinct reps do not add up, so a group that several parts saw counts
the union of their reps. analytics/reference.py is the definition every answer is held to.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.db import connections, router
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Trunc, TruncDate

from core import zones
from core.cursors import dump_opaque
from core.dbfunctions import json_items
from roleplay.models import RepBucket, RepBucketCategory, Scorecard, Session, Verdict
from tenants.models import Tenant

from .selectors import round_half_up

IDS = {"user": "user_id", "scenario": "scenario_id"}
DIMENSIONS = (*IDS, *zones.UNITS)
VERDICTS = tuple(Verdict.values)
Key = tuple[Any, ...]
CURSOR_KIND = "breakdown"
# Longer than this, a period read from the sessions gets the zone's offsets only for the days
# that hold sessions (one query more) rather than for every day of it.
LONG = timedelta(days=3 * 366)
FIGURES = ("sessions", "scored", "score_total", "unique_reps", *VERDICTS)


@dataclass(frozen=True)
class By:
    """What to group by, in order: ids and at most one time unit."""

    names: tuple[str, ...]

    @property
    def unit(self) -> zones.Unit | None:
        return next((name for name in self.names if name in zones.UNITS), None)  # type: ignore[return-value]

    @property
    def time_alone(self) -> bool:
        return self.names == (self.unit,)

    def keys(self, key: Key) -> dict[str, Any]:
        """A group's keys by their names in the answer, in the shape's order (ids, then time)."""
        named = dict(zip(self.names, key, strict=True))
        return {self.field(name): named[name] for name in DIMENSIONS if name in named}

    def field(self, name: str) -> str:
        """The group's key in the answer: ``user_id``, ``scenario_id``, ``day``, ..."""
        return IDS.get(name, name)


@dataclass(frozen=True)
class Period:
    started_from: datetime
    started_to: datetime
    tz: ZoneInfo
    tz_name: str


def encode_cursor(by: By, key: Key | None) -> str | None:
    if key is None:
        return None
    text = [k.isoformat() if isinstance(k, date) else str(k) for k in key]
    return dump_opaque([CURSOR_KIND, ",".join(by.names), text])


def _alias(name: str) -> str:
    return "k_time" if name in zones.UNITS else f"k_{name}"


def _normalize(name: str, value: Any) -> Any:
    """A key as the database returned it (a date or text; a UUID, hex or hyphenated)."""
    if name in IDS:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _beyond(by: By, key: Key, lookup: str, *, inclusive: bool) -> Q:
    """Rows whose key tuple comes after (``lookup="gt"``) or before (``"lt"``) ``key`` in the
    order of ``by``, or is it with ``inclusive``."""
    aliases = [_alias(name) for name in by.names]
    parts = [
        Q(**dict(zip(aliases[:i], key[:i], strict=True)), **{f"{alias}__{lookup}": key[i]})
        for i, alias in enumerate(aliases)
    ]
    if inclusive:
        parts.append(Q(**dict(zip(aliases, key, strict=True))))
    return reduce(operator.or_, parts)


def _after(by: By, after: Key | None, *, inclusive: bool = False) -> Q:
    """Rows whose key tuple comes after ``after`` (or is it, with ``inclusive``)."""
    return Q() if after is None else _beyond(by, after, "gt", inclusive=inclusive)


def _not_after(by: By, last: Key) -> Q:
    return _beyond(by, last, "lt", inclusive=True)


# -- the two sources of cells -------------------------------------------------------------------


class Cells:
    """Where a part of the period's cells come from, grouped by ``by``: ``rows`` are the cells
    (one queryset with the key columns annotated), ``figures`` how to add them up."""

    def __init__(self, by: By, rows: QuerySet, *, rolled: bool):
        self.by, self.rows, self.rolled = by, rows, rolled

    def groups(self, where: Q, limit: int | None) -> list[dict[str, Any]]:
        names = [_alias(name) for name in self.by.names]
        if self.rolled:
            figures = {
                "sessions": Sum("sessions"),
                "scored": Sum("scored"),
                "score_total": Sum("score_total"),
                **{verdict: Sum(verdict) for verdict in VERDICTS},
            }
        else:
            figures = {
                "sessions": Count("id"),
                "scored": Count("scorecard__id"),
                "score_total": Sum("scorecard__overall_score"),
                **{
                    verdict: Count("scorecard__id", filter=Q(scorecard__verdict=verdict))
                    for verdict in VERDICTS
                },
            }
        if "user" not in self.by.names:
            figures["unique_reps"] = Count("user_id", distinct=True)
        grouped = self.rows.filter(where).values(*names).annotate(**figures).order_by(*names)
        return list(grouped if limit is None else grouped[: limit + 1])

    def reps(self, where: Q) -> set[Key]:
        """The distinct (key..., user id) pairs of the cells."""
        rows = self.rows.filter(where)
        names = [_alias(name) for name in self.by.names]
        found = rows.values_list(*names, "user_id").distinct().order_by()
        return {(*self._key(row[:-1]), _normalize("user", row[-1])) for row in found}

    def _key(self, row: Sequence[Any]) -> Key:
        return tuple(
            _normalize(name, value) for name, value in zip(self.by.names, row, strict=True)
        )

    def key(self, group: dict[str, Any]) -> Key:
        return self._key([group[_alias(name)] for name in self.by.names])


def _key_columns(by: By, time: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name in by.names:
        columns[_alias(name)] = time if name in zones.UNITS else F(IDS[name])
    return columns


def _rolled(tenant: Tenant, by: By, unit: str, where: Q, filters: dict[str, uuid.UUID]):
    """RepBucket rows of ``unit`` (and their categories) matching ``where`` on ``start``."""
    time = None
    if by.unit is not None:
        time = F("start") if unit == by.unit else Trunc("start", by.unit, output_field=DateField())
    columns = _key_columns(by, time)
    cells = RepBucket.objects.for_tenant(tenant).filter(where, unit=unit, **filters)
    categories = RepBucketCategory.objects.for_tenant(tenant).filter(where, unit=unit, **filters)
    return Cells(by, cells.annotate(**columns), rolled=True), categories.annotate(**columns)


def _rolled_parts(by: By, first: date, last: date) -> list[tuple[str, Q]]:
    """The whole local days ``first`` to ``last`` as few rollup rows as possible: whole buckets
    of the unit asked for (months when none is), and the days left over at either end."""
    unit = by.unit or "month"
    if unit == "day":
        return [("day", Q(start__gte=first, start__lte=last))]
    low = zones.bucket_of(first, unit)
    if low != first:
        low = zones.next_bucket(low, unit)
    high = zones.bucket_of(last, unit)
    if zones.next_bucket(high, unit) - timedelta(days=1) != last:
        high = zones.bucket_of(high - timedelta(days=1), unit)
    if low > high:
        return [("day", Q(start__gte=first, start__lte=last))]
    parts = [(unit, Q(start__gte=low, start__lte=high))]
    days = Q(start__gte=first, start__lt=low) | Q(
        start__gte=zones.next_bucket(high, unit), start__lte=last
    )
    return [*parts, ("day", days)]


def _from_sessions(
    tenant: Tenant,
    by: By,
    ranges: list[tuple[datetime, datetime, bool]],
    tz: ZoneInfo,
    filters: dict[str, uuid.UUID],
) -> tuple[Cells, QuerySet]:
    """``ranges``: (start, end, end included) instants of ``started_at``."""

    def within(prefix: str) -> Q:
        parts = [
            Q(
                **{
                    f"{prefix}started_at__gte": start,
                    f"{prefix}started_at__{'lte' if shut else 'lt'}": end,
                }
            )
            for start, end, shut in ranges
        ]
        return reduce(operator.or_, parts)

    exact_for = [(start, end) for start, end, _ in ranges]
    if by.unit is not None and sum((end - start for start, end in exact_for), timedelta()) > LONG:
        # The zone's offsets over centuries would be thousands of CASE branches (and seconds
        # to find): only the days that hold sessions need them.
        days = (
            Session.objects.for_tenant(tenant)
            .filter(within(""), **filters)
            .annotate(w_day=TruncDate("started_at", tzinfo=UTC))
            .values_list("w_day", flat=True)
            .distinct()
            .order_by()
        )
        exact_for = zones.day_ranges(_normalize("day", day) for day in days)

    def columns(prefix: str) -> dict[str, Any]:
        time = None
        if by.unit is not None:
            time = zones.local_trunc(f"{prefix}started_at", by.unit, tz, exact_for)
        keyed = _key_columns(by, time)
        if prefix:
            keyed = {
                alias: F(f"{prefix}{IDS[name]}") if name in IDS else keyed[alias]
                for name, alias in ((name, _alias(name)) for name in by.names)
            }
        return keyed

    cells = Session.objects.for_tenant(tenant).filter(within(""), **filters).annotate(**columns(""))
    cards = (
        Scorecard.objects.for_tenant(tenant)
        .filter(within("session__"), **{f"session__{k}": v for k, v in filters.items()})
        .filter(session__tenant=tenant)  # the sessions' own index: (tenant, started_at)
        .annotate(**columns("session__"))
    )
    return Cells(by, cells, rolled=False), cards


# -- categories ---------------------------------------------------------------------------------

CategoryFigures = dict[
    Key, dict[str, list[Any]]
]  # key -> category key -> [scored, total, at, label]


def _add_category(found: CategoryFigures, group: Key, row: Sequence[Any]) -> None:
    key, label, scored, total, at = row
    if key is None:
        return
    entry = found.setdefault(group, {}).get(key)
    if entry is None:
        found[group][key] = [scored, total, at, label]
        return
    entry[0] += scored
    entry[1] += total
    if (at, label) > (entry[2], entry[3]):
        entry[2], entry[3] = at, label


def _rolled_categories(by: By, rows: QuerySet, where: Q, found: CategoryFigures) -> None:
    names = [_alias(name) for name in by.names]
    grouped = (
        rows.filter(where)
        .values(*names, "key", "label")
        .annotate(n=Sum("scored"), total=Sum("score_total"), at=Max("label_at"))
        .order_by()
        .values_list(*names, "key", "label", "n", "total", "at")
    )
    for row in grouped:
        group = tuple(_normalize(n, v) for n, v in zip(by.names, row, strict=False))
        _add_category(found, group, row[len(names) :])


def _session_categories(by: By, rows: QuerySet, where: Q, found: CategoryFigures) -> None:
    names = [_alias(name) for name in by.names]
    inner = rows.filter(where).values(*names, "categories", "created_at").order_by()
    db = router.db_for_read(Scorecard)
    connection = connections[db]
    sql, params = inner.query.get_compiler(using=db).as_sql()
    items, key, label, score = json_items(connection.vendor, "c.categories")
    keys = ", ".join(f"c.{name}" for name in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {keys}, {key}, {label}, COUNT(*), SUM({score}), MAX(c.created_at)"  # noqa: S608
            f" FROM ({sql}) c{items} GROUP BY {keys}, {key}, {label}",
            params,
        )
        rows_found = cursor.fetchall()
    for row in rows_found:
        group = tuple(_normalize(n, v) for n, v in zip(by.names, row, strict=False))
        at = row[-1]
        if isinstance(at, str):  # SQLite's text, in UTC
            at = datetime.fromisoformat(at).replace(tzinfo=UTC)
        _add_category(found, group, (*row[len(names) : -1], at))


# -- the breakdown ------------------------------------------------------------------------------


def _figures_in_sql(
    by: By, sources: list[tuple[Cells, QuerySet]], where: Q, limit: int | None
) -> dict[Key, dict[str, Any]]:
    """PostgreSQL: the groups' figures from every source at once, in key order (the first
    ``limit`` + 1): each source's cells side by side (``UNION ALL``), added up by the database.
    A group's reps are the distinct reps of all its cells, whichever source they came from."""
    db = router.db_for_read(Scorecard)
    connection = connections[db]
    names = [_alias(name) for name in by.names]
    figures = ["sessions", "scored", "score_total", *VERDICTS]
    parts, params = [], []
    for cells, _ in sources:
        rows = cells.rows.filter(where)
        if cells.rolled:
            rows = rows.values(*names, "user_id", *figures)
        else:
            one = Value(1, output_field=IntegerField())
            zero = Value(0, output_field=IntegerField())
            rows = rows.values(
                *names,
                "user_id",
                sessions=one,
                scored=Case(When(scorecard__id__isnull=False, then=one), default=zero),
                score_total=Coalesce("scorecard__overall_score", zero),
                **{
                    verdict: Case(When(scorecard__verdict=verdict, then=one), default=zero)
                    for verdict in VERDICTS
                },
            )
        sql, part_params = rows.order_by().query.get_compiler(using=db).as_sql()
        parts.append(f"SELECT * FROM ({sql}) r")  # noqa: S608
        params.extend(part_params)
    keyed = ", ".join(names)
    sums = ", ".join(f"COALESCE(SUM({name}), 0)::bigint" for name in figures)
    cut = "" if limit is None else f" LIMIT {int(limit) + 1}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {keyed}, {sums}, COUNT(DISTINCT user_id) FROM ("  # noqa: S608
            f"{' UNION ALL '.join(parts)}) AS x ({keyed}, user_id, {', '.join(figures)})"
            f" GROUP BY {keyed} ORDER BY {keyed}{cut}",
            params,
        )
        found = cursor.fetchall()
    n = len(names)
    merged: dict[Key, dict[str, Any]] = {}
    for row in found:
        key = tuple(_normalize(name, v) for name, v in zip(by.names, row[:n], strict=True))
        merged[key] = dict(zip((*figures, "unique_reps"), row[n:], strict=True))
    return merged


def _categories_in_sql(
    by: By, sources: list[tuple[Cells, QuerySet]], window: Q
) -> dict[Key, list[list[Any]]]:
    """PostgreSQL: every source's category cells of the page's groups added up by the
    database in one statement, one row per group with its categories as JSON
    (``[[key, label, scored, score_total], ...]`` in key order): what ``_add_category`` does
    row by row, without sending each cell to Python (five to ten per group). A category's
    label is that of its newest scorecard (ties: the greater label), as there."""
    db = router.db_for_read(Scorecard)
    connection = connections[db]
    names = [_alias(name) for name in by.names]
    parts, params = [], []
    for cells, card_rows in sources:
        if cells.rolled:
            inner = card_rows.filter(window).values(
                *names, "key", "label", "scored", "score_total", "label_at"
            )
            sql, part_params = inner.query.get_compiler(using=db).as_sql()
            parts.append(f"SELECT * FROM ({sql}) r")  # noqa: S608
        else:
            inner = card_rows.filter(window).values(*names, "categories", "created_at").order_by()
            sql, part_params = inner.query.get_compiler(using=db).as_sql()
            items, key, label, score = json_items(connection.vendor, "c.categories")
            keys = ", ".join(f"c.{name}" for name in names)
            parts.append(
                f"SELECT {keys}, {key}, {label}, 1, {score}, c.created_at FROM ({sql}) c{items}"  # noqa: S608
            )
        params.extend(part_params)
    columns = ", ".join(f"u.{name}" for name in names)
    cells_sql = " UNION ALL ".join(parts)
    keyed = ", ".join(names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {keyed}, json_agg(json_build_array(key, label, scored, total)"  # noqa: S608
            f' ORDER BY key COLLATE "C")::text FROM ('
            f"SELECT {columns}, u.key, (array_agg(u.label ORDER BY u.label_at DESC,"
            f' u.label COLLATE "C" DESC))[1] AS label, SUM(u.scored)::bigint AS scored,'
            f" SUM(u.score_total)::bigint AS total FROM ("
            f"SELECT {', '.join(names)}, key, label, scored, score_total, label_at FROM ("
            f"{cells_sql}) AS x ({', '.join(names)}, key, label, scored, score_total, label_at)"
            f") u WHERE u.key IS NOT NULL GROUP BY {columns}, u.key) g GROUP BY {keyed}",
            params,
        )
        found = cursor.fetchall()
    n = len(names)
    return {
        tuple(_normalize(name, v) for name, v in zip(by.names, row[:n], strict=True)): orjson.loads(
            row[n]
        )
        for row in found
    }


def _empty(by: By, key: Key) -> dict[str, Any]:
    group = by.keys(key)
    group.update(
        sessions=0,
        scored=0,
        avg_score=None,
        unique_reps=0,
        verdicts=dict.fromkeys(VERDICTS, 0),
        categories=[],
    )
    return group


def _parts(period: Period) -> tuple[tuple[date, date] | None, list]:
    """The whole local days read from the rollups (those of zones.FIRST_DAY to LAST_DAY), and
    the ranges read from the sessions."""
    start, end, tz = period.started_from, period.started_to, period.tz
    whole = None, [(start, end, True)]
    first, last = zones.local_date(start, tz), zones.local_date(end, tz)
    if first > zones.LAST_DAY or last < zones.FIRST_DAY:
        return whole
    if first < zones.FIRST_DAY:
        first = zones.FIRST_DAY
    elif zones.day_start(first, tz) != start:
        first += timedelta(days=1)
    if last > zones.LAST_DAY:
        last = zones.LAST_DAY
    elif end < zones.day_start(last + timedelta(days=1), tz) - timedelta(microseconds=1):
        last -= timedelta(days=1)
    if first > last:
        return whole
    ranges = []
    if start < zones.day_start(first, tz):
        ranges.append((start, zones.day_start(first, tz), False))
    after_last = zones.day_start(last + timedelta(days=1), tz)
    if after_last <= end:
        ranges.append((after_last, end, True))
    return (first, last), ranges


def breakdown(
    *,
    tenant: Tenant,
    by: By,
    period: Period,
    user_id: uuid.UUID | None = None,
    scenario_id: uuid.UUID | None = None,
    after: Key | None = None,
    limit: int = 1000,
) -> tuple[list[dict[str, Any]], Key | None]:
    """One page of groups after the key ``after``, and the key to continue after (None at the
    end)."""
    filters = {
        name: value
        for name, value in (("user_id", user_id), ("scenario_id", scenario_id))
        if value is not None
    }
    # The calendar breakdowns cover: local days whose buckets Python can name in any zone.
    period = Period(
        max(period.started_from, zones.day_start(zones.FIRST_DAY, period.tz)),
        min(
            period.started_to,
            zones.day_start(zones.LAST_DAY + timedelta(days=1), period.tz)
            - timedelta(microseconds=1),
        ),
        period.tz,
        period.tz_name,
    )
    if period.started_from > period.started_to:
        return [], None
    # The rollups hold reps' days in the tenant's zone, over all scenarios.
    if period.tz_name == tenant.time_zone and "scenario" not in by.names and not scenario_id:
        full_days, ranges = _parts(period)
    else:
        full_days, ranges = None, [(period.started_from, period.started_to, True)]
    sources: list[tuple[Cells, QuerySet]] = []
    if full_days is not None:
        for unit, where_start in _rolled_parts(by, *full_days):
            sources.append(_rolled(tenant, by, unit, where_start, filters))
    if ranges:
        sources.append(_from_sessions(tenant, by, ranges, period.tz, filters))

    unit, tz = by.unit, period.tz
    page_keys: list[Key] | None = None
    where = _after(by, after)
    if by.time_alone:
        assert unit is not None
        first_bucket = zones.bucket_of(zones.local_date(period.started_from, tz), unit)
        if after is not None:
            if after[0] >= zones.LAST_DAY:
                return [], None
            first_bucket = max(first_bucket, zones.next_bucket(after[0], unit))
        page_keys = []
        for bucket in zones.buckets(first_bucket, zones.local_date(period.started_to, tz), unit):
            page_keys.append((bucket,))
            if len(page_keys) > limit:
                break
        if not page_keys:
            return [], None
        where = _after(by, page_keys[0], inclusive=True) & _not_after(by, page_keys[-1])

    in_sql = connections[router.db_for_read(Scorecard)].vendor == "postgresql"
    merged: dict[Key, dict[str, Any]] = {}
    contributed: dict[Key, int] = {}
    if in_sql:
        merged = _figures_in_sql(by, sources, where, None if page_keys else limit)
    for cells, _ in [] if in_sql else sources:
        for row in cells.groups(where, None if page_keys else limit):
            key = cells.key(row)
            group = merged.get(key)
            contributed[key] = contributed.get(key, 0) + 1
            if group is None:
                merged[key] = {name: row.get(name) or 0 for name in FIGURES}
                continue
            for name in FIGURES:
                group[name] += row.get(name) or 0

    keys = sorted(merged)[: limit + 1] if page_keys is None else page_keys
    more = len(keys) > limit
    keys = keys[:limit]
    if not keys:
        return [], None
    window = _after(by, keys[0], inclusive=True) & _not_after(by, keys[-1])

    if "user" not in by.names and not in_sql:
        # A group several parts saw: its reps are the union of theirs.
        several = [key for key in keys if contributed.get(key, 0) > 1]
        if several:
            aliases = [_alias(name) for name in by.names]
            only = reduce(operator.or_, (Q(**dict(zip(aliases, k, strict=True))) for k in several))
            pairs = set().union(*(cells.reps(only) for cells, _ in sources))
            for key in several:
                merged[key]["unique_reps"] = sum(1 for pair in pairs if pair[:-1] == key)

    if in_sql:
        by_group = _categories_in_sql(by, sources, window)
        categories = None
    else:
        categories: CategoryFigures = {}
        for cells, card_rows in sources:
            read = _rolled_categories if cells.rolled else _session_categories
            read(by, card_rows, window, categories)

    page = []
    for key in keys:
        figures = merged.get(key)
        if figures is None or not figures["sessions"]:
            page.append(_empty(by, key))
            continue
        group = by.keys(key)
        scored = figures["scored"]
        group.update(
            sessions=figures["sessions"],
            scored=scored,
            avg_score=round_half_up(figures["score_total"], scored) if scored else None,
            unique_reps=1 if "user" in by.names else figures["unique_reps"],
            verdicts={verdict: figures[verdict] for verdict in VERDICTS},
            categories=[
                {
                    "key": name,
                    "label": entry[3],
                    "scored": entry[0],
                    "avg_score": round_half_up(entry[1], entry[0]),
                }
                for name, entry in sorted(categories.get(key, {}).items())
            ]
            if categories is not None
            else [
                {
                    "key": name,
                    "label": label,
                    "scored": scored,
                    "avg_score": round_half_up(total, scored),
                }
                for name, label, scored, total in by_group.get(key, ())
            ],
        )
        page.append(group)
    return page, (keys[-1] if more else None)
