"""Webhooks: a tenant's endpoints, the events its writes recorded, and each event's delivery to
each endpoint with every attempt (docs/webhooks.md).

An event is written by the write that it tells of, in that write's transaction
(webhooks/services.py, ``events_record``): the outbox. A delivery is the queue's unit of work:
the worker claims due deliveries with ``FOR UPDATE SKIP LOCKED`` and holds the claim through the
POST, so a worker that dies mid-delivery leaves its claims to the next (webhooks/delivery.py).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from tenants.models import Tenant
from tenants.scoping import TenantScopedManager

OBJECTS = ("session", "scorecard", "scenario", "user")
ACTIONS = ("created", "updated", "deleted")
EVENT_TYPES = tuple(f"{obj}.{action}" for obj in OBJECTS for action in ACTIONS)


class WebhookEndpoint(models.Model):
    """A customer's HTTPS URL subscribed to some or all of its tenant's event types."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    # Empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    description = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True, default="")
    # ``whsec_`` + base64 of 32 random bytes (Standard Webhooks); the previous one stays valid
    # (both signatures sent) until ``previous_secret_expires_at`` after a rotation.
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantScopedManager()

    class Meta:
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"
        indexes = [models.Index(fields=["tenant", "enabled"], name="whendpoint_tenant_idx")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """One change told once: ``data`` is the object as the API renders it (its final state in
    the transaction that changed it), or the /deletions entry of a deleted one. ``id`` is the
    ``webhook-id`` of every delivery of it, retries and replays included."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by whevent_tenant_time_idx, which it leads.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    type = models.CharField(max_length=32)
    object = models.CharField(max_length=16)
    object_id = models.UUIDField()
    # JSON text, embedded in the body as it is; null only inside the recording transaction,
    # until the write renders it (webhooks/services.py, events_render).
    data = models.TextField(null=True)  # noqa: DJ001 - null: not rendered yet, not ""
    created_at = models.DateTimeField()
    # The transaction that recorded it: a second change of the object in the same transaction
    # updates this event instead of adding one (webhooks/services.py).
    txn = models.BigIntegerField()

    unscoped = models.Manager()
    objects = TenantScopedManager()

    class Meta:
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(
                fields=["txn", "object", "object_id"], name="whevent_txn_object_uniq"
            ),
        ]
        indexes = [
            # Re-sends since a time. Pruning, daily, reads the table whole: an index more would
            # be written by every import for it.
            models.Index(fields=["tenant", "created_at"], name="whevent_tenant_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """An event owed to one endpoint: pending until a 2xx, retried on the schedule, failed when
    the schedule is spent (or the endpoint is disabled)."""

    Status = DeliveryStatus

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    # Indexed by whdelivery_uniq, which it leads.
    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Failures since the last success or re-send: where in the retry schedule it is.
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # Led by the event: also what finds an event's deliveries (its admin page, the
            # cascade when it is pruned), with no index more for every import to write.
            models.UniqueConstraint(fields=["event", "endpoint"], name="whdelivery_uniq"),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="whdelivery_status_valid"
            ),
        ]
        indexes = [
            # The worker's claim: an endpoint's due deliveries, oldest due first, read in the
            # index's order (with the id, the claim's tiebreak) so that a claim of 32 reads 32
            # rows, not the whole backlog sorted.
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="whdelivery_due_idx",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id}: {self.status}"


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", "2xx"
    HTTP_ERROR = "http_error", "Answered, not 2xx"
    TIMEOUT = "timeout", "Timed out"
    REFUSED = "refused", "Address refused"
    CONNECTION_ERROR = "connection_error", "No connection"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what came back, or why nothing did."""

    Outcome = AttemptOutcome

    # Both indexed by the indexes below, which they lead.
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    response = models.TextField(blank=True, default="")  # the first 1 KB of the answer
    error = models.TextField(blank=True, default="")
    ok = models.BooleanField()
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "-at"], name="whattempt_endpoint_idx"),
            models.Index(fields=["delivery", "-at"], name="whattempt_delivery_idx"),
            models.Index(fields=["at"], name="whattempt_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"
