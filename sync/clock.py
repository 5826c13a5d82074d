"""The clock of incremental sync: the stamp every write puts on what it changes (``updated_at``,
a tombstone's ``deleted_at``), and the horizon below which a sync read may serve changes.

The promise (docs/api-guide.md, Keep a copy in sync): a client that pages ``updated_since`` to
the end and next time asks from the greatest ``updated_at`` it received never loses a change.
Stamps are taken before COMMIT, and transactions commit in any order: an import that stamped its
rows at 10:00 and commits at 10:05 would be missed by a client that read at 10:03 and saw a
quick edit stamped 10:02. So a read serves only changes stamped below a *horizon* that no
running writer can still stamp under:

- **PostgreSQL.** Every write transaction first takes a shared advisory lock (``SYNC_LOCK``,
  held until it ends) and only then reads the clock for its stamps. A sync read takes
  ``t = clock_timestamp()``, then, in a second statement, the oldest ``xact_start`` of the
  transactions holding that lock; the horizon is the earlier of the two, and the rows are read
  by a third statement. A writer whose stamp is below the horizon held the lock before ``t``;
  it was not holding it when the lock table was read (its ``xact_start`` would be at or below
  its stamp, so below the horizon), so it had ended, and PostgreSQL makes a commit visible
  before it releases the transaction's locks: the third statement sees its rows. A writer that
  takes the lock after that read stamps above ``t``. Shared locks never wait for one another:
  writers do not queue behind this.
- **SQLite** (the demo) has one writer at a time, holding the database's write lock from its
  first write to COMMIT. A write takes that lock (an empty UPDATE) before its stamp; a sync read
  takes it too, for an instant, then reads the clock: no writer is half-way then, and every
  later one stamps after. A read that meets a long import waits for it, up to the busy timeout
  (then 503 with Retry-After).

The cost: a change becomes visible to sync when its transaction commits and no writer that
started earlier is still running; with nothing else writing, at once. A long import holds back
changes committed while it runs until it ends (README, "Keep a copy in sync").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import DateTimeField, Expression, F, Func, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.db.models.functions import Now

from core import replicas
from core.cursors import opaque_page

# pg_advisory_xact_lock_shared(int4, int4): (b"SYNC" as an int, 1).
SYNC_LOCK = (0x53594E43, 1)
# What a holder whose xact_start this role may not read counts as: hold everything back.
_UNKNOWN_START = datetime(1970, 1, 1, tzinfo=UTC)


class StampOutsideTransaction(RuntimeError):
    """A stamp taken in autocommit would be released before the write it stamps commits."""


class TransactionStart(Func):
    """The start of the current transaction: PostgreSQL's ``transaction_timestamp()`` (Django's
    ``Now()`` is the statement's). SQLite has none: there it is the statement's time."""

    template = "transaction_timestamp()"
    arity = 0
    output_field = DateTimeField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return Now().as_sqlite(compiler, connection, **extra_context)


def change_stamp() -> datetime:
    """The instant to stamp this transaction's changes with. Call inside transaction.atomic,
    before or after writing: the stamp is taken once the write lock is held."""
    if not connection.in_atomic_block:
        raise StampOutsideTransaction("change_stamp() needs transaction.atomic()")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # OFFSET 0 keeps the subquery apart, so the lock is taken before the clock is read.
            cursor.execute(
                "SELECT clock_timestamp() FROM "
                "(SELECT pg_advisory_xact_lock_shared(%s, %s) OFFSET 0) AS held",
                SYNC_LOCK,
            )
            return cursor.fetchone()[0]
        cursor.execute("UPDATE tenants_deletion SET id = id WHERE 0")  # takes the write lock
    return datetime.now(UTC)


def sync_horizon() -> datetime:
    """Changes stamped strictly before this instant are all committed and visible to the
    queries that follow (which must run after this returns, outside any older snapshot). The
    caller's own transaction is left out: its own changes are visible to it.

    Asked of the primary, whose lock table alone shows its writers. A request reading a
    replica stays there only if the replica has replayed the primary's WAL past what it held
    when the writers were read; else it reads the primary (core/replicas.py)."""
    primary = connections[DEFAULT_DB_ALIAS]
    if primary.vendor == "postgresql":
        with primary.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            now = cursor.fetchone()[0]
            cursor.execute(
                "SELECT min(coalesce(a.xact_start, %s)), "
                "(pg_current_wal_insert_lsn() - '0/0')::bigint FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s "
                "AND l.objsubid = 2 AND l.pid <> pg_backend_pid() "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (_UNKNOWN_START, *SYNC_LOCK),
            )
            oldest, position = cursor.fetchone()
        replicas.require_replayed(position)
        return now if oldest is None else min(now, oldest)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tenants_deletion SET id = id WHERE 0")
        return datetime.now(UTC)


def changed_page(
    rows: QuerySet,
    *,
    kind: str,
    since: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    columns: Mapping[str, Expression],
    field: str = "updated_at",
    tiebreak: str = "id",
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``rows`` (already scoped and filtered) changed at or after ``since`` and
    below the horizon, oldest change first by ``(field, id)``, keyset-paged on that pair (the
    (tenant, field, id) index: page 1,000 costs what page 1 costs). ``columns`` must render
    ``field`` as ``w_<field>`` and ``tiebreak`` (a UUID) as ``w_id``. The next page's cursor
    names ``kind``, the list that issues it (core/cursors.py)."""
    horizon = sync_horizon()
    page = rows.filter(**{f"{field}__gte": since, f"{field}__lt": horizon})
    if after is not None:
        page = page.filter(TupleGreaterThan(Tuple(F(field), F(tiebreak)), after))
    found = list(page.order_by(field, tiebreak).values(**columns)[: limit + 1])
    # The cursor's instant is rendered at full precision (trailing zeros trimmed): exact.
    return opaque_page(found, limit=limit, kind=kind, at=f"w_{field}")
