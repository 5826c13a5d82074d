import argparse
import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from importing.importer import MAX_REPORTED_ERRORS, Importer


@contextmanager
def bulk_load_gc() -> Iterator[None]:
    """Python's cycle collector, tuned for a bulk load while it runs.

    Parsed lines are trees of fresh dicts and lists without cycles (reference counting frees
    them), yet with default thresholds the collector walks them, and every module Django has
    loaded, a few times per batch: 13% of the import's wall time at 100k sessions. Objects from
    before the import are frozen out of its walks, and it runs every 100,000 allocations rather
    than every 700; it still runs, so any cycle made along the way is freed.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


class Command(BaseCommand):
    help = (
        "Import tenants, users, scenarios, sessions and scorecards from a JSON Lines file "
        "(docs/import-format.md). All or nothing: any bad line and nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the .jsonl file, or - for standard input")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate everything, write nothing"
        )
        parser.add_argument("--batch-size", type=int, default=2000, help=argparse.SUPPRESS)

    @contextmanager
    def _open(self, path: str) -> Iterator[BinaryIO]:
        if path == "-":
            yield sys.stdin.buffer
            return
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        with handle:
            yield handle

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        show_progress = self.stderr.isatty()

        def progress(lines: int) -> None:
            if show_progress:
                rate = lines / max(time.monotonic() - started, 1e-9)
                self.stderr.write(f"\r{lines:,} lines, {rate:,.0f} lines/s", ending="")

        def waiting() -> None:
            self.stderr.write("Another import is running; this one starts when it ends.")

        importer = Importer(
            batch_size=max(options["batch_size"], 1), progress=progress, on_wait=waiting
        )
        # Process-wide, so here in the command that owns the process, not in the Importer.
        with self._open(options["file"]) as handle, bulk_load_gc():
            try:
                result = importer.run(handle, dry_run=options["dry_run"])
            except DatabaseError as exc:
                # Outside the writes the importer reports per line (a lookup, the lock wait):
                # the transaction was rolled back as it left the importer.
                raise CommandError(
                    f"the database refused the import; nothing was imported: {exc}".strip()
                ) from exc
        if show_progress:
            self.stderr.write("")

        elapsed = time.monotonic() - started
        counts = ", ".join(_count(n, kind) for kind, n in result.records.items() if n)
        if not result.ok:
            shown = "\n".join(str(e) for e in result.errors)
            more = ""
            if result.error_count > len(result.errors):
                more = f"\n(first {MAX_REPORTED_ERRORS} of {result.error_count} errors shown)"
            raise CommandError(
                f"{result.error_count} bad line(s); nothing was imported.\n{shown}{more}"
            )
        verb = "Validated (dry run, nothing written)" if options["dry_run"] else "Imported"
        self.stdout.write(
            f"{verb} {counts or 'nothing'} from {_count(result.lines, 'line')} in {elapsed:.1f}s."
        )
        if result.token_caches_stale:
            # The import stands; only names, slugs and time zones in the servers' token caches
            # lag (an import changes no token and no tenant's is_active). A re-import would
            # change nothing, hence tell nothing: the entries simply expire.
            self.stderr.write(
                "Warning: a tenant was renamed (or its slug or time zone changed), but Redis did "
                "not answer, so the API servers were not told: each may go on showing the "
                "tenant's old name, slug and time zone (in logs too) for up to "
                f"{settings.API_TOKEN_CACHE_SECONDS} s."
            )
