import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from core import zones

from . import tokens
from .scoping import TenantScopedManager

DEFAULT_TIME_ZONE = "UTC"
TIME_ZONE_EXAMPLE = "America/New_York"


time_zone_names = zones.names


def is_time_zone(value: object) -> bool:
    """An IANA name zoneinfo loads (exactly as spelled: ``america/new_york`` is not one)."""
    try:
        zones.zone(value)  # type: ignore[arg-type]
    except KeyError:
        return False
    return True


def validate_time_zone(value: object) -> None:
    if not is_time_zone(value):
        raise ValidationError(
            f"Unknown time zone: use an IANA name such as {TIME_ZONE_EXAMPLE} or UTC.",
            code="invalid_time_zone",
        )


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text=f"An IANA time zone name, such as {TIME_ZONE_EXAMPLE} or UTC.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class TenantOwned(models.Model):
    """A row that belongs to exactly one tenant.

    ``(tenant, id)`` is unique so that other tenant-owned rows can point at it with a composite
    foreign key (added in SQL on PostgreSQL): the database itself then refuses a reference that
    crosses tenants.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every tenant-owned table has composite indexes led by tenant_id.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)

    # Listed first, so it is the default manager: admin and operators' tools see all tenants.
    unscoped = models.Manager()
    objects = TenantScopedManager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"

    def clean(self) -> None:
        """Every row it points at is of its own tenant: what PostgreSQL's composite keys refuse
        (as an error page in admin), and what SQLite would store."""
        super().clean()
        errors = {}
        for field in self._meta.concrete_fields:
            if not field.is_relation or not issubclass(field.related_model, TenantOwned):
                continue
            if self.tenant_id is None or getattr(self, field.attname) is None:
                continue
            if getattr(self, field.name).tenant_id != self.tenant_id:
                errors[field.name] = "It belongs to another tenant."
        if errors:
            raise ValidationError(errors)


MAX_RATE_LIMIT_PER_MINUTE = 1_000_000  # a thousand times the default: "unlimited" in practice


class ApiToken(models.Model):
    """A Bearer token of one tenant. The raw value is shown once, at creation; only its hash is
    kept. Revocation, expiry and the tenant's deactivation all take effect on the next request.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200, help_text="Who or what uses it, e.g. 'Looker prod'.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    last_four = models.CharField(max_length=4, editable=False)
    scopes = models.JSONField(default=list)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RATE_LIMIT_PER_MINUTE)],
        help_text="Requests per minute; empty means the default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…{self.last_four})"

    def clean(self) -> None:
        super().clean()
        adding = self._state.adding
        if adding and self.expires_at is not None and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": "A new token must expire in the future."})

    def set_raw_token(self, raw: str) -> None:
        self.token_hash = tokens.hash_token(raw)
        self.prefix = tokens.visible_prefix(raw)
        self.last_four = raw[-4:]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
