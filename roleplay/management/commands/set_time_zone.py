import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from roleplay.services import tenant_save
from tenants.models import Tenant
from tenants.services import TokenCachesStale


class Command(BaseCommand):
    help = (
        "Set a tenant's time zone (an IANA name) and rebuild its breakdown rollups in that zone, "
        "in one transaction and without a web request's time limits: for a tenant of a million "
        "sessions that takes minutes, more than admin's request may run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("time_zone", help="an IANA time zone name, e.g. America/New_York")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {options['tenant']!r}")
        tenant.time_zone = options["time_zone"]
        try:
            tenant.full_clean()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.message_dict.get("time_zone", exc.messages))) from exc
        started = time.perf_counter()
        try:
            tenant_save(tenant=tenant)
        except TokenCachesStale as stale:  # saved; the servers' cached tokens may lag
            self.stderr.write(str(stale))
        self.stdout.write(
            f"{tenant.slug}: time zone {tenant.time_zone}; its rollups rebuilt in "
            f"{time.perf_counter() - started:.1f} s"
        )
