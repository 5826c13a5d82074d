"""GET /analytics/breakdown: the summary's figures per rep, scenario and calendar bucket of a
time zone (docs/api-guide.md, Answers).

Each group adds up cells. In the tenant's own zone, when no scenario is asked for, whole local
months, weeks and days come from the reps' rollups (RepBucket in roleplay/models.py, its
categories included, kept exact by every write and rebuilt when the zone changes): a year by
week is a year of weekly rows, not of sessions. The partial days at the ends of the period,
and everything by scenario or in another zone, come from the sessions themselves, with the
zone's offsets applied in SQL (core/zones.py). Distinct reps do not add up, so a group that
several parts saw counts the union of their reps.

On PostgreSQL a page is one statement that also renders each group's JSON (the view splices
the text into its answer): a group that is one rollup row, as every whole week of a rep is
by=user,week, is that row as it stands; the others are added up and their categories merged by
key. Elsewhere (SQLite) each part is grouped by the database and the parts are added up in
Python. analytics/reference.py is the definition every answer is held to.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.db import connections, router, transaction
from django.db.models import (
    Count,
    DateField,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Trunc, TruncDate

from core import zones
from core.cursors import dump_opaque
from core.dbfunctions import json_items
from roleplay.models import RepBucket, Scorecard, Session, Verdict
from roleplay.rollups import AT_WIDTH, at_text, category_entry, newest_label, stored_items
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
    (one queryset with the key columns annotated): RepBucket rows of a ``unit`` (``rolled``),
    which hold their categories, or sessions, whose scorecards (``cards()``, keyed alike) hold
    theirs."""

    def __init__(
        self,
        by: By,
        rows: QuerySet,
        *,
        unit: str | None = None,
        cards: Callable[[], QuerySet] | None = None,
    ):
        self.by, self.rows, self.unit, self.cards = by, rows, unit, cards
        self.rolled = unit is not None

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


def _rolled(tenant: Tenant, by: By, unit: str, where: Q, filters: dict[str, uuid.UUID]) -> Cells:
    """RepBucket rows of ``unit`` matching ``where`` on ``start``."""
    time = None
    if by.unit is not None:
        time = F("start") if unit == by.unit else Trunc("start", by.unit, output_field=DateField())
    cells = RepBucket.objects.for_tenant(tenant).filter(where, unit=unit, **filters)
    return Cells(by, cells.annotate(**_key_columns(by, time)), unit=unit)


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
) -> Cells:
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

    def cards() -> QuerySet:
        return (
            Scorecard.objects.for_tenant(tenant)
            .filter(within("session__"), **{f"session__{k}": v for k, v in filters.items()})
            .filter(session__tenant=tenant)  # the sessions' own index: (tenant, started_at)
            .annotate(**columns("session__"))
        )

    cells = Session.objects.for_tenant(tenant).filter(within(""), **filters).annotate(**columns(""))
    return Cells(by, cells, cards=cards)


# -- categories: the Python merge (SQLite) ------------------------------------------------------

CategoryFigures = dict[Key, dict[str, list[Any]]]  # group -> key -> [scored, total, at, label]


def _add_category(
    found: CategoryFigures,
    group: Key,
    key: str | None,
    label: str,
    scored: int,
    total: int,
    at: str,
) -> None:
    """One key's entry of a cell (``at``: a label_at, roleplay/rollups.py) added to its
    group's: counts summed, the label of the greater ``(label_at, label)`` kept."""
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


def _rolled_categories(cells: Cells, where: Q, found: CategoryFigures) -> None:
    names = [_alias(name) for name in cells.by.names]
    for row in cells.rows.filter(where, scored__gt=0).values_list(*names, "categories"):
        group = cells._key(row[:-1])
        for key, label, scored, total, at in row[-1]:
            _add_category(found, group, key, label, scored, total, at)


def _session_categories(cells: Cells, where: Q, found: CategoryFigures) -> None:
    names = [_alias(name) for name in cells.by.names]
    assert cells.cards is not None
    inner = cells.cards().filter(where).values(*names, "categories", "created_at").order_by()
    db = router.db_for_read(Scorecard)
    connection = connections[db]
    sql, params = inner.query.get_compiler(using=db).as_sql()
    items, key, label, score = json_items(connection.vendor, "c.categories")
    at = at_text(connection.vendor, "c.created_at")
    keys = ", ".join(f"c.{name}" for name in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {keys}, {key}, {label}, COUNT(*), SUM({score}), MAX({at})"  # noqa: S608
            f" FROM ({sql}) c{items} GROUP BY {keys}, {key}, {label}",
            params,
        )
        rows_found = cursor.fetchall()
    for row in rows_found:
        key_name, label_text, scored, total, newest = row[len(names) :]
        _add_category(
            found, cells._key(row[: len(names)]), key_name, label_text, scored, total, newest
        )


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


