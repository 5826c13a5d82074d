"""Querysets compiled once per shape, then run with new values: the ORM without its toll.

For the API's hot reads, building and compiling the queryset cost more than running it (profile
in bench/RESULTS.md: ~0.5 ms of ORM work around a ~0.7 ms query for a page of 100 sessions, and
~0.65 ms around a 0.37 ms token lookup). A selector here still writes its read as a queryset,
through the tenant-scoped manager, so the ORM stays the only author of the SQL. The first call
of each *shape* (the builder, which filters are present, the page size) builds that queryset
with placeholder values and compiles it; every later call binds its own values in their places
and runs the SQL directly, on the queryset's own database (``.using()`` or the routers).

Placeholders are typed by the model field they are compared with, so each value is adapted
exactly as the ORM would adapt it (UUIDs are hex text on SQLite, datetimes are strings there).
A parameter of the compiled SQL that is no placeholder is a constant of the query and is kept.

Only the builder's arguments may reach the compiled SQL, so a builder is refused when anything
else could: when it captures a variable (a closure, defaults), and when two builds with fresh
placeholder values differ in their SQL, the places of their parameters or their constants
(it reads the clock, a global that changes, or branches on a value). The comparison sees what
changes between two builds made back to back: a date read at day resolution, or a global that
changes only later, is left to review. Also refused: a mapping that is ambiguous, a placeholder
the SQL does not take as it is, a field with no placeholder type. A refused builder is an error
(:class:`NotCompiled`, naming it and why) under ``COMPILED_QUERIES_STRICT`` (the test settings);
otherwise its reads take the ORM's own way, slower and never wrong, logged once per builder and
counted in ``api_compiled_query_fallbacks_total{builder}``. :func:`builders` says what became of
each builder seen. ``tests/core/test_compiled.py`` holds the two paths to the same rows, and
that every builder of the API compiles.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, router
from django.db.models import Field, QuerySet

from .observability import COMPILED_FALLBACKS

logger = logging.getLogger("core.compiled")

# Shapes are few (filters present × page sizes); the bound only guards against surprises.
MAX_SHAPES = 4096
_serial = itertools.count(1)


class NotCompiled(TypeError):
    """A builder that core.compiled refuses, raised under ``COMPILED_QUERIES_STRICT``."""


class _Refusal(Exception):
    """Why a builder cannot be compiled (internal: becomes NotCompiled or a fallback)."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    columns: tuple[str, ...]
    # For each parameter of ``sql``: the placeholder's name, or None for a constant.
    names: tuple[str | None, ...]
    constants: tuple[Any, ...]
    # Column position -> (functions, expression): what Django applies after fetching.
    converters: dict[int, tuple[list[Callable], Any]]
    # The database the SQL was compiled for and runs on: the queryset's.
    alias: str
    # (model, hints) when DATABASE_ROUTERS choose that database per read (no ``.using()``).
    routed: tuple[type, dict[str, Any]] | None
    refused: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class _Refused:
    refused: str
    routed: ClassVar[None] = None


_cache: dict[Hashable, _Compiled | _Refused] = {}
# Qualified name of every builder seen -> None while each of its shapes compiled, else why one
# did not. Names come from code, never from a request: they label the fallback counter.
_builders: dict[str, str | None] = {}
_warned: set[str] = set()


def builders() -> dict[str, str | None]:
    """Every builder seen by this process: None if it compiled, else why it was refused."""
    return dict(_builders)


def clear() -> None:
    """Forget the compiled shapes and the builders seen (for tests)."""
    _cache.clear()
    _builders.clear()
    _warned.clear()


def _databases_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DATABASES", "DATABASE_ROUTERS"):
        _cache.clear()


setting_changed.connect(_databases_changed, dispatch_uid="core.compiled")


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
    raise _Refusal(f"no placeholder for a {kind}")


def _adapt(field: Field, value: Any, connection) -> Any:
    return field.get_db_prep_value(value, connection, prepared=False)


