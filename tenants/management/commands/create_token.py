from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import ApiToken, Tenant
from tenants.scopes import ALL_SCOPES, parse_scopes
from tenants.services import TokenCachesStale, token_bulk_revoke, token_create


class Command(BaseCommand):
    help = (
        "Create an API token and print the raw token alone on stdout (it is never shown again). "
        f"Scopes: {', '.join(ALL_SCOPES)}, or 'all'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--name", required=True, help="what uses the token, e.g. 'Looker'")
        parser.add_argument("--scopes", required=True, help="comma-separated, or 'all'")
        parser.add_argument("--expires-at", help="ISO 8601, e.g. 2027-01-01T00:00:00Z")
        parser.add_argument("--rate-limit", type=int, help="requests per minute (default: site)")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="revoke the tenant's other live tokens of this name first (bin/demo's own)",
        )

    def handle(self, *args, **options) -> None:
        try:
            scopes = parse_scopes(options["scopes"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"unknown tenant {options['tenant']!r}")
        if not options["name"].strip():
            raise CommandError("--name must not be blank")
        expires_at = None
        if options["expires_at"]:
            try:
                expires_at = datetime.fromisoformat(options["expires_at"])
            except ValueError as exc:
                raise CommandError(f"--expires-at is not ISO 8601: {exc}") from exc
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            try:
                expires_at = expires_at.astimezone(UTC)
            except OverflowError:
                raise CommandError(
                    "--expires-at must fall between years 1 and 9999 in UTC"
                ) from None
        stale = None
        if options["replace"]:
            try:
                token_bulk_revoke(
                    tokens=ApiToken.objects.filter(tenant=tenant, name=options["name"].strip())
                )
            except TokenCachesStale as exc:
                stale = exc  # revoked in the database: the new token is still made and shown
        try:
            _token, raw = token_create(
                tenant=tenant,
                name=options["name"].strip(),
                scopes=scopes,
                expires_at=expires_at,
                rate_limit_per_minute=options["rate_limit"],
            )
        except ValidationError as exc:
            options_of = {"rate_limit_per_minute": "rate-limit", "expires_at": "expires-at"}
            raise CommandError(
                "; ".join(
                    f"--{options_of.get(field, field)}: {' '.join(messages)}"
                    for field, messages in exc.message_dict.items()
                )
            ) from None
        self.stdout.write(raw)
        if stale is not None:
            # The token above is the only copy: printed first, then the revocation's failure.
            raise CommandError(
                f"the new token is made and printed above, but revoking the old: {stale}"
            )