def _page_in_python(
    by: By, sources: list[Cells], where: Q, keys_of_page: list[Key] | None, limit: int
) -> tuple[list[dict[str, Any]], Key | None]:
    """Each source's groups read by the database, added up here (SQLite)."""
    merged: dict[Key, dict[str, Any]] = {}
    contributed: dict[Key, int] = {}
    for cells in sources:
        for row in cells.groups(where, None if keys_of_page else limit):
            key = cells.key(row)
            group = merged.get(key)
            contributed[key] = contributed.get(key, 0) + 1
            if group is None:
                merged[key] = {name: row.get(name) or 0 for name in FIGURES}
                continue
            for name in FIGURES:
                group[name] += row.get(name) or 0

    keys = sorted(merged)[: limit + 1] if keys_of_page is None else keys_of_page
    more = len(keys) > limit
    keys = keys[:limit]
    if not keys:
        return [], None
    window = _after(by, keys[0], inclusive=True) & _not_after(by, keys[-1])

    if "user" not in by.names:
        # A group several parts saw: its reps are the union of theirs.
        several = [key for key in keys if contributed.get(key, 0) > 1]
        if several:
            aliases = [_alias(name) for name in by.names]
            only = reduce(operator.or_, (Q(**dict(zip(aliases, k, strict=True))) for k in several))
            pairs = set().union(*(cells.reps(only) for cells in sources))
            for key in several:
                merged[key]["unique_reps"] = sum(1 for pair in pairs if pair[:-1] == key)

    categories: CategoryFigures = {}
    for cells in sources:
        read = _rolled_categories if cells.rolled else _session_categories
        read(cells, window, categories)

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
            ],
        )
        page.append(group)
    return page, (keys[-1] if more else None)


# -- the page in one statement, rendered by the database (PostgreSQL) ---------------------------

CELL_FIGURES = ("sessions", "scored", "score_total", *VERDICTS)


def _whole(by: By, cells: Cells) -> bool:
    """Whether each of these cells is a group of its own: rollup rows of the unit asked for,
    by rep and that unit (the other parts of the period hold other buckets: _rolled_parts)."""
    return cells.rolled and cells.unit == by.unit and set(by.names) == {"user", by.unit}


def _keys_sql(by: By, prefix: str) -> str:
    """The key columns of a part, the time as a date whatever its source made of it."""
    return ", ".join(
        f"{prefix}{_alias(name)}" + ("::date" if name in zones.UNITS else "") for name in by.names
    )


def _bounded_keys_sql(by: By, prefix: str) -> str:
    """The key columns as compared with a bound: the ids as their text, which orders as they
    do (lower-case hex at fixed places, compared byte by byte), so that no index of theirs is
    taken for the bound (a prepared statement's plan then walked a rep's every session)."""
    return ", ".join(
        f"{prefix}{_alias(name)}" + ('::text COLLATE "C"' if name in IDS else "::date")
        for name in by.names
    )


def _compiled(rows: QuerySet, db: str) -> tuple[str, list[Any]]:
    sql, params = rows.order_by().query.get_compiler(using=db).as_sql()
    return sql, list(params)


def _part_sql(
    cells: Cells, where: Q, db: str, name: str, last: str | None
) -> tuple[str, str, str, list[Any]]:
    """SQL of one part's cells that are to be added up, read twice: the keys, ``user_id`` and
    CELL_FIGURES of each cell; and the keys, then key, label, scored, score_total and label_at
    of each key of each cell (roleplay/rollups.py). Rollup rows are read once, into the
    common table expression ``name`` (its definition is the first SQL returned, empty for the
    sessions), whose scan also keeps the planner from the parallel workers its guess of a
    hundred categories a row would call for; the sessions are read twice. Categories are read
    up to the key ``last`` (SQL) only. The parameters are those of the definition, or of each
    of the other two."""
    names = [_alias(name) for name in cells.by.names]
    keys = _keys_sql(cells.by, "r.")
    upto = "" if last is None else f" WHERE ({_bounded_keys_sql(cells.by, 'r.')}) <= {last}"
    rows = cells.rows.filter(where)
    if cells.rolled:
        sql, params = _compiled(rows.values(*names, "user_id", *CELL_FIGURES, "categories"), db)
        columns = ", ".join((*names, "user_id", *CELL_FIGURES, "cats"))
        figures = ", ".join(f"r.{figure}" for figure in CELL_FIGURES)
        items, key, label, scored, total, at = stored_items("postgresql", "r.cats")
        return (
            f"{name} ({columns}) AS MATERIALIZED ({sql})",
            f"SELECT {keys}, r.user_id, {figures} FROM {name} AS r",  # noqa: S608
            f"SELECT {keys}, {key}, {label}, {scored}, {total}, {at}"  # noqa: S608
            f" FROM {name} AS r{items}{upto}",
            params,
        )
    card = ("id", "overall_score", "verdict", "categories", "created_at")
    sql, params = _compiled(
        rows.values(*names, "user_id", **{f"w_{c}": F(f"scorecard__{c}") for c in card}), db
    )
    columns = ", ".join((*names, "user_id", *(f"w_{c}" for c in card)))
    verdicts = ", ".join(f"CASE WHEN r.w_verdict = '{v}' THEN 1 ELSE 0 END" for v in VERDICTS)
    items, key, label, score = json_items("postgresql", "r.w_categories")
    return (
        "",
        f"SELECT {keys}, r.user_id, 1, CASE WHEN r.w_id IS NULL THEN 0 ELSE 1 END,"  # noqa: S608
        f" COALESCE(r.w_overall_score, 0), {verdicts} FROM ({sql}) AS r ({columns})",
        # By label first: a label_at made once per label, not once per scorecard.
        f"SELECT {keys}, {key}, {label}, COUNT(*), SUM({score}),"  # noqa: S608
        f" {at_text('postgresql', 'MAX(r.w_created_at)')} FROM ({sql}) AS r ({columns}){items}"
        f"{upto} GROUP BY {keys}, {key}, {label}",
        params,
    )


