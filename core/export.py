"""CSV exports of the lists: every row that matches, streamed (docs/api-guide.md, CSV).

A list answers CSV (``?format=csv`` or ``Accept: text/csv``) through :func:`csv_response`, which
knows no app: it takes a :class:`Table` (the list's wire shape, declared once in its app, as CSV)
and a ``fetch(after, limit)`` that reads one keyset page through the list's own selector and
says where the next one starts. Two tables: :class:`CSVShape` for rows the database reads (each
row's line rendered by the query itself, below) and :class:`ObjectsCSV` for objects built in
Python (a computed report), both by the same rules.

The first page is read before the answer starts, so every error up to then (parameters, scopes,
the database) is the JSON envelope as usual. The rest are read while the answer is sent, each
through the database guard (core/dbguard.py), whose request-wide guard has ended when the view
returned: a database that hangs mid-export costs one deadline, not a worker thread for good. A
failure then cannot be an envelope (the status is sent): it is logged and the connection is cut
without the end of the chunked body, so a client sees a broken transfer rather than a short file
that looks whole.

The database renders each row as one CSV line (:class:`CSVLine`), as it renders every wire value
(core/dbfunctions.py): Python only joins the lines of a page, so 100,000 sessions take about
twice PostgreSQL's own ``COPY (SELECT ...) TO STDOUT WITH CSV`` of them (bench/csv_export.py;
the contract allows three times). Cells:

- ids, instants, numbers, and choices whose values are plain words: as the JSON has them
  (instants RFC 3339), never quoted; null is an empty cell;
- text: always quoted (RFC 4180: quotes doubled; commas, line breaks and any Unicode kept), an
  empty text is ``""`` and so tells itself from null; a text beginning with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return gets a ``'`` first, so that a spreadsheet shows it rather
  than running it (OWASP, CSV injection);
- JSON documents (``categories``, ``callouts``, a transcript) and embedded objects (a session's
  ``scorecard``): their JSON text, quoted.

Memory stays flat: a page is sized by bytes, not only rows (its size is chosen from the bytes
per row of the page before, so a page of long transcripts stays a few megabytes), and nothing
but the page being sent is held.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import orjson
from django.db import DatabaseError, connections, transaction
from django.db.models import Expression, F, Func, TextField, Value
from django.db.models.functions import NullIf
from django.http import StreamingHttpResponse
from rest_framework import serializers

from . import dbguard, replicas
from .dbfunctions import RFC3339
from .observability import DATABASE_ERRORS
from .shapes import COMPUTED, Shape, WireField

logger = logging.getLogger("api.export")

CONTENT_TYPE = "text/csv; charset=utf-8"
LINE_END = "\r\n"  # RFC 4180
_LINE_END = LINE_END.encode()

# Page sizes, in rows: the first is small (the answer starts at once, and a first page of long
# transcripts stays small); each next one aims at PAGE_BYTES from the bytes per row seen so far,
# a power of two (each is a query shape core/compiled.py keeps) between the bounds.
FIRST_PAGE_ROWS = 128
MIN_PAGE_ROWS = 8
MAX_PAGE_ROWS = 4096
PAGE_BYTES = 2 << 20

# A cell that a spreadsheet would run as a formula starts with one of these (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

PLAIN, TEXT, JSON = "plain", "text", "json"
_WORD = re.compile(r"^[A-Za-z0-9_]+\Z")

# (after, limit) -> (rows, where the next page starts or None after the last page).
Fetch = Callable[[Any, int], tuple[Sequence[Mapping[str, Any]], Any]]


class Table(Protocol):
    """How a list's rows become CSV: its header line, and a page of its rows as lines (UTF-8,
    each ended)."""

    def header(self, include: frozenset[str] | None = None) -> str: ...

    def lines(self, rows: Sequence[Mapping[str, Any]], include: frozenset[str] | None) -> bytes: ...


# -- SQL: the database renders each line -------------------------------------------------------


def _repeat(template: str, sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """``template`` with ``{x}`` as ``(sql)``; its params repeated as often as it appears."""
    pieces = template.split("{x}")
    return f"({sql})".join(pieces), list(params) * (len(pieces) - 1)


class CSVLine(Func):
    """One CSV line (without its line break) of ``cells``, each ``(expression, kind)``."""

    output_field = TextField()

    def __init__(self, cells: Sequence[tuple[Expression, str]]):
        super().__init__(*(expression for expression, _kind in cells))
        self.kinds = tuple(kind for _expression, kind in cells)

    def _cell(self, kind: str, vendor: str) -> str:
        if kind == PLAIN:
            return "COALESCE(CAST({x} AS TEXT), '')"
        if kind == JSON:
            return """COALESCE('"' || REPLACE(CAST({x} AS TEXT), '"', '""') || '"', '')"""
        char = "chr" if vendor == "postgresql" else "char"
        starts = ", ".join(f"{char}({ord(c)})" if c in "\t\r" else f"'{c}'" for c in FORMULA_STARTS)
        # Null stays null through every step, and COALESCE makes it an empty cell.
        return (
            f"""COALESCE('"' || CASE WHEN SUBSTR({{x}}, 1, 1) IN ({starts}) THEN '''' """
            """ELSE '' END || REPLACE({x}, '"', '""') || '"', '')"""
        )

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression, kind in zip(self.get_source_expressions(), self.kinds, strict=True):
            sql, cell_params = compiler.compile(expression)
            part, part_params = _repeat(self._cell(kind, connection.vendor), sql, cell_params)
            parts.append(part)
            params.extend(part_params)
        return " || ',' || ".join(parts), tuple(params)


class JSONObjectOf(Func):
    """An embedded object as JSON (``{"key": value, ...}``), or null when ``present`` is."""

    output_field = TextField()

    def __init__(self, present: Expression, members: Sequence[tuple[str, Expression, bool]]):
        for key, _expression, _is_json in members:
            if not _WORD.match(key):  # keys are written into the SQL
                raise ValueError(f"not a plain key: {key!r}")
        super().__init__(present, *(expression for _key, expression, _is_json in members))
        self.members = tuple((key, is_json) for key, _expression, is_json in members)

    def as_sql(self, compiler, connection, **extra_context):
        present, *values = self.get_source_expressions()
        sqlite = connection.vendor == "sqlite"
        sql, params = compiler.compile(present)
        pairs, pair_params = [], []
        for (key, is_json), value in zip(self.members, values, strict=True):
            value_sql, value_params = compiler.compile(value)
            # SQLite keeps JSON as text: json() makes it a document inside the object.
            value_sql = f"json({value_sql})" if is_json and sqlite else f"({value_sql})"
            pairs.append(f"'{key}', {value_sql}")
            pair_params.extend(value_params)
        build = "json_object" if sqlite else "json_build_object"
        return (
            f"CASE WHEN ({sql}) IS NULL THEN NULL ELSE {build}({', '.join(pairs)}) END",
            (*params, *pair_params),
        )


class Instant(RFC3339):
    """:class:`~core.dbfunctions.RFC3339`'s text, rendered by PostgreSQL's own timestamp output
    rather than ``to_char`` (half its cost per value: a 100,000-row export renders 400,000).
    ``YYYY-MM-DD HH:MM:SS[.fraction]`` with the fraction's trailing zeros trimmed is that output
    under the ISO ``DateStyle``, the one psycopg requires to read any timestamp at all; the
    tests compare both renderings. SQLite's is RFC3339's."""

    pg_template = "REPLACE(CAST({f} AT TIME ZONE 'UTC' AS TEXT), ' ', 'T') || 'Z'"


# -- the shape, as CSV ---------------------------------------------------------------------------


def _kind(field: WireField) -> str:
    """A database-rendered field's kind of cell (:func:`_object_kind`); it needs a column."""
    if field.embed is None and field.column is None:
        raise TypeError(f"{field.name}: a field without a column cannot be a CSV cell")
    return _object_kind(field)


def _column(field: WireField, path: str) -> Expression:
    """The field's wire rendering; instants through :class:`Instant`; a text whose empty value
    is null on the wire (``to_wire``: an email) null here too."""
    if field.column is RFC3339:
        return Instant(path)
    column = field.column(path)
    if field.column is F and field.to_wire("") is None:
        return NullIf(column, Value(""))
    return column


class CSVShape:
    """A wire shape as CSV: the header, and the columns a selector reads with
    ``.values(**csv_shape.columns(include))``: ``csv`` (the row's line) beside the wire columns
    named in ``keep`` (``w_<name>``, the list's position for its cursor). A selector that takes a
    ``shape`` takes this in its place. Made once, at import: core/compiled.py keeps one compiled
    query per shape object."""

    def __init__(self, shape: Shape, *, keep: Sequence[str]):
        self.shape = shape
        self.keep = tuple(keep)
        for name in self.keep:
            if name not in shape.by_name:
                raise ValueError(f"{shape.name} has no field {name!r} to keep")
        self.kinds = {f.name: _kind(f) for f in shape.fields}

    def fields(self, include: frozenset[str] | None = None) -> list[WireField]:
        return _present(self.shape, include)

    def header(self, include: frozenset[str] | None = None) -> str:
        return _header(self.shape, include)

    def lines(self, rows: Sequence[Mapping[str, Any]], include: frozenset[str] | None) -> bytes:
        """A page of rows read with :meth:`columns`: their lines, each ended. Encoded line by
        line: joined first, a page of non-ASCII text would be held once more, as wide as its
        widest character (four bytes each for an emoji's page)."""
        return _LINE_END.join([row["csv"].encode() for row in rows]) + _LINE_END

    def columns(
        self, include: frozenset[str] | None = None, **computed: Expression
    ) -> dict[str, Expression]:
        cells = []
        for f in self.fields(include):
            if f.embed is not None:
                cells.append((_embedded(f), JSON))
            elif f.column is COMPUTED:
                cells.append((computed[f.name], self.kinds[f.name]))
            else:
                cells.append((_column(f, f.source), self.kinds[f.name]))
        out: dict[str, Expression] = {"csv": CSVLine(cells)}
        for name in self.keep:
            f = self.shape.by_name[name]
            out[f"w_{name}"] = computed[name] if f.column is COMPUTED else _column(f, f.source)
        return out

    def __repr__(self) -> str:
        return f"CSVShape({self.shape.name}, keep={self.keep})"


def _present(shape: Shape, include: frozenset[str] | None) -> list[WireField]:
    """The fields an object of ``shape`` has, given the optional ones asked for (None: all)."""
    return [
        f for f in shape.fields if f.only_with is None or include is None or f.only_with in include
    ]


def _header(shape: Shape, include: frozenset[str] | None) -> str:
    return ",".join(f.name for f in _present(shape, include)) + LINE_END


class ObjectsCSV:
    """A shape's wire objects built in Python (``shape.from_values(...)``, a computed report's
    rows), as CSV by the same rules as :class:`CSVShape`'s lines: for a list whose rows the
    database does not read one by one. Nested values (objects, arrays) are JSON text."""

    def __init__(self, shape: Shape):
        self.shape = shape
        self.kinds = {f.name: _object_kind(f) for f in shape.fields}

    def header(self, include: frozenset[str] | None = None) -> str:
        return _header(self.shape, include)

    def lines(self, rows: Sequence[Mapping[str, Any]], include: frozenset[str] | None) -> bytes:
        cells = [(f.name, self.kinds[f.name]) for f in _present(self.shape, include)]
        return b"".join(
            (
                ",".join([_object_cell(row.get(name), kind) for name, kind in cells]) + LINE_END
            ).encode()
            for row in rows
        )

    def __repr__(self) -> str:
        return f"ObjectsCSV({self.shape.name})"


def _object_kind(field: WireField) -> str:
    """PLAIN, TEXT or JSON: what the field's schema says its values are."""
    if field.embed is not None or field.json_text:
        return JSON
    schema = field.schema()
    if isinstance(schema, serializers.ChoiceField):
        # Choices that are plain words can neither hold a separator nor start a formula.
        return PLAIN if all(_WORD.match(str(choice)) for choice in schema.choices) else TEXT
    if isinstance(schema, serializers.CharField):
        return TEXT
    if isinstance(
        schema,
        serializers.BaseSerializer | serializers.ListField | serializers.DictField,
    ):
        return JSON
    return PLAIN


def quote(text: str) -> str:
    """A text cell: quoted (RFC 4180), with ``'`` first if a spreadsheet would run it."""
    prefix = "'" if text.startswith(FORMULA_STARTS) else ""
    return '"' + prefix + text.replace('"', '""') + '"'


def _object_cell(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == TEXT and isinstance(value, str):
        return quote(value)
    if isinstance(value, int | float):  # bool too: true, false
        return orjson.dumps(value).decode()
    if kind == JSON or not isinstance(value, str):
        # JSON text starts with [, {, " or a digit: no formula to defuse, as in CSVLine.
        return '"' + orjson.dumps(value).decode().replace('"', '""') + '"'
    return value


def _embedded(field: WireField) -> JSONObjectOf:
    """An ``embedded`` field's object, as the JSON answer renders it, in the row's query."""
    return json_object(field.embed, prefix=f"{field.source}__")


def json_object(
    shape: Shape, *, prefix: str = "", computed: Mapping[str, Expression] | None = None
) -> JSONObjectOf:
    """The shape's object as JSON text in the row's query, as the JSON answer renders it (the
    fields only asked for with ``include`` left out): an embedded one's columns are under
    ``prefix``, and it is null when that row is. ``computed``: a computed field's expression by
    name (a webhook's user and its ``last_session_at``)."""
    members = []
    for inner in shape.fields:
        if inner.only_with is not None:
            continue
        path = f"{prefix}{inner.source}"
        if inner.json_text:
            members.append((inner.name, F(path), True))
        elif inner.column is COMPUTED and computed and inner.name in computed:
            members.append((inner.name, computed[inner.name], False))
        elif inner.column is None or inner.column is COMPUTED:
            raise TypeError(f"{shape.name}.{inner.name}: no column to render")
        else:
            members.append((inner.name, _column(inner, path), False))
    return JSONObjectOf(F(f"{prefix}id"), members)


# -- the answer --------------------------------------------------------------------------------


def paged(
    select: Callable[[Any, int], tuple[Sequence[Mapping[str, Any]], str | None]],
    decode: Callable[[str], Any],
) -> Fetch:
    """A :data:`Fetch` from a list's selector, ``select(after, limit) -> (rows, next_cursor)``,
    and how its cursor reads back as the selector's ``after`` (the list's own cursor format, so
    the export pages exactly as a client following ``next_cursor`` would)."""

    def fetch(after: Any, limit: int) -> tuple[Sequence[Mapping[str, Any]], Any]:
        rows, cursor = select(after, limit)
        return rows, None if cursor is None else decode(cursor)

    return fetch


def csv_response(
    request: Any,
    *,
    filename: str,
    table: Table,
    fetch: Fetch,
    include: frozenset[str] | None = frozenset(),
    keyset: bool = True,
) -> StreamingHttpResponse:
    """Every row ``fetch`` pages through, as a streamed CSV attachment ``<filename>.csv``: the
    ``table``'s header, then its lines. Reads the first page now, under the request's guard:
    call it once the request is validated, so that every error so far is an envelope.
    ``keyset``: each page is a walk along an index (:func:`one_backend`); False for pages
    computed otherwise (an aggregate), which the planner then plans freely."""
    with one_backend(keyset):
        first = fetch(None, FIRST_PAGE_ROWS)
    if request.method == "HEAD":
        body: Iterator[bytes] = iter(())
    else:
        body = _stream(table, include, first, fetch, keyset, replicas.current())
    response = StreamingHttpResponse(body, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


class ExportCut(RuntimeError):
    """A streamed export failed after its first byte; the connection is cut (see above)."""


def _stream(
    table: Table,
    include: frozenset[str] | None,
    first: tuple[Sequence[Mapping[str, Any]], Any],
    fetch: Fetch,
    keyset: bool,
    alias: str,
) -> Iterator[bytes]:
    yield table.header(include).encode()
    rows, after = first
    del first
    limit, sent = FIRST_PAGE_ROWS, 0
    while True:
        if rows:
            chunk = table.lines(rows, include)
            count = len(rows)
            del rows  # only the chunk is held while it is sent
            yield chunk
            sent += count
            limit = next_page_rows(len(chunk) / count)
            del chunk
        if after is None:
            return
        try:
            # On the database the request read its first page from (the middleware that chose
            # it has returned by now).
            with dbguard.guarded(), replicas.pinned(alias), one_backend(keyset):
                rows, after = fetch(after, limit)
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                DATABASE_ERRORS.inc()
            logger.error(
                "CSV export cut after %d rows: reading its next page failed", sent, exc_info=True
            )
            raise ExportCut(f"export cut after {sent} rows") from exc


@contextmanager
def one_backend(keyset: bool = True) -> Iterator[None]:
    """A page read by one PostgreSQL backend, planned for its own values: in a short
    transaction of its own (read committed: each statement still sees what committed before
    it, as in autocommit), whose settings end with it (``set_config(..., true)``: ``SET LOCAL``).

    - No parallel workers: an export's pages are large enough for the planner to offer them,
      and the tuples they pass back cost more than they save (a page of 8,192 sessions: 55 ms
      with two workers, 35 ms without), besides taking two more backends from everyone else
      for the length of the export.
    - A page walks an index from its position, each row joined through a key: never a hash
      or merge join, which reads the whole of the other table for each page. The planner
      chooses one near the end of a list, where it underestimates the rows left: the last
      pages of a scorecard export (sorted on the sessions' side) took 80-150 ms each instead
      of 20 ms, every scorecard of the tenant read again for each.
    - A custom plan for each page: the page's query is the same statement each time, prepared
      after its fifth run (``DATABASE_PREPARE_THRESHOLD``), and a generic plan, chosen for no
      position in particular, could make the same mistake. Planning a page costs a fraction
      of a millisecond.

    Without ``keyset`` (a page that is not an index walk: an aggregate), only the first.
    On the database the request reads from (core/replicas.py)."""
    alias = replicas.current()
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    settings = {"max_parallel_workers_per_gather": "0"}
    if keyset:
        settings |= {
            "enable_hashjoin": "off",
            "enable_mergejoin": "off",
            "plan_cache_mode": "force_custom_plan",
        }
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            # Names and values are this module's constants, never a request's.
            cursor.execute(
                "SELECT "
                + ", ".join(
                    f"set_config('{name}', '{value}', true)" for name, value in settings.items()
                )
            )
        yield


def next_page_rows(bytes_per_row: float) -> int:
    """The next page's rows: PAGE_BYTES of rows this wide, a power of two within the bounds."""
    rows = MIN_PAGE_ROWS
    while rows * 2 <= MAX_PAGE_ROWS and rows * 2 * bytes_per_row <= PAGE_BYTES:
        rows *= 2
    return rows
