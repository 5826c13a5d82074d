from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from scorecards.rules import scorecard_item_problems
from sessions_api.models import Session
from tenants.models import TenantOwned


class Verdict(models.TextChoices):
    CRUSHED_IT = "crushed_it", "Crushed it"
    SOLID = "solid", "Solid"
    NEEDS_WORK = "needs_work", "Needs work"
    MISSED_THE_MARK = "missed_the_mark", "Missed the mark"


class Scorecard(TenantOwned):
    Verdict = Verdict

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="scorecard")
    overall_score = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    headline = models.TextField()
    # [{"key", "label", "score": 0-100, "feedback"}]
    categories = models.JSONField(default=list, blank=True)
    # [{"kind": "strength" | "improvement", "text", "time": seconds | null}]
    callouts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    # When it last changed as the API shows it: stamped by the services (tenants/sync.py).
    updated_at = models.DateTimeField(editable=False)

    class Meta(TenantOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="scorecard_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(overall_score__gte=0) & Q(overall_score__lte=100),
                name="scorecard_score_range",
            ),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values),
                name="scorecard_verdict_valid",
            ),
        ]
        indexes = [
            # updated_since: oldest change first.
            models.Index(fields=["tenant", "updated_at", "id"], name="scorecard_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.overall_score} {self.verdict} ({self.id})"

    def clean(self) -> None:
        super().clean()
        problems = scorecard_item_problems(
            {"categories": self.categories, "callouts": self.callouts}
        )
        if problems:
            raise ValidationError(problems)
