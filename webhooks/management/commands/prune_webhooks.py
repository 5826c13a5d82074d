from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from webhooks.services import prune


class Command(BaseCommand):
    help = (
        "Forget webhook events, deliveries and attempts older than WEBHOOK_RETENTION_DAYS "
        "(events still pending delivery are kept). Run daily, e.g. from cron."
    )

    def handle(self, *args, **options) -> None:
        before = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
        removed = prune(before=before)
        self.stdout.write(
            f"pruned {removed['events']} event(s), {removed['deliveries']} deliveries and "
            f"{removed['attempts']} attempt(s) older than {before:%Y-%m-%d %H:%M} UTC"
        )