def _render_sql(by: By, merged: bool) -> str:
    """SQL: a row of the page (its keys, sums, reps and categories as JSON text) as the group's
    JSON text in the wire shape (analytics/shapes.py GROUP: ids, then the time, then the
    figures)."""
    fields = []
    for name in DIMENSIONS:
        if name in by.names:
            column = f"u.{_alias(name)}"
            text = f"{column}::text" if name in IDS else f"to_char({column}, 'YYYY-MM-DD')"
            fields.append(f"""'"{by.field(name)}":"' || {text} || '"'""")
    verdicts = " || ',' || ".join(f"""'"{v}":' || u.{v}""" for v in VERDICTS)
    fields += [
        """'"sessions":' || u.sessions""",
        """'"scored":' || u.scored""",
        """'"avg_score":' || CASE WHEN u.scored = 0 THEN 'null'"""
        " ELSE ((2 * u.score_total + u.scored) / (2 * u.scored))::text END",
        """'"unique_reps":' || u.reps""",
        f"""'"verdicts":{{' || {verdicts} || '}}'""",
        """'"categories":' || COALESCE(u.cats, """ + ("m.text, " if merged else "") + "'[]')",
    ]
    return "'{' || " + " || ',' || ".join(fields) + " || '}'"


def _page_in_sql(by: By, sources: list[Cells], where: Q, limit: int | None) -> list[tuple]:
    """PostgreSQL: the page's groups in key order (the first ``limit`` + 1), each as its keys
    (text) and its JSON text in the wire shape, in one statement. A group that is one rollup
    row (a rep's whole week, by=user,week) is read as it is, its categories as the row renders
    them (RepBucket.categories_text). The other parts' cells, side by side (``UNION ALL``),
    are added up per group, a group's reps being the distinct reps of its cells whichever part
    they came from; the page is chosen, and only then are the categories of its groups of
    several cells merged by key. Only the page is rendered."""
    db = router.db_for_read(Scorecard)
    names = [_alias(name) for name in by.names]
    keyed = ", ".join(names)
    # The page's last key: the other groups' categories are not needed.
    last = None
    if limit is not None:
        backwards = ", ".join(f"{n} DESC" for n in names)
        bound = _bounded_keys_sql(by, "")
        last = f"(SELECT {bound} FROM page ORDER BY {backwards} LIMIT 1)"  # noqa: S608
    groups, params = [], []
    merged: list[tuple[str, str, str, list[Any]]] = []
    for cells in sources:
        if not _whole(by, cells):
            merged.append(_part_sql(cells, where, db, f"part{len(merged)}", last))
            continue
        rows = cells.rows.filter(where).values(*names, *CELL_FIGURES, "categories_text")
        sql, part_params = _compiled(rows, db)
        columns = ", ".join((*names, *CELL_FIGURES, "cats"))
        # Of the types the other parts' sums have: the parts are then one list to the planner.
        figures = ", ".join(f"r.{name}::bigint" for name in CELL_FIGURES)
        groups.append(
            f"SELECT {_keys_sql(by, 'r.')}, {figures}, 1::bigint, r.cats"  # noqa: S608
            f" FROM ({sql}) AS r ({columns})"
        )
        params.extend(part_params)
    ctes = [(cte, part) for cte, _, _, part in merged if cte]
    sessions = [p for cte, _, _, part in merged if not cte for p in part]
    if merged:
        reps = "1" if "user" in by.names else "COUNT(DISTINCT x.user_id)"
        cells = " UNION ALL ".join(sql for _, sql, _, _ in merged)
        sums = ", ".join(f"SUM(x.{name})::bigint" for name in CELL_FIGURES)
        groups.append(
            f"SELECT {keyed}, {sums}, {reps}, NULL FROM ({cells})"  # noqa: S608
            f" AS x ({keyed}, user_id, {', '.join(CELL_FIGURES)}) GROUP BY {keyed}"
        )
        params.extend(sessions)
    cut = "" if limit is None else f" LIMIT {int(limit) + 1}"
    columns = ", ".join((*names, *CELL_FIGURES, "reps", "cats"))
    page = (
        f"page ({columns}) AS MATERIALIZED (SELECT * FROM ({' UNION ALL '.join(groups)})"  # noqa: S608
        f" AS g ({columns}) ORDER BY {keyed}{cut})"
    )
    categories = ""
    if merged:
        items = " UNION ALL ".join(sql for _, _, sql, _ in merged)
        entry = category_entry("postgresql", "k.key", "k.label", "k.n", "k.total")
        newest = newest_label("postgresql", "c.at", "c.label")
        by_key = (
            f"SELECT {keyed}, c.key, substr(MAX({newest}), {AT_WIDTH + 1}) AS label,"  # noqa: S608
            " SUM(c.scored)::bigint AS n, SUM(c.total)::bigint AS total"
            f" FROM ({items}) AS c ({keyed}, key, label, scored, total, at)"
            f" WHERE c.key IS NOT NULL GROUP BY {keyed}, c.key"
        )
        categories = (
            f" LEFT JOIN (SELECT {keyed}, '[' || string_agg({entry}, ','"  # noqa: S608
            f" ORDER BY k.key COLLATE \"C\") || ']' AS text FROM ({by_key}) k GROUP BY {keyed}) m"
            f" ON {' AND '.join(f'm.{n} = u.{n}' for n in names)}"
        )
        params.extend(sessions)
    ordered = ", ".join(f"u.{n}" for n in names)
    statement = (
        f"WITH {', '.join((*(cte for cte, _ in ctes), page))}"  # noqa: S608
        f" SELECT {', '.join(f'u.{n}::text' for n in names)},"
        f" {_render_sql(by, bool(merged))} AS group_json FROM page u{categories} ORDER BY {ordered}"
    )
    # Without JIT: the planner guesses a hundred categories for each scorecard and rollup row
    # it reads as rows of JSON (PostgreSQL's default for a set-returning function), so a year
    # of sessions looks costly enough to compile, and compiling took longer than running: a
    # year by=scenario,month took 1.5 s with it, 0.5 s without. SET LOCAL: this transaction only.
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(statement, [p for _, part in ctes for p in part] + params)
        return cursor.fetchall()