def _name(build: Callable) -> str:
    return f"{build.__module__}.{build.__qualname__}"


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
    anything (no closure, no defaults) nor read anything that differs from one build to the
    next (the clock): a value it took from elsewhere would be baked into SQL that is then
    reused for requests that did not have it. Such a builder is refused.
    """
    if build.__closure__ or build.__defaults__ or build.__kwdefaults__:
        return _fallback(
            build,
            values,
            shape,
            "it captures variables; pass them to compiled.rows() as values (placeholders) or "
            "as shape keywords, so that the compiled SQL is keyed by them",
        )
    cache_key = (build.__code__, tuple(sorted(shape.items())), *sorted(values))
    compiled = _cache.get(cache_key)
    if compiled is None:
        compiled = _remember(cache_key, _compile(build, values, shape, None))
    if compiled.routed is not None:
        compiled = _route(compiled, cache_key, build, values, shape)
    if compiled.refused is not None:
        return _fallback(build, values, shape, compiled.refused)

    connection = connections[compiled.alias]
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


def _remember(key: Hashable, entry: _Compiled | _Refused) -> _Compiled | _Refused:
    if len(_cache) < MAX_SHAPES:
        _cache[key] = entry
    return entry


def _route(compiled: _Compiled, cache_key, build, values, shape) -> _Compiled | _Refused:
    """Where the routers send this read now, as the queryset would ask them on every run."""
    model, hints = compiled.routed
    alias = router.db_for_read(model, **hints)
    if alias == compiled.alias:
        return compiled
    key = (cache_key, alias)  # compiled for that database, pinned to it with .using()
    found = _cache.get(key)
    return found if found is not None else _remember(key, _compile(build, values, shape, alias))


def _fallback(build, values, shape, reason: str) -> list[dict[str, Any]]:
    """The ORM's own way, for a builder that cannot be compiled (strict: an error instead)."""
    name = _name(build)
    _builders[name] = reason
    if getattr(settings, "COMPILED_QUERIES_STRICT", False):
        raise NotCompiled(f"{name} cannot be compiled: {reason}")
    if name not in _warned:
        _warned.add(name)
        logger.warning(
            "%s cannot be compiled (%s); its reads run through the ORM, counted in "
            "api_compiled_query_fallbacks_total",
            name,
            reason,
            extra={"builder": name},
        )
    COMPILED_FALLBACKS.labels(name).inc()
    return list(build({name: value for name, (_field, value) in values.items()}, **shape))


def _compile(build, values, shape, using: str | None) -> _Compiled | _Refused:
    """Compiled twice with fresh placeholders: any difference but theirs is refused."""
    name = _name(build)
    try:
        first = _compile_once(build, values, shape, using)
        second = _compile_once(build, values, shape, using)
        _same(first, second)
    except _Refusal as refusal:
        _builders[name] = str(refusal)
        return _Refused(str(refusal))
    _builders.setdefault(name, None)
    return first


def _same(first: _Compiled, second: _Compiled) -> None:
    if first.sql != second.sql:
        raise _Refusal(
            "its SQL differs between two builds: it reads something besides its arguments "
            "(a global, the clock) or branches on a value"
        )
    if first.names != second.names or first.columns != second.columns:
        raise _Refusal("its placeholders fall in other places from one build to the next")
    for a, b in zip(first.constants, second.constants, strict=True):
        if type(a) is not type(b) or a != b:
            raise _Refusal(
                f"a constant of its SQL differs between two builds ({a!r}, then {b!r}): it "
                "reads the clock or a global that changes, or changes a value before use"
            )
    if first.alias != second.alias or first.routed != second.routed:
        raise _Refusal("its database differs between two builds")


def _compile_once(build, values, shape, using: str | None) -> _Compiled:
    sentinels = {name: _sentinel(field) for name, (field, _value) in values.items()}
    queryset = build(sentinels, **shape)
    if using is not None:
        queryset = queryset.using(using)
    # The tenant guard (tenants.scoping) is checked when a queryset runs; this one never does.
    if hasattr(queryset, "require_scope"):
        queryset.require_scope()
    query = queryset.query
    if not query.values_select and not query.annotation_select:
        raise TypeError("compiled.rows() takes a .values(...) queryset")
    alias = queryset.db
    connection = connections[alias]
    compiler = query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    adapted = {name: _adapt(values[name][0], s, connection) for name, s in sentinels.items()}
    names: list[str | None] = []
    constants: list[Any] = []
    for position, param in enumerate(params):
        matches = [name for name, a in adapted.items() if type(a) is type(param) and a == param]
        if len(matches) > 1:
            raise _Refusal(f"parameter {position} of its SQL could be any of {sorted(matches)}")
        names.append(matches[0] if matches else None)
        if not matches:
            constants.append(param)
    if unused := sorted(set(adapted) - set(names)):
        raise _Refusal(
            f"its SQL does not take {unused} as parameters, as given (unused, or changed first)"
        )
    # The order in which Django's ValuesIterable names the columns.
    columns = (*query.extra_select, *query.values_select, *query.annotation_select)
    # Pinned by .using(), or chosen by routers that may answer otherwise on another run.
    routed = (queryset.model, queryset._hints) if queryset._db is None and router.routers else None
    return _Compiled(sql, tuple(columns), tuple(names), tuple(constants), converters, alias, routed)
