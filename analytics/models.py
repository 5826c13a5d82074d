"""Daily rollups behind GET /analytics/summary, kept exact by whoever writes sessions.

The summary over a year of a large tenant would otherwise aggregate hundreds of thousands of
sessions per request. Whole UTC days come from these rows; the partial days at either end of
the period come from the sessions themselves, so the figures are always exactly those of the
plain aggregate (a property test holds the two together). unique_reps does not add up over
days: it comes from each rep's first and last session (RepSpan), probing only reps whose
sessions span the whole period. Writers recompute the rows of every
(tenant, day) they touch: the importer once per import, signals for ORM saves such as admin edits
(analytics/signals.py). Bulk SQL that bypasses both must call ``rollups.recompute`` and
``rollups.recompute_spans`` itself.
"""

from django.db import models

from sessions_api.models import Scenario
from tenants.models import Rep, Tenant


class TenantDay(models.Model):
    """All sessions of one tenant that started on one UTC day."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sessions = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()
    score_total = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="tenantday_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.sessions} sessions"


class ScenarioDay(models.Model):
    """Sessions of one scenario that started on one UTC day: serves the scenario filter."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sessions = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()
    score_total = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "scenario", "day"], name="scenarioday_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scenario_id}: {self.sessions} sessions"


class RepSpan(models.Model):
    """The first and last session of each rep who has any.

    unique_reps counts reps with a session in the period. A rep whose first or last session
    falls inside it is active, one whose sessions all lie outside it is not: only reps whose
    sessions span the whole period need their sessions probed. For a period that ends at the
    newest data (a dashboard's "last 12 months") that is nobody.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="+")
    first_started_at = models.DateTimeField()
    last_started_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="repspan_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.first_started_at} to {self.last_started_at}"
