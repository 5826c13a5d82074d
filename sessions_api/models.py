from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from tenants.models import Rep, TenantOwned


class Scenario(TenantOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200)
    call_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="scenario_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(status__in=["active", "archived"]), name="scenario_status_valid"
            ),
        ]
        indexes = [
            # The list order: active first, then by name, then id.
            models.Index(fields=["tenant", "status", "name", "id"], name="scenario_list_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Session(TenantOwned):
    """One AI role-play call of a rep, with its transcript."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed (not scored yet)"
        SCORED = "scored", "Scored"
        ABANDONED = "abandoned", "Abandoned"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(Rep, on_delete=models.PROTECT, related_name="sessions")
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="sessions")
    status = models.CharField(max_length=16, choices=Status.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    # A list of {"role": "agent" | "user", "message": str, "time": seconds}, in spoken order.
    transcript = models.JSONField(default=list, blank=True)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="session_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(
                    status__in=["in_progress", "completed", "scored", "abandoned", "failed"]
                ),
                name="session_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__isnull=True) | Q(duration_seconds__gte=0),
                name="session_duration_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ends_after_start",
            ),
        ]
        # Each serves one form of GET /sessions: newest first, ties by id, optionally filtered.
        indexes = [
            models.Index("tenant", F("started_at").desc(), F("id").desc(), name="session_list_idx"),
            models.Index(
                "tenant", "user", F("started_at").desc(), F("id").desc(), name="session_user_idx"
            ),
            models.Index(
                "tenant",
                "scenario",
                F("started_at").desc(),
                F("id").desc(),
                name="session_scenario_idx",
            ),
            models.Index(
                "tenant",
                "status",
                F("started_at").desc(),
                F("id").desc(),
                name="session_status_idx",
            ),
            # The summary's unique_reps under a scenario filter: one index probe per rep.
            models.Index(
                "tenant", "scenario", "user", "started_at", name="session_scenario_user_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status} ({self.id})"

    def save(self, *args, **kwargs) -> None:
        if self.created_at is None:  # as in the import format: a session's is its started_at
            self.created_at = self.started_at
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """A session has a scorecard exactly when it is scored (shared/api-v1.md). Adding or
        removing the scorecard sets the status (scorecards.signals); here it cannot drift."""
        super().clean()
        has_scorecard = self.pk is not None and hasattr(self, "scorecard")
        if self.status == self.Status.SCORED and not has_scorecard:
            raise ValidationError(
                {"status": "Only a session with a scorecard is scored: adding one scores it."}
            )
        if self.status != self.Status.SCORED and has_scorecard:
            raise ValidationError({"status": "This session has a scorecard, so it is scored."})
