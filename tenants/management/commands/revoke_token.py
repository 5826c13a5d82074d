from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.redis import shared_store
from tenants import tokens
from tenants.models import ApiToken
from tenants.services import TokenCachesStale, token_revoke
from tenants.tokens import VISIBLE_PREFIX_LENGTH


class Command(BaseCommand):
    help = "Revoke the API token with this visible prefix (e.g. rpt_AbCd1234); effective at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="the token's prefix as admin shows it, or the token")

    def handle(self, *args, **options) -> None:
        given = options["prefix"].strip()
        candidates = ApiToken.objects.select_related("tenant")
        if len(given) > VISIBLE_PREFIX_LENGTH:  # a whole token: that token, or none
            if not tokens.is_well_formed(given):
                raise CommandError(
                    "not a token: give the prefix as admin shows it (e.g. rpt_AbCd1234) or the "
                    "whole token"
                )
            candidates = candidates.filter(token_hash=tokens.hash_token(given))
            prefix = tokens.visible_prefix(given)
        else:
            prefix = given
            candidates = candidates.filter(prefix=prefix)
        matches = list(candidates[:2])
        if not matches:
            raise CommandError(f"no token with prefix {prefix!r}")
        if len(matches) > 1:
            raise CommandError(f"several tokens share prefix {prefix!r}; revoke it in admin")
        try:
            token = token_revoke(token=matches[0])
        except TokenCachesStale as stale:
            raise CommandError(
                f"{matches[0]} of tenant {matches[0].tenant.slug}: {stale}"
            ) from None
        self.stdout.write(f"Revoked {token} of tenant {token.tenant.slug} at {token.revoked_at}.")
        if not shared_store():
            self.stderr.write(
                "Warning: no REDIS_URL here, so servers that cache tokens were not told; they "
                f"refuse this token within {settings.API_TOKEN_CACHE_SECONDS} s. Run this with "
                "the servers' REDIS_URL to make it immediate."
            )
