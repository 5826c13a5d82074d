"""The JSON Lines importer behind ``manage.py import_data`` (``docs/import-format.md``): the
pipeline. Lines are validated by ``validation.py``, their references checked by
``references.py``, and batches written by ``writer.py`` through the apps' batch services.

How it keeps its promises:

- **Streaming.** Lines are read one at a time and validated at once; valid rows wait in a batch
  of at most ``batch_size`` records, which is then checked against the database in a handful of
  queries and written by a second thread while the next batch is read (on PostgreSQL: rows not
  stored yet by ``COPY``, the others by one upsert per record type). Memory is bounded by two
  batches, not by the file. Rollups are recomputed once, at the end.
- **All or nothing.** Everything runs in one transaction that is rolled back when any line was
  bad (or on ``dry_run``). Valid rows keep being written after the first error, so that later
  lines are judged against the same state they would have met in a clean run and the report
  names every bad line, not just the first.
- **References.** A record may point only at records on earlier lines or already stored, and
  only of its own tenant (``references.py``).
- **Upsert by id.** Re-importing a file leaves the data as it was: ``created_at`` defaults to the
  time of first import and is never overwritten by a default.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    connection,
    connections,
    reset_queries,
    transaction,
)

from roleplay.rollups import Touched
from roleplay.services import batches_finish
from tenants.services import TokenCachesStale, token_caches_invalidate

from .deletes import delete_record
from .references import Pending, References, Stored
from .validation import CLEANERS, UUID_RE, Invalid
from .writer import write_batch

KINDS = ("tenant", "user", "scenario", "session", "scorecard", "delete")
MAX_REPORTED_ERRORS = 50
BOM = b"\xef\xbb\xbf"
# pg_advisory_xact_lock(int4, int4): (b"IMPT" as an int, 1). Imports run one at a time: two at
# once, with overlapping ids or days, collided on unique keys (a raw UniqueViolation) or on the
# rollups, and the valid file was refused.
IMPORT_LOCK = (int.from_bytes(b"IMPT", "big"), 1)


@dataclass
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    lines: int = 0
    records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    committed: bool = False
    # Committed, and a stored tenant changed, but Redis did not answer: the servers' cached
    # tokens may show the tenant as it was for up to API_TOKEN_CACHE_SECONDS.
    token_caches_stale: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class ImportAborted(Exception):
    """The database refused a write: the transaction is unusable, stop reading."""


class Importer:
    def __init__(
        self,
        *,
        batch_size: int = 2000,
        progress: Callable[[int], None] | None = None,
        on_wait: Callable[[], None] | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.progress = progress
        self.on_wait = on_wait
        self.result = ImportResult()
        self._batch: list[Pending] = []
        self._references = References()
        self._now = datetime.now(UTC)
        self._touched = Touched()  # filled by the writer thread, recomputed at the end
        self._writer: ThreadPoolExecutor | None = None
        self._pending_write: Future | None = None
        self._tenants_changed = False  # set by the writer thread

    # -- entry point ---------------------------------------------------------------------------

    def run(self, lines: Iterable[bytes], *, dry_run: bool = False) -> ImportResult:
        try:
            with transaction.atomic(), self._writer_thread():
                self._wait_for_other_imports()
                try:
                    for number, raw in enumerate(lines, start=1):
                        self.result.lines = number
                        self._read_line(number, raw)
                        if len(self._batch) >= self.batch_size:
                            self._flush()
                    self._flush()
                    self._wait_for_write()
                    for session_id, line in self._references.scored_without_scorecard():
                        self._error(
                            line,
                            f"status: session {session_id} is scored but no scorecard for it "
                            "follows in the file or is stored",
                        )
                    if self.result.ok and not dry_run:
                        self._recompute_rollups()
                except ImportAborted:
                    pass
                if dry_run or not self.result.ok:
                    transaction.set_rollback(True)
                else:
                    if self._tenants_changed:
                        # A renamed tenant (or a new slug or time zone): cached tokens hold
                        # their tenant. Once per import, after the commit.
                        token_caches_invalidate()
                    self.result.committed = True
        except TokenCachesStale:
            self.result.token_caches_stale = True  # raised after the commit: the data is in
        finally:
            self.result.errors.sort(key=lambda e: e.line)
            del self.result.errors[MAX_REPORTED_ERRORS:]
        return self.result

    def _wait_for_other_imports(self) -> None:
        """Queues behind a running import (PostgreSQL; SQLite has one writer at a time anyway).
        The lock is the transaction's: it ends with the commit or the rollback, also when the
        process is killed."""
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", IMPORT_LOCK)
            if cursor.fetchone()[0]:
                return
            if self.on_wait is not None:
                self.on_wait()
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", IMPORT_LOCK)

    @contextmanager
    def _writer_thread(self) -> Iterator[None]:
        """A second thread that writes batch N while this one parses and validates batch N+1.

        Parsing is Python's work and writing mostly the database's, on the other core: in a
        pipeline they overlap. The writer uses this thread's connection, hence the same
        transaction, and never at the same time: this thread waits for the previous write
        (``_wait_for_write``) before it asks the database anything again.
        """
        shared = connections[DEFAULT_DB_ALIAS]
        shared.inc_thread_sharing()
        try:
            with ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="import-writer",
                initializer=connections.__setitem__,
                initargs=(DEFAULT_DB_ALIAS, shared),
            ) as self._writer:
                yield
        finally:
            self._pending_write = None
            shared.dec_thread_sharing()

    def _wait_for_write(self) -> None:
        future, self._pending_write = self._pending_write, None
        if future is None:
            return
        failure = future.result()
        if failure is not None:
            line, exc = failure
            self._error(line, f"the database refused this batch: {exc}".strip())
            raise ImportAborted from exc

    # -- one line ------------------------------------------------------------------------------

    def _error(self, line: int, message: str) -> None:
        self.result.error_count += 1
        errors = self.result.errors
        errors.append(LineError(line, message))
        # Errors arrive nearly in line order; keep the earliest ones without holding them all.
        if len(errors) > 10 * MAX_REPORTED_ERRORS:
            errors.sort(key=lambda e: e.line)
            del errors[MAX_REPORTED_ERRORS:]

    def _reject(self, line: int, kind: str, record_id: Any, message: str) -> None:
        self._error(line, message)
        if isinstance(record_id, str) and UUID_RE.match(record_id):
            record_id = uuid.UUID(record_id)
        if isinstance(record_id, uuid.UUID):
            self._references.remember_rejected(kind, record_id, line)

    def _read_line(self, number: int, raw: bytes) -> None:
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if not raw.strip():
            return
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._error(number, f"not valid JSON ({exc.args[0] if exc.args else exc})")
            return
        if not isinstance(record, dict):
            self._error(number, "must be a JSON object")
            return
        kind = record.get("type")
        if not isinstance(kind, str) or kind not in CLEANERS:
            if kind is None:
                self._error(number, "type: is required")
            else:
                shown = kind if isinstance(kind, str) else orjson.dumps(kind).decode()
                self._error(
                    number,
                    f"type: unknown type {shown[:40]!r}; expected one of " + ", ".join(KINDS),
                )
            return
        try:
            row = CLEANERS[kind](record)
        except Invalid as exc:
            if kind == "delete":
                self._error(number, "; ".join(exc.problems))
            else:
                self._reject(number, kind, record.get("id"), "; ".join(exc.problems))
            return
        if kind == "delete":
            self._delete(number, row)
        else:
            self._batch.append(Pending(number, kind, row))

    def _delete(self, number: int, row: dict[str, Any]) -> None:
        """A delete line is a barrier: the lines above it are written first (the batch, then
        its write), so it is judged against, and changes, the state they left."""
        self._flush()
        self._wait_for_write()
        problem = delete_record(kind=row["object"], tenant_id=row["tenant_id"], record_id=row["id"])
        if problem is not None:
            self._error(number, problem)
            return
        self.result.records["delete"] += 1
        self._references.forget(row["object"], row["id"])

    # -- one batch -----------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._batch:
            # The previous batch must be in the database before this one is checked against it.
            self._wait_for_write()
            accepted, stored = self._references.check(self._batch, self._reject_pending)
            for pending in accepted:
                self.result.records[pending.kind] += 1
            self._pending_write = self._writer.submit(self._write, accepted, stored)
        self._batch = []
        reset_queries()  # with DEBUG on, Django would keep every batch's SQL: memory not flat
        if self.progress is not None:
            self.progress(self.result.lines)

    def _reject_pending(self, pending: Pending, message: str) -> None:
        self._reject(pending.line, pending.kind, pending.row["id"], message)

    def _write(self, accepted: list[Pending], stored: Stored) -> tuple[int, DatabaseError] | None:
        """Runs on the writer thread; returns (line, error) if the database refused the batch."""
        try:
            if write_batch(
                accepted=accepted, stored_ids=stored.owners, now=self._now, touched=self._touched
            ):
                self._tenants_changed = True
        except DatabaseError as exc:
            # Reported by the parsing thread (_wait_for_write), which owns the error list.
            return (accepted[0].line if accepted else self.result.lines), exc
        return None

    def _recompute_rollups(self) -> None:
        """Once per import, not per batch: a day spread over many batches is summed once, and
        a file's worth of days costs a few range queries per tenant (days are few: memory stays
        bounded by tenants × days, not by the file)."""
        try:
            if connection.vendor == "postgresql" and self.result.records["session"] > 10_000:
                # After a bulk load, plan the aggregates for the tables as they now are, not as
                # the statistics from before the load describe them (autovacuum comes later).
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE sessions_api_session, scorecards_scorecard")
            batches_finish(touched=self._touched)
        except DatabaseError as exc:
            self._error(self.result.lines, f"the database refused the rollups: {exc}".strip())
