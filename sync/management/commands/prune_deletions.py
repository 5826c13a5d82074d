"""``manage.py prune_deletions``: forget deletions older than DELETIONS_RETENTION_DAYS.

Run it daily (cron, a scheduled job). A sync asking for older deletions is answered 410
``resync_required`` whether or not they were pruned yet: the retention is the promise.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from sync.services import deletions_prune


class Command(BaseCommand):
    help = "Delete the tombstones of GET /api/v1/deletions older than DELETIONS_RETENTION_DAYS."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days instead of DELETIONS_RETENTION_DAYS (at least 1).",
        )

    def handle(self, *args, **options) -> None:
        days = options["days"] if options["days"] is not None else settings.DELETIONS_RETENTION_DAYS
        if days < 1:
            self.stderr.write("--days must be at least 1")
            raise SystemExit(2)
        removed = deletions_prune(before=timezone.now() - timedelta(days=days))
        self.stdout.write(f"pruned {removed} deletions older than {days} days")
