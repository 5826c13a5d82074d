"""The JSON Lines importer behind ``manage.py import_data`` (``shared/import-format.md``).

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
  only of its own tenant. Rows earlier in the current batch are resolved in memory; the rest
  with one ``id = ANY(...)`` query per target table at flush time.
- **Upsert by id.** Re-importing a file leaves the data as it was: ``created_at`` defaults to the
  time of first import and is never overwritten by a default.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
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

from analytics import rollups
from api import dbfunctions  # noqa: F401 - registers the any_of lookup
from scorecards.models import Scorecard
from sessions_api.models import Scenario, Session
from tenants.models import Rep, Tenant

from .validation import CLEANERS, UUID_RE, Invalid

KINDS = ("tenant", "user", "scenario", "session", "scorecard")
MODELS = {
    "tenant": Tenant,
    "user": Rep,
    "scenario": Scenario,
    "session": Session,
    "scorecard": Scorecard,
}
# field -> kind of the record it must point at (besides tenant_id, which every non-tenant has).
REFERENCES = {
    "tenant": {},
    "user": {"tenant_id": "tenant"},
    "scenario": {"tenant_id": "tenant"},
    "session": {"tenant_id": "tenant", "user_id": "user", "scenario_id": "scenario"},
    "scorecard": {"tenant_id": "tenant", "session_id": "session"},
}
# Columns an upsert overwrites. The tenant of a row and the session of a scorecard never change
# (that is checked before writing), and created_at only when the line states it.
UPDATE_FIELDS = {
    "tenant": ["slug", "name"],
    "user": ["full_name", "email", "role"],
    "scenario": ["name", "call_type", "status"],
    "session": [
        "user",
        "scenario",
        "status",
        "started_at",
        "ended_at",
        "duration_seconds",
        "created_at",
        "transcript",
    ],
    "scorecard": ["overall_score", "verdict", "headline", "categories", "callouts"],
}
HAS_OPTIONAL_CREATED_AT = {"scenario", "scorecard"}
# The bulk of any file: on PostgreSQL these go through COPY (see Importer._copy_upsert).
COPY_FIELDS = {
    Session: (
        "id",
        "tenant_id",
        "user_id",
        "scenario_id",
        "status",
        "started_at",
        "ended_at",
        "duration_seconds",
        "created_at",
        "transcript",
    ),
    Scorecard: (
        "id",
        "tenant_id",
        "session_id",
        "overall_score",
        "verdict",
        "headline",
        "categories",
        "callouts",
        "created_at",
    ),
}
# Field names are the column names for these two models (the *_id are FK columns).
COPY_COLUMNS = {"session": COPY_FIELDS[Session], "scorecard": COPY_FIELDS[Scorecard]}
MAX_REPORTED_ERRORS = 50
# Remembering which ids were rejected only improves messages; keep it bounded.
MAX_REMEMBERED_REJECTIONS = 10_000
QUERY_CHUNK = 900
BOM = b"\xef\xbb\xbf"


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

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass
class _Pending:
    line: int
    kind: str
    row: dict[str, Any]
    # (field, line) of rows earlier in this batch that this one refers to.
    deps: list[tuple[str, int]]
    # (field, kind, id) still to be found in the database.
    lookups: list[tuple[str, str, uuid.UUID]]


class ImportAborted(Exception):
    """The database refused a write: the transaction is unusable, stop reading."""


def _chunks(values: list[Any], size: int = QUERY_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _owner(kind: str, row: dict[str, Any]) -> uuid.UUID:
    return row["id"] if kind == "tenant" else row["tenant_id"]


class Importer:
    def __init__(
        self,
        *,
        batch_size: int = 2000,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.progress = progress
        self.result = ImportResult()
        self._batch: list[_Pending] = []
        # kind -> id -> (tenant id, line) for rows of the current batch.
        self._in_batch: dict[str, dict[uuid.UUID, tuple[uuid.UUID, int]]] = defaultdict(dict)
        self._batch_scorecard_of_session: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        self._batch_session_of_scorecard: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}
        # Across the whole file: tenants are few, so their slugs can be remembered.
        self._tenant_slugs: dict[str, uuid.UUID] = {}
        self._rejected: dict[tuple[str, uuid.UUID], int] = {}
        # Scored sessions whose scorecard has not been seen yet: session id -> line. Those not
        # yet looked up among stored scorecards are also in _unchecked_scored.
        self._awaiting_scorecard: dict[uuid.UUID, int] = {}
        self._unchecked_scored: list[uuid.UUID] = []
        self._now = datetime.now(UTC)
        self._touched_days = rollups.new_keys()
        self._touched_reps: rollups.RepKeys = defaultdict(set)
        self._writer: ThreadPoolExecutor | None = None
        self._pending_write: Future | None = None

    # -- entry point ---------------------------------------------------------------------------

    def run(self, lines: Iterable[bytes], *, dry_run: bool = False) -> ImportResult:
        try:
            with transaction.atomic(), self._writer_thread():
                try:
                    for number, raw in enumerate(lines, start=1):
                        self.result.lines = number
                        self._read_line(number, raw)
                        if len(self._batch) >= self.batch_size:
                            self._flush()
                    self._flush()
                    self._wait_for_write()
                    self._check_awaiting_scorecards(final=True)
                    if self.result.ok and not dry_run:
                        self._recompute_rollups()
                except ImportAborted:
                    pass
                if dry_run or not self.result.ok:
                    transaction.set_rollback(True)
                else:
                    self.result.committed = True
        finally:
            self.result.errors.sort(key=lambda e: e.line)
            del self.result.errors[MAX_REPORTED_ERRORS:]
        return self.result

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
        if isinstance(record_id, uuid.UUID) and len(self._rejected) < MAX_REMEMBERED_REJECTIONS:
            self._rejected[(kind, record_id)] = line

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
            self._reject(number, kind, record.get("id"), "; ".join(exc.problems))
            return
        self._accept(number, kind, row)

    def _accept(self, number: int, kind: str, row: dict[str, Any]) -> None:
        problems: list[str] = []
        owner = _owner(kind, row)
        deps: list[tuple[str, int]] = []
        lookups: list[tuple[str, str, uuid.UUID]] = []

        earlier = self._in_batch[kind].get(row["id"])
        if earlier is not None and earlier[0] != owner:
            problems.append(f"id: {row['id']} is used on line {earlier[1]} by another tenant")

        if kind == "tenant":
            claimed_by = self._tenant_slugs.get(row["slug"])
            if claimed_by is not None and claimed_by != row["id"]:
                problems.append(f"slug: {row['slug']!r} is already used by tenant {claimed_by}")

        for field_name, target in REFERENCES[kind].items():
            target_id = row[field_name]
            in_batch = self._in_batch[target].get(target_id)
            if in_batch is not None:
                if in_batch[0] != owner:
                    problems.append(f"{field_name}: {target} {target_id} belongs to another tenant")
                else:
                    deps.append((field_name, in_batch[1]))
            elif (target, target_id) in self._rejected:
                line = self._rejected[(target, target_id)]
                problems.append(f"{field_name}: {target} {target_id} (line {line}) is invalid")
            else:
                lookups.append((field_name, target, target_id))

        if kind == "scorecard":
            other = self._batch_scorecard_of_session.get(row["session_id"])
            if other is not None and other[0] != row["id"]:
                problems.append(
                    f"session_id: session {row['session_id']} already has scorecard {other[0]} "
                    f"(line {other[1]})"
                )
            # As for a stored scorecard (_check_batch): moving it would leave its first session
            # scored without one, whatever the batch size.
            first = self._batch_session_of_scorecard.get(row["id"])
            if first is not None and first[0] != row["session_id"]:
                problems.append(
                    f"session_id: scorecard {row['id']} is for session {first[0]} on line "
                    f"{first[1]}; a scorecard cannot move to another session"
                )

        if problems:
            self._reject(number, kind, row["id"], "; ".join(problems))
            return

        self._batch.append(_Pending(number, kind, row, deps, lookups))
        self._in_batch[kind][row["id"]] = (owner, number)
        self.result.records[kind] += 1
        if kind == "tenant":
            self._tenant_slugs[row["slug"]] = row["id"]
        elif kind == "session" and row["status"] == Session.Status.SCORED:
            known = row["id"] in self._awaiting_scorecard
            if not known and row["id"] not in self._batch_scorecard_of_session:
                self._awaiting_scorecard[row["id"]] = number
                self._unchecked_scored.append(row["id"])
        elif kind == "scorecard":
            self._batch_scorecard_of_session[row["session_id"]] = (row["id"], number)
            self._batch_session_of_scorecard.setdefault(row["id"], (row["session_id"], number))
            self._awaiting_scorecard.pop(row["session_id"], None)

    # -- one batch -----------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._batch:
            # The previous batch must be in the database before this one is checked against it.
            self._wait_for_write()
            self._check_awaiting_scorecards(final=False)
            stored = self._stored_state()
            accepted = self._check_batch(stored)
            self._pending_write = self._writer.submit(self._write, accepted, stored)
        self._batch.clear()
        self._in_batch.clear()
        self._batch_scorecard_of_session.clear()
        self._batch_session_of_scorecard.clear()
        reset_queries()  # with DEBUG on, Django would keep every batch's SQL: memory not flat
        if self.progress is not None:
            self.progress(self.result.lines)

    def _stored_state(self) -> dict[str, Any]:
        """Everything the batch needs to know about the database, in a few queries."""
        wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
        for pending in self._batch:
            wanted[pending.kind].add(pending.row["id"])
            for _field, target, target_id in pending.lookups:
                wanted[target].add(target_id)
        owners: dict[str, dict[uuid.UUID, uuid.UUID]] = {}
        for kind, ids in wanted.items():
            model = MODELS[kind]
            owner_column = "id" if kind == "tenant" else "tenant_id"
            owners[kind] = {}
            for chunk in _chunks(list(ids)):
                owners[kind].update(
                    model._base_manager.filter(id__any_of=chunk).values_list("id", owner_column)
                )

        slugs = [p.row["slug"] for p in self._batch if p.kind == "tenant"]
        slug_owner = dict(Tenant.objects.filter(slug__in=slugs).values_list("slug", "id"))

        cards = [p.row for p in self._batch if p.kind == "scorecard"]
        card_of_session: dict[uuid.UUID, uuid.UUID] = {}
        session_of_card: dict[uuid.UUID, uuid.UUID] = {}
        for chunk in _chunks([c["session_id"] for c in cards]):
            card_of_session.update(
                Scorecard.unscoped.filter(session_id__any_of=chunk).values_list("session_id", "id")
            )
        for chunk in _chunks([c["id"] for c in cards]):
            session_of_card.update(
                Scorecard.unscoped.filter(id__any_of=chunk).values_list("id", "session_id")
            )
        return {
            "owners": owners,
            "slug_owner": slug_owner,
            "card_of_session": card_of_session,
            "session_of_card": session_of_card,
            # Days and reps whose rollups change if these sessions move (read before writing).
            "session_days": list(
                Session.unscoped.filter(
                    id__any_of=[p.row["id"] for p in self._batch if p.kind == "session"]
                ).values_list("tenant_id", "started_at", "user_id")
            ),
        }

    def _check_batch(self, stored: dict[str, Any]) -> list[_Pending]:
        owners = stored["owners"]
        good_lines: set[int] = set()
        accepted: list[_Pending] = []
        for pending in self._batch:  # in line order, so a row's dependencies come first
            row, kind = pending.row, pending.kind
            owner = _owner(kind, row)
            problems: list[str] = []

            stored_owner = owners.get(kind, {}).get(row["id"])
            if stored_owner is not None and stored_owner != owner:
                problems.append(f"id: {kind} {row['id']} already exists in another tenant")
            if kind == "tenant":
                slug_owner = stored["slug_owner"].get(row["slug"])
                if slug_owner is not None and slug_owner != row["id"]:
                    problems.append(f"slug: {row['slug']!r} is already used by another tenant")
            if kind == "scorecard":
                card = stored["card_of_session"].get(row["session_id"])
                if card is not None and card != row["id"]:
                    problems.append(
                        f"session_id: session {row['session_id']} already has scorecard {card}"
                    )
                session = stored["session_of_card"].get(row["id"])
                if session is not None and session != row["session_id"]:
                    problems.append(
                        f"session_id: scorecard {row['id']} belongs to session {session}; "
                        "a scorecard cannot move to another session"
                    )

            for field_name, line in pending.deps:
                if line not in good_lines:
                    problems.append(f"{field_name}: {row[field_name]} (line {line}) is invalid")
            for field_name, target, target_id in pending.lookups:
                target_owner = owners.get(target, {}).get(target_id)
                if target_owner is None:
                    problems.append(f"{field_name}: unknown {target} {target_id}")
                elif target_owner != owner:
                    problems.append(f"{field_name}: {target} {target_id} belongs to another tenant")

            if problems:
                self.result.records[kind] -= 1
                self._reject(pending.line, kind, row["id"], "; ".join(problems))
                if kind == "session":
                    self._awaiting_scorecard.pop(row["id"], None)
            else:
                good_lines.add(pending.line)
                accepted.append(pending)
        return accepted

    def _write(
        self, accepted: list[_Pending], stored: dict[str, Any]
    ) -> tuple[int, DatabaseError] | None:
        """Runs on the writer thread; returns (line, error) if the database refused the batch."""
        by_kind: dict[str, dict[uuid.UUID, dict[str, Any]]] = defaultdict(dict)
        for pending in accepted:
            by_kind[pending.kind][pending.row["id"]] = pending.row  # the last line wins
        try:
            for kind in KINDS:
                rows = list(by_kind[kind].values())
                if not rows:
                    continue
                stored_ids = stored["owners"].get(kind, {})
                if kind in HAS_OPTIONAL_CREATED_AT:
                    stated = [r for r in rows if r["created_at"] is not None]
                    defaulted = [
                        {**r, "created_at": self._now} for r in rows if r["created_at"] is None
                    ]
                    self._upsert(kind, stated, [*UPDATE_FIELDS[kind], "created_at"], stored_ids)
                    self._upsert(kind, defaulted, UPDATE_FIELDS[kind], stored_ids)
                else:
                    self._upsert(kind, rows, UPDATE_FIELDS[kind], stored_ids)
                if kind == "session":
                    # A session that already has a scorecard stays scored, whatever the line says.
                    Session.unscoped.filter(
                        id__any_of=list(by_kind[kind]), scorecard__isnull=False
                    ).exclude(status=Session.Status.SCORED).update(status=Session.Status.SCORED)
                if kind == "scorecard":
                    Session.unscoped.filter(id__any_of=[r["session_id"] for r in rows]).exclude(
                        status=Session.Status.SCORED
                    ).update(status=Session.Status.SCORED)
            self._collect_rollup_days(by_kind, stored)
        except DatabaseError as exc:
            # Reported by the parsing thread (_wait_for_write), which owns the error list.
            return (accepted[0].line if accepted else self.result.lines), exc
        return None

    def _collect_rollup_days(self, by_kind, stored: dict[str, Any]) -> None:
        """Every (tenant, day) and rep this batch touched, before and after: recomputed at the
        end."""
        keys = self._touched_days
        for tenant_id, started_at, user_id in stored["session_days"]:
            rollups.collect(keys, tenant_id, started_at)
            self._touched_reps[tenant_id].add(user_id)
        for row in by_kind["session"].values():
            rollups.collect(keys, row["tenant_id"], row["started_at"])
            self._touched_reps[row["tenant_id"]].add(row["user_id"])
        scored_sessions = [row["session_id"] for row in by_kind["scorecard"].values()]
        for chunk in _chunks(scored_sessions):
            for tenant_id, started_at in Session.unscoped.filter(id__any_of=chunk).values_list(
                "tenant_id", "started_at"
            ):
                rollups.collect(keys, tenant_id, started_at)

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
            rollups.recompute(self._touched_days)
            rollups.recompute_spans(self._touched_reps)
        except DatabaseError as exc:
            self._error(self.result.lines, f"the database refused the rollups: {exc}".strip())

    def _upsert(
        self, kind: str, rows: list[dict[str, Any]], update_fields: list[str], stored_ids
    ) -> None:
        """Insert or update by id; ``update_fields`` are what a stored row takes from the line."""
        if not rows:
            return
        model = MODELS[kind]
        if kind in COPY_COLUMNS and connection.vendor == "postgresql":
            # Rows not stored yet (all of them, in a first import) go straight in with COPY: no
            # staging table, no conflict handling, the data written once.
            self._copy_new(model, [r for r in rows if r["id"] not in stored_ids])
            stored_rows = [r for r in rows if r["id"] in stored_ids]
            if stored_rows:
                self._copy_upsert(model, COPY_COLUMNS[kind], stored_rows, update_fields)
            return
        model._base_manager.bulk_create(
            [model(**row) for row in rows],
            update_conflicts=True,
            unique_fields=["id"],
            update_fields=update_fields,
        )

    def _copy_new(self, model, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: rows known not to be stored, COPY'd into their table.

        Should another import store one of these ids meanwhile, the unique key refuses the
        COPY and this import stops, writing nothing: never a silent overwrite.
        """
        if not rows:
            return
        with connection.cursor() as cursor:
            self._copy_rows(cursor.cursor, model._meta.db_table, model, rows)

    def _copy_upsert(
        self, model, columns: tuple[str, ...], rows: list[dict[str, Any]], update_fields
    ) -> None:
        """PostgreSQL: COPY the batch into a temporary table, then one INSERT ... ON CONFLICT.

        The same upsert as bulk_create's, without Django quoting every value (large JSON
        documents above all) into SQL text.
        """
        table = model._meta.db_table
        staging = f"import_staging_{table}"
        column_of = {f.name: f.column for f in model._meta.concrete_fields}
        updates = ", ".join(
            f"{column_of[name]} = EXCLUDED.{column_of[name]}" for name in update_fields
        )
        column_list = ", ".join(columns)
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor, for COPY
            raw.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            raw.execute(f"TRUNCATE {staging}")
            self._copy_rows(raw, staging, model, rows)
            raw.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging} "  # noqa: S608 - identifiers are ours
                f"ON CONFLICT (id) DO UPDATE SET {updates}"
            )

    @staticmethod
    def _copy_rows(raw_cursor, table: str, model, rows: list[dict[str, Any]]) -> None:
        fields = COPY_FIELDS[model]
        json_columns = {"transcript", "categories", "callouts"}
        with raw_cursor.copy(f"COPY {table} ({', '.join(fields)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [orjson.dumps(row[c]).decode() if c in json_columns else row[c] for c in fields]
                )

    def _check_awaiting_scorecards(self, *, final: bool) -> None:
        """Scored sessions must have a scorecard, in the file or already stored.

        Each is looked up among stored scorecards once, at the first flush after its line (the
        file's earlier batches are written by then). A scorecard in its own batch before it is
        known from the batch; one on a later line settles it in _accept. So a file with its
        scorecards far below its sessions costs one lookup per session, not one per batch.
        """
        ids = [i for i in self._unchecked_scored if i in self._awaiting_scorecard]
        self._unchecked_scored.clear()
        for chunk in _chunks(ids):
            for session_id in Scorecard.unscoped.filter(session_id__any_of=chunk).values_list(
                "session_id", flat=True
            ):
                self._awaiting_scorecard.pop(session_id, None)
        if final:
            for session_id, line in self._awaiting_scorecard.items():
                self._error(
                    line,
                    f"status: session {session_id} is scored but no scorecard for it "
                    "follows in the file or is stored",
                )
