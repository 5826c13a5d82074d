from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webhooks.models import WebhookEndpoint
from webhooks.services import deliveries_resend


class Command(BaseCommand):
    help = (
        "Re-send an endpoint's events since a time, each with its original webhook-id (for a "
        "receiver that lost its data); --failed-only: only those whose delivery failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", required=True, help="the endpoint's id")
        parser.add_argument("--since", required=True, help="ISO 8601, e.g. 2026-12-01T00:00:00Z")
        parser.add_argument("--failed-only", action="store_true")

    def handle(self, *args, **options) -> None:
        try:
            since = datetime.fromisoformat(options["since"])
        except ValueError as exc:
            raise CommandError(f"--since is not ISO 8601: {exc}") from exc
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        try:
            endpoint = WebhookEndpoint.unscoped.filter(pk=options["endpoint"]).first()
        except ValidationError:
            endpoint = None
        if endpoint is None:
            raise CommandError(f"unknown endpoint {options['endpoint']!r}")
        if not endpoint.enabled:
            raise CommandError(
                f"endpoint {endpoint.pk} is disabled ({endpoint.disabled_reason or 'by hand'}): "
                "enable it first (admin)"
            )
        count = deliveries_resend(
            endpoint=endpoint, since=since, failed_only=options["failed_only"]
        )
        self.stdout.write(f"{count} event(s) queued for {endpoint.url}")
