"""Upsert by id of many rows at once: the machinery under every app's batch services
(``*_bulk_upsert``), which decide what is written and keep the invariants.

On PostgreSQL, models with ``copy_fields`` (sessions and scorecards, the bulk of any import)
go through ``COPY``: rows not stored yet straight into their table, stored ones through a
staging table and one ``INSERT ... ON CONFLICT``. Everything else, and SQLite, gets
``bulk_create(update_conflicts=True)``.

A row equal to its stored one is not written: the ON CONFLICT update has a ``WHERE ... IS
DISTINCT FROM`` clause, and the bulk_create path leaves out the rows equal to their stored
values (read in one query). So with a ``stamp``, ``updated_at`` moves only on a real change
(docs/api-guide.md, Keep a copy in sync: a re-import moves nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.db import connection, models


@dataclass
class Written:
    """The ids a bulk upsert wrote: new rows, and stored rows it changed (a row equal to its
    stored one is in neither)."""

    created: list[uuid.UUID] = field(default_factory=list)
    updated: list[uuid.UUID] = field(default_factory=list)


def bulk_upsert(
    *,
    model: type[models.Model],
    rows: list[dict[str, Any]],
    update_fields: list[str],
    stored_ids: Container[uuid.UUID] = (),
    copy_fields: Sequence[str] | None = None,
    stamp: datetime | None = None,
) -> Written:
    """Insert or update by id; ``update_fields`` are what a stored row takes from its new
    values. ``stored_ids``: which of these ids are stored already (those the COPY path must
    not insert). ``copy_fields``: the columns written by COPY (field names that are the
    column names), None for no COPY path. ``stamp``: the ``updated_at`` of new and changed
    rows (sync/clock.py), None for a model without one. Returns which ids it created and which
    it changed."""
    written = Written()
    if not rows:
        return written
    if stamp is not None:
        rows = [{**row, "updated_at": stamp} for row in rows]
    if copy_fields is not None and connection.vendor == "postgresql":
        if stamp is not None:
            copy_fields = (*copy_fields, "updated_at")
        # Rows not stored yet (all of them, in a first import) go straight in with COPY: no
        # staging table, no conflict handling, the data written once.
        new_rows = [r for r in rows if r["id"] not in stored_ids]
        _copy_new(model, copy_fields, new_rows)
        written.created = [r["id"] for r in new_rows]
        stored_rows = [r for r in rows if r["id"] in stored_ids]
        if stored_rows:
            for row_id, inserted in _copy_upsert(
                model, copy_fields, stored_rows, update_fields, stamped=stamp is not None
            ):
                (written.created if inserted else written.updated).append(row_id)
        return written
    # Rows equal to their stored row are not written at all: no new row version, and no row
    # lock that would make other writers of the tenant wait for this import to end.
    rows, stored = _changed(model, rows, update_fields)
    if not rows:
        return written
    for row in rows:
        (written.updated if row["id"] in stored else written.created).append(row["id"])
    if stamp is not None:
        update_fields = [*update_fields, "updated_at"]
    model._base_manager.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=update_fields,
    )
    return written


def _changed(
    model, rows: list[dict[str, Any]], fields: list[str]
) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """The rows that are new, or differ from their stored row in one of ``fields``; and the
    ids of the rows stored."""
    attnames = [model._meta.get_field(name).attname for name in fields]

    def value(row: dict[str, Any], name: str, attname: str) -> Any:
        return row[attname] if attname in row else row[name]

    stored = {
        values[0]: values[1:]
        for values in model._base_manager.filter(id__in=[r["id"] for r in rows]).values_list(
            "id", *attnames
        )
    }
    changed = [
        row
        for row in rows
        if row["id"] not in stored
        or stored[row["id"]]
        != tuple(value(row, n, a) for n, a in zip(fields, attnames, strict=True))
    ]
    return changed, set(stored)


def _copy_new(model, fields: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: rows known not to be stored, COPY'd into their table.

    Should another import store one of these ids meanwhile, the unique key refuses the
    COPY and this import stops, writing nothing: never a silent overwrite.
    """
    if not rows:
        return
    with connection.cursor() as cursor:
        _copy_rows(cursor.cursor, model._meta.db_table, model, fields, rows)


def _copy_upsert(
    model, fields: Sequence[str], rows: list[dict[str, Any]], update_fields, *, stamped: bool
) -> list[tuple[uuid.UUID, bool]]:
    """PostgreSQL: COPY the batch into a temporary table, then one INSERT ... ON CONFLICT;
    returns the (id, inserted) of the rows it wrote.

    The same upsert as bulk_create's, without Django quoting every value (large JSON
    documents above all) into SQL text. A row equal to the stored one is left as it is
    (``updated_at`` included).
    """
    table = model._meta.db_table
    staging = f"import_staging_{table}"
    column_of = {f.name: f.column for f in model._meta.concrete_fields}
    columns = [column_of[name] for name in update_fields]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in [*columns, *(["updated_at"] * stamped)])
    ours = ", ".join(f"{table}.{c}" for c in columns)
    theirs = ", ".join(f"EXCLUDED.{c}" for c in columns)
    only_changed = f" WHERE ({ours}) IS DISTINCT FROM ({theirs})"
    column_list = ", ".join(fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor, for COPY
        raw.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        raw.execute(f"TRUNCATE {staging}")
        _copy_rows(raw, staging, model, fields, rows)
        raw.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "  # noqa: S608 - identifiers are ours
            f"ON CONFLICT (id) DO UPDATE SET {updates}{only_changed}"
            " RETURNING id, (xmax = 0)"  # xmax 0: a row inserted, not updated
        )
        return raw.fetchall()


def _copy_rows(raw_cursor, table: str, model, fields: Sequence[str], rows) -> None:
    json_columns = {f.name for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
    with raw_cursor.copy(f"COPY {table} ({', '.join(fields)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [orjson.dumps(row[c]).decode() if c in json_columns else row[c] for c in fields]
            )