def _typed(by: By, text: str) -> dict[str, Any]:
    """A group the database rendered, as the Python merge gives it (keys as UUIDs and dates)."""
    group = orjson.loads(text)
    for name in by.names:
        field = by.field(name)
        group[field] = _normalize(name, group[field])
    return group


# -- the breakdown ------------------------------------------------------------------------------


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
    rendered: bool = False,
    in_sql: bool | None = None,
) -> tuple[list[Any], Key | None]:
    """One page of groups after the key ``after``, and the key to continue after (None at the
    end). Each group is a dict (its keys UUIDs and dates); with ``rendered``, a group the
    database rendered is its JSON text instead, in the wire shape (analytics/shapes.py:
    ``render_groups`` splices it into the answer as it is). ``in_sql``: whether the database
    adds the groups up and renders them (default: on PostgreSQL) or Python does."""
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
    sources: list[Cells] = []
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

    if in_sql is None:
        in_sql = connections[router.db_for_read(Scorecard)].vendor == "postgresql"
    if not in_sql:
        return _page_in_python(by, sources, where, page_keys, limit)

    n = len(by.names)
    found = _page_in_sql(by, sources, where, None if page_keys else limit)
    if page_keys is None:
        more = len(found) > limit
        found = found[:limit]
        texts: list[Any] = [row[n] for row in found]
        next_key = (
            tuple(_normalize(k, v) for k, v in zip(by.names, found[-1][:n], strict=True))
            if more
            else None
        )
    else:
        more = len(page_keys) > limit
        by_key = {(_normalize(by.names[0], row[0]),): row[1] for row in found}
        texts = [by_key.get(key) or _empty(by, key) for key in page_keys[:limit]]
        next_key = page_keys[limit - 1] if more else None
    if rendered:
        return texts, next_key
    return [_typed(by, g) if isinstance(g, str) else g for g in texts], next_key
