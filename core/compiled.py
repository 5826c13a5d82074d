"""Querysets compiled once per shape, then run with new values: the ORM without its toll.

For the API's hot reads, building and compiling the queryset cost more than running it (profile
in bench/RESULTS.md: ~0.5 ms of ORM work around a ~0.7 ms query for a page of 100 sessions, and
~0.65 ms around a 0.37 ms token lookup). A selector here still writes its read as a queryset,
through the tenant-scoped manager, so the ORM stays the only author of the SQL. The first call
of each *shape* (the builder, which filters are present, the page size) builds that queryset
with placeholder values and compiles it; every later call binds its own values in their places
and runs the SQL directly. A builder that captures a variable is refused, so no value can hide
in compiled SQL outside its key.

Placeholders are typed by the model field they are compared with, so each value is adapted
exactly as the ORM would adapt it (UUIDs are hex text on SQLite, datetimes are strings there).
A parameter of the compiled SQL that is no placeholder is a constant of the query and is kept.
Should the mapping ever be ambiguous, that shape always takes the ORM's own way: slower, never
wrong. ``tests/core/test_compiled.py`` holds the two paths to the same rows.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Field, QuerySet

# Shapes are few (filters present × page sizes); the bound only guards against surprises.
MAX_SHAPES = 4096
_serial = itertools.count(1)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    columns: tuple[str, ...]
    # For each parameter of ``sql``: the placeholder's name, or None for a constant.
    names: tuple[str | None, ...]
    constants: tuple[Any, ...]
    # Column position -> (functions, expression): what Django applies after fetching.
    converters: dict[int, tuple[list[Callable], Any]]


_cache: dict[tuple[Hashable, ...], _Compiled | None] = {}


def _sentinel(field: Field) -> Any:
    """A value of the field's type that no real request sends: unique per call."""
    n = next(_serial)
    internal = field.target_field.get_internal_type() if field.is_relation else None
    kind = internal or field.get_internal_type()
    if kind == "UUIDField":
        return uuid.UUID(int=(0x5E471E1 << 96) | n)
    if kind == "DateField":
        return date(1901, 2, 3) + timedelta(days=n)
    if kind == "DateTimeField":
        return datetime(1901, 2, 3, tzinfo=UTC) + timedelta(microseconds=n)
    if kind in ("CharField", "TextField", "SlugField"):
        return f"\x1fplaceholder-{n}"
    if kind in ("IntegerField", "PositiveIntegerField", "BigIntegerField", "SmallIntegerField"):
        return -(10**9) - n
    raise TypeError(f"no placeholder for {kind}")


def _adapt(field: Field, value: Any, connection) -> Any:
    return field.get_db_prep_value(value, connection, prepared=False)


def rows(
    build: Callable[..., QuerySet],
    values: Mapping[str, tuple[Field, Any]],
    **shape: Hashable,
) -> list[dict[str, Any]]:
    """The rows of ``build(plain values, **shape)`` — a ``.values(...)`` queryset — as dicts.

    ``values`` maps each placeholder name to (the model field it is compared with, its value
    for this call); leave out what this call does not filter on. ``shape`` holds what changes
    the SQL itself rather than its parameters (a page size: LIMIT is part of the SQL text).

    The compiled SQL is keyed by everything it can depend on: the builder's code, the shape and
    the names of the values present. So that nothing else can, a builder may not capture
    anything (no closure, no defaults): a value it captured would otherwise be baked into SQL
    that is then reused for requests that did not have it. Such a builder is refused.
    """
    if build.__closure__ or build.__defaults__ or build.__kwdefaults__:
        raise TypeError(
            f"{build.__qualname__} captures variables; pass them to compiled.rows() as values "
            "(placeholders) or as shape keywords, so that the compiled SQL is keyed by them"
        )
    connection = connections["default"]
    cache_key = (connection.vendor, build.__code__, tuple(sorted(shape.items())), *sorted(values))
    compiled = _cache.get(cache_key, ...)
    if compiled is ...:
        compiled = _compile(build, values, shape, connection)
        if len(_cache) < MAX_SHAPES:
            _cache[cache_key] = compiled
    if compiled is None:  # could not be mapped: the ORM's own way
        return list(build({name: value for name, (_field, value) in values.items()}, **shape))

    constants = iter(compiled.constants)
    params = [
        next(constants) if name is None else _adapt(*values[name], connection)
        for name in compiled.names
    ]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        fetched = cursor.fetchall()
    columns = compiled.columns
    if compiled.converters:
        fetched = [_convert(row, compiled.converters, connection) for row in fetched]
    return [dict(zip(columns, row, strict=True)) for row in fetched]


def _convert(row, converters, connection) -> list[Any]:
    row = list(row)
    for position, (functions, expression) in converters.items():
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row


def _compile(build, values, shape, connection) -> _Compiled | None:
    sentinels = {name: _sentinel(field) for name, (field, _value) in values.items()}
    queryset = build(sentinels, **shape)
    # The tenant guard (tenants.scoping) is checked when a queryset runs; this one never does.
    if hasattr(queryset, "require_scope"):
        queryset.require_scope()
    query = queryset.query
    if not query.values_select and not query.annotation_select:
        raise TypeError("compiled.rows() takes a .values(...) queryset")
    compiler = query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    adapted = {name: _adapt(values[name][0], s, connection) for name, s in sentinels.items()}
    names: list[str | None] = []
    constants: list[Any] = []
    for param in params:
        matches = [name for name, a in adapted.items() if type(a) is type(param) and a == param]
        if len(matches) > 1:
            return None
        names.append(matches[0] if matches else None)
        if not matches:
            constants.append(param)
    if set(adapted) - set(names):
        return None  # a value the SQL does not take as a parameter: not ours to bind
    # The order in which Django's ValuesIterable names the columns.
    columns = (*query.extra_select, *query.values_select, *query.annotation_select)
    return _Compiled(sql, tuple(columns), tuple(names), tuple(constants), converters)
