"""SQL that renders wire formats in the database, so Python never parses what it only re-prints.

A page of 100 sessions holds 300 timestamps, 400 UUIDs and (for one session) a transcript of
kilobytes. Parsing those into datetime/UUID/dict objects only to print them again was most of
the time of a request (profile in bench/RESULTS.md). These expressions make the database return
the exact text of the contract: RFC 3339 UTC with ``Z`` and fractional seconds only when
non-zero, lower-case hyphenated UUIDs, and JSON documents as JSON text (sent on untouched with
``orjson.Fragment``). PostgreSQL is the production database; SQLite (the demo) gets equivalents.
"""

from __future__ import annotations

from django.db.models import CharField, ForeignKey, Func, Lookup, TextField, UUIDField
from django.db.models.lookups import In

# Django keeps the PostgreSQL session in UTC (USE_TZ) and stores SQLite datetimes as UTC text
# "YYYY-MM-DD HH:MM:SS[.ffffff]" and UUIDs as 32 hex digits.
_PG_RFC3339 = (
    "CASE WHEN {f} IS NULL THEN NULL "
    "WHEN date_trunc('second', {f}) = {f} "
    """THEN to_char({f} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
    """ELSE rtrim(to_char({f} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0') || 'Z' END"""
)
_SQLITE_RFC3339 = (
    "CASE WHEN {f} IS NULL THEN NULL "
    "WHEN instr({f}, '.') > 0 THEN replace(rtrim({f}, '0'), ' ', 'T') || 'Z' "
    "ELSE replace({f}, ' ', 'T') || 'Z' END"
)
_SQLITE_UUID = (
    "CASE WHEN {f} IS NULL THEN NULL ELSE lower(substr({f}, 1, 8) || '-' || substr({f}, 9, 4) "
    "|| '-' || substr({f}, 13, 4) || '-' || substr({f}, 17, 4) || '-' || substr({f}, 21, 12)) END"
)


class _Rendered(Func):
    pg_template: str
    sqlite_template: str

    def _render(self, compiler, connection, template):
        sql, params = compiler.compile(self.source_expressions[0])
        # The column appears several times in the template: repeat its params as often.
        count = template.count("{f}")
        return template.replace("{f}", f"({sql})"), tuple(params) * count

    def as_postgresql(self, compiler, connection, **extra):
        return self._render(compiler, connection, self.pg_template)

    def as_sqlite(self, compiler, connection, **extra):
        return self._render(compiler, connection, self.sqlite_template)


class RFC3339(_Rendered):
    """A timestamp as the contract prints it, e.g. ``2026-05-06T17:00:00.25Z``."""

    output_field = CharField()
    pg_template = _PG_RFC3339
    sqlite_template = _SQLITE_RFC3339


class UUIDText(_Rendered):
    """A UUID as lower-case hyphenated text."""

    output_field = CharField()
    pg_template = "({f})::text"
    sqlite_template = _SQLITE_UUID


class JSONText(_Rendered):
    """A JSON column as its JSON text, not parsed."""

    output_field = TextField()
    pg_template = "({f})::text"
    sqlite_template = "{f}"


def xact_lock(connection, namespace: int, key: str, *, shared: bool = False) -> None:
    """A PostgreSQL advisory lock on (``namespace``, ``key``) held until the transaction ends;
    shared ones only wait for, and hold off, the exclusive one. Other databases run one write
    transaction at a time already: nothing to do."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, hashtext(%s))", [namespace, key])


def try_xact_lock(connection, namespace: int, key: str) -> bool:
    """The exclusive form of ``xact_lock`` without waiting: whether it was taken (always, on
    databases that run one write transaction at a time)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [namespace, key])
        return bool(cursor.fetchone()[0])


def json_items(vendor: str, column: str) -> tuple[str, str, str, str]:
    """SQL to read a JSON array of ``{"key", "label", "score"}`` objects in ``column`` as rows:
    the FROM clause to append after the table, and the key, label and score expressions."""
    if vendor == "postgresql":
        return (
            f" CROSS JOIN LATERAL jsonb_to_recordset({column}::jsonb)"
            " AS e(key text, label text, score integer)",
            "e.key",
            "e.label",
            "e.score",
        )
    return (
        f", json_each({column}) AS e",
        "json_extract(e.value, '$.key')",
        "json_extract(e.value, '$.label')",
        "json_extract(e.value, '$.score')",
    )


class AnyOf(Lookup):
    """``id__any_of=[...]``: ``id = ANY(%s)`` with one array parameter on PostgreSQL.

    ``id__in`` with thousands of ids costs more to build and send than to run (one placeholder
    per id, each parsed by the driver): the importer's batch lookups spent most of their time
    there. Other databases get the plain ``IN``.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))


def register_lookups() -> None:
    """Called by CoreConfig.ready: the lookups exist once Django is set up, whoever imports."""
    UUIDField.register_lookup(AnyOf)
    ForeignKey.register_lookup(AnyOf)
