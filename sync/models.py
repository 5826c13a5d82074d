from django.db import models
from django.db.models import Q

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager


class DeletionKind(models.TextChoices):
    SESSION = "session", "Session"
    SCORECARD = "scorecard", "Scorecard"
    SCENARIO = "scenario", "Scenario"
    USER = "user", "User"


class Deletion(models.Model):
    """A tombstone: a record of the tenant was deleted (GET /api/v1/deletions).

    Written by the services in the transaction that deletes the record, stamped like every
    change (sync/clock.py); forgotten when the same id is created again (its creation is then
    the newer change); pruned after DELETIONS_RETENTION_DAYS (manage.py prune_deletions).
    """

    Kind = DeletionKind

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    object = models.CharField(max_length=16, choices=DeletionKind.choices)
    object_id = models.UUIDField()
    deleted_at = models.DateTimeField()

    unscoped = models.Manager()
    objects = TenantScopedManager()

    class Meta:
        db_table = "tenants_deletion"  # its table since before sync held it
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"
        constraints = [
            # Led by (object, object_id): a re-created id's tombstone is found without its tenant.
            models.UniqueConstraint(
                fields=["object", "object_id", "tenant"], name="deletion_object_uniq"
            ),
            models.CheckConstraint(
                condition=Q(object__in=DeletionKind.values), name="deletion_object_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "deleted_at", "object_id"], name="deletion_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.object} {self.object_id} deleted {self.deleted_at:%Y-%m-%d %H:%M}"
