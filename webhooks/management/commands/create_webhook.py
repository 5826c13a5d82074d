from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Tenant
from webhooks.models import EVENT_TYPES
from webhooks.services import endpoint_create


class Command(BaseCommand):
    help = (
        "Subscribe a URL to a tenant's events. Prints the endpoint's id on the first line and "
        "its signing secret on the last (it is never shown again). "
        f"Event types: {', '.join(EVENT_TYPES)} (default: all)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--url", required=True, help="https://... (the receiver)")
        parser.add_argument("--events", default="", help="comma-separated types (default: all)")
        parser.add_argument("--description", default="", help="what receives them")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"unknown tenant {options['tenant']!r}")
        try:
            endpoint, secret = endpoint_create(
                tenant_id=tenant.pk,
                url=options["url"].strip(),
                event_types=options["events"].split(","),
                description=options["description"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(str(endpoint.pk))
        self.stdout.write(secret)
